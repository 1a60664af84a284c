"""The launcher owns its row: queued before the message leaves, never a phantom when a side fails."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from celery import signals

from netraven_tasks.jobs.launch import LaunchUnavailable, launch_job
from netraven_tasks.models import JobLog
from netraven_tasks.tracking.headers import JOB_LOG_HEADER, OWNER_HEADER
from tests.conftest import free_port

pytestmark = pytest.mark.usefixtures("clean_db")


@pytest.fixture
def published() -> Any:
    """Every message this process publishes: (task name, headers)."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def capture(sender: str | None = None, headers: dict[str, Any] | None = None, **_: Any) -> None:
        seen.append((sender or "", dict(headers or {})))

    signals.before_task_publish.connect(capture, weak=False)
    yield seen
    signals.before_task_publish.disconnect(capture)


def rows(db_session) -> list[tuple[str, str, str | None]]:  # type: ignore[no-untyped-def]
    db_session.expire_all()
    return [(j.task_id, j.status, j.error_type) for j in db_session.scalars(sa.select(JobLog))]


def test_queued_row_exists_before_publish_and_its_id_travels_in_the_headers(
    settings, db_session, published, worker, wait_for_job
):
    at_publish: list[str | None] = []

    def look(headers: dict[str, Any] | None = None, **_: Any) -> None:
        with db_session.bind.connect() as connection:
            at_publish.append(
                connection.scalar(sa.select(JobLog.status).where(JobLog.task_id == (headers or {}).get("id")))
            )

    signals.before_task_publish.connect(look, weak=False)
    try:
        launched = launch_job(settings, "reachability_check", {"host": "127.0.0.1", "port": 1}, None)
    finally:
        signals.before_task_publish.disconnect(look)
    assert at_publish == ["queued"], "the row is committed before the message leaves"
    [(_name, headers)] = [(n, h) for n, h in published if n.startswith("netraven.jobs.")]
    assert headers[JOB_LOG_HEADER] == launched.job_log_id and OWNER_HEADER not in headers
    assert launched.status == "queued"
    assert wait_for_job(launched.job_log_id).status in {"completed", "failed"}


def test_broker_down_fails_the_row_and_raises_unavailable(settings, db_session, dead_broker):
    with pytest.raises(LaunchUnavailable) as raised:
        launch_job(settings, "reachability_check", {"host": "127.0.0.1"}, None)
    assert "broker is unavailable" in str(raised.value) and raised.value.retry_after > 0
    [(_task_id, status, error_type)] = rows(db_session)
    assert (status, error_type) == ("failed", "PublishError"), "no phantom queued row"
    assert raised.value.job_log_id is not None


def test_database_down_publishes_nothing(settings, db_session, published):
    down = settings.model_copy(
        update={"database_url": f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/x"}
    )
    with pytest.raises(LaunchUnavailable) as raised:
        launch_job(down, "reachability_check", {"host": "127.0.0.1"}, None)
    assert "database is unavailable" in str(raised.value)
    assert published == [], "nothing is published without its row"
    assert rows(db_session) == []


def test_api_answers_503_json_with_retry_after_when_the_broker_is_down(settings, db_session, dead_broker):
    from api import create_app
    from netraven_tasks.auth import issue_token
    from netraven_tasks.users import create_user

    user = create_user(db_session, "launcher", email="launcher@example.test")
    db_session.commit()
    token = issue_token(user, settings)
    client = create_app(settings).test_client()
    response = client.post(
        "/jobs/reachability_check/runs",
        json={"host": "127.0.0.1"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    body = response.get_json()
    assert body["code"] == 503 and "broker is unavailable" in body["message"]
    assert [(status, error) for _, status, error in rows(db_session)] == [("failed", "PublishError")]
