"""Every error as JSON ``{code, status, message, errors?}``: never HTML, never a traceback."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from http import HTTPStatus
from typing import Any, NoReturn

from flask_smorest import Api, abort
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

MAX_MESSAGE_LENGTH = 500
# A body with 200,000 unknown keys must not get a 200,000-entry answer.
MAX_ERROR_FIELDS = 20
MAX_ERROR_MESSAGES = 5
MAX_ERROR_TEXT = 300


def _flatten(errors: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """``{"json": {"port": ["Not a valid integer."]}}`` -> ``("port", "Not a valid integer.")``."""
    if isinstance(errors, Mapping):
        for key, value in errors.items():
            # webargs nests by location ("json", "query", "path"); the field name is what people need.
            name = "" if key in {"json", "query", "path", "headers", "form"} and not path else str(key)
            yield from _flatten(value, f"{path}.{name}" if path and name else (name or path))
    elif isinstance(errors, list | tuple):
        for item in errors:
            yield from _flatten(item, path)
    else:
        yield path, str(errors)


def describe_errors(errors: Any) -> str:
    """One readable line naming each invalid field and what is wrong with it."""
    parts = [
        f"{path}: {message}" if path and path != "_schema" else message for path, message in _flatten(errors)
    ]
    text = "; ".join(parts) or "invalid request"
    return text if len(text) <= MAX_MESSAGE_LENGTH else text[: MAX_MESSAGE_LENGTH - 1] + "…"


def cap_errors(errors: Any) -> Any:
    """The first fields and messages of a (nested) marshmallow error structure, each text shortened."""
    if isinstance(errors, Mapping):
        kept = list(errors.items())[:MAX_ERROR_FIELDS]
        return {str(key)[:MAX_ERROR_TEXT]: cap_errors(value) for key, value in kept}
    if isinstance(errors, list | tuple):
        return [cap_errors(item) for item in errors[:MAX_ERROR_MESSAGES]]
    text = str(errors)
    return text if len(text) <= MAX_ERROR_TEXT else text[: MAX_ERROR_TEXT - 1] + "…"


def error_body(code: int, message: str) -> bytes:
    """The JSON error of an answer the server gives before Flask sees the request (408, 413, 400)."""
    return json.dumps({"code": code, "status": HTTPStatus(code).phrase, "message": message}).encode()


def fail(code: int, message: str, **extra: Any) -> NoReturn:
    """Abort the request with a JSON error (``abort`` typed as never returning); ``extra`` may
    carry ``errors`` (field -> messages) and ``headers`` (e.g. WWW-Authenticate, Retry-After)."""
    abort(code, message=message, **extra)
    raise AssertionError("abort() returned")


def fail_invalid(messages: Any, location: str = "json") -> NoReturn:
    """422 for a marshmallow ``ValidationError.messages`` found after webargs' own checks."""
    fail(422, describe_errors(messages), errors={location: messages})


class NetRavenApi(Api):  # type: ignore[misc]
    """flask-smorest's Api whose error payloads always carry a message, and 500s stay JSON."""

    def _register_error_handlers(self) -> None:
        super()._register_error_handlers()
        self._app.register_error_handler(Exception, self.handle_unexpected_exception)

    def handle_http_exception(self, error: HTTPException) -> tuple[dict[str, Any], int, dict[str, str]]:
        payload, code, headers = super().handle_http_exception(error)
        if "errors" in payload:
            payload["errors"] = cap_errors(payload["errors"])
        # e.g. Allow on 405 and WWW-Authenticate on 401 (flask-smorest drops the exception's own).
        headers = {
            **{key: value for key, value in error.get_headers() if key.lower() != "content-type"},
            **(headers or {}),
        }
        if "message" not in payload:
            if "errors" in payload:
                payload["message"] = describe_errors(payload["errors"])
            elif code == 500:
                payload["message"] = "internal error; the server log has the details"
            else:
                payload["message"] = error.description or error.name
        return payload, code, headers

    def handle_unexpected_exception(self, error: Exception) -> tuple[dict[str, Any], int, dict[str, str]]:
        if isinstance(error, HTTPException):  # reached only if Flask routes one here
            return self.handle_http_exception(error)
        log.exception("unhandled error in an API request")
        return self.handle_http_exception(InternalServerError())
