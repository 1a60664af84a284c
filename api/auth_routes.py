"""``POST /auth/token``: exchange a username and password for a bearer JWT."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.audit import record_sign_in
from api.context import current_settings, db_session
from api.errors import fail
from api.json_body import Blueprint
from api.security import errors
from netraven_tasks.auth import hash_password, issue_token, verify_password
from netraven_tasks.input_schema import InputSchema
from netraven_tasks.users import find_user

# A token is a credential: no browser or proxy cache may keep a copy.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

blp = Blueprint("auth", __name__, url_prefix="/auth", description="Bearer tokens")

# Compared against when the user does not exist, so a wrong name costs as much time as a wrong password.
_DUMMY_HASH = hash_password("netraven-dummy-password")


class CredentialsSchema(InputSchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=150))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class TokenSchema(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})


@blp.route("/token")
class Token(MethodView):
    @blp.doc(security=[])
    @blp.arguments(CredentialsSchema)
    @blp.response(200, TokenSchema)
    @errors(blp, 401, 429)
    def post(self, credentials: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Log in: a bearer token for ``Authorization: Bearer …``."""
        settings = current_settings()
        user = find_user(db_session(), credentials["username"])
        password_ok = verify_password(user.password_hash if user else _DUMMY_HASH, credentials["password"])
        if user is None or not password_ok or not user.active:
            reason = (
                "unknown user" if user is None else "wrong password" if not password_ok else "deactivated"
            )
            record_sign_in(credentials["username"], user.id if user else None, False, reason)
            fail(401, "wrong username or password, or the user is deactivated")
        record_sign_in(user.username, user.id, True)
        body = {
            "access_token": issue_token(user, settings),
            "token_type": "bearer",
            "expires_in": settings.token_ttl_seconds,
        }
        return body, 200, NO_STORE
