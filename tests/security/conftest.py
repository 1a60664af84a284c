"""The security tests use the API fixtures (client, users with tokens, inserted job logs)."""

from tests.api.conftest import ApiUser, Users, app, client, insert_job_logs, make_api_user, users

__all__ = ["ApiUser", "Users", "app", "client", "insert_job_logs", "make_api_user", "users"]
