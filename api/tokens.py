"""``GET|POST /users/me/tokens`` and ``DELETE /users/me/tokens/{id}``: personal access tokens.

A user makes and revokes their own tokens; an admin lists and revokes anyone's (``/users/{id}/
tokens``) but makes tokens only for themself. The secret is in the answer to the POST only.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from api.auth_routes import NO_STORE
from api.context import db_session
from api.errors import fail
from api.json_body import Blueprint
from api.security import current_caller, errors, protect, target_user
from netraven_tasks.access.models import PersonalAccessToken
from netraven_tasks.access.tokens import (
    MAX_DAYS,
    AccessTokenError,
    create_access_token,
    revoke_access_token,
    token_state,
)
from netraven_tasks.input_schema import InputSchema

blp = protect(Blueprint("tokens", __name__, url_prefix="/users", description="Personal access tokens"))

MAX_TOKEN_ID = 2**31 - 1


class NewTokenSchema(InputSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    expires_in_days = fields.Integer(load_default=90, validate=validate.Range(min=1, max=MAX_DAYS))


class AccessTokenSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    prefix = fields.String(
        required=True, attribute="shown_prefix", metadata={"description": "the token's first characters"}
    )
    created_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(required=True)
    last_used_at = fields.DateTime(allow_none=True, metadata={"description": "to the minute"})
    revoked_at = fields.DateTime(allow_none=True)
    state = fields.Function(token_state, metadata={"description": "active, expired or revoked"})


class CreatedTokenSchema(AccessTokenSchema):
    token = fields.String(required=True, metadata={"description": "the secret: shown this once only"})


def _tokens_of(user_id: int) -> list[PersonalAccessToken]:
    query = select(PersonalAccessToken).where(PersonalAccessToken.user_id == user_id)
    return list(db_session().scalars(query.order_by(PersonalAccessToken.id.desc())))


@blp.route("/<string:user_id>/tokens")
class AccessTokens(MethodView):
    @blp.response(200, AccessTokenSchema(many=True))
    @errors(blp, 401, 403, 404)
    def get(self, user_id: str) -> list[PersonalAccessToken]:
        """The tokens of a user (``me``: the caller's), newest first, revoked and expired ones too."""
        return _tokens_of(target_user(user_id, "access tokens").id)

    @blp.arguments(NewTokenSchema)
    @blp.response(201, CreatedTokenSchema)
    @errors(blp, 401, 403, 404, 422)
    def post(self, body: dict[str, Any], user_id: str) -> tuple[SimpleNamespace, int, dict[str, str]]:
        """Make a token: its secret is in this answer only, and it works until it expires or is revoked."""
        user = target_user(user_id, "access tokens")
        if user.id != current_caller().id:
            fail(403, "tokens are made by their own user")
        session = db_session()
        try:
            made = create_access_token(session, user, body["name"], body["expires_in_days"])
        except AccessTokenError as error:
            fail(422, f"{error.field}: {error}", errors={"json": {error.field: [str(error)]}})
        session.commit()
        columns = {column.key: getattr(made.row, column.key) for column in PersonalAccessToken.__table__.c}
        return SimpleNamespace(**columns, token=made.secret), 201, NO_STORE


@blp.route("/<string:user_id>/tokens/<int:token_id>")
class AccessToken(MethodView):
    @blp.response(204)
    @errors(blp, 401, 403, 404)
    def delete(self, user_id: str, token_id: int) -> None:
        """Revoke a token: the next request with it gets 401."""
        user = target_user(user_id, "access tokens")
        session = db_session()
        token = session.get(PersonalAccessToken, token_id) if 0 < token_id <= MAX_TOKEN_ID else None
        if token is None or token.user_id != user.id:
            fail(404, f"no token {token_id} of user {user.id}")
        revoke_access_token(session, token)
        session.commit()
