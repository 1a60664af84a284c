"""Per-request context: the settings of the app and one database session per request."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from netraven_tasks.db import session_factory
from netraven_tasks.settings import Settings

SETTINGS_KEY = "netraven_settings"


def current_settings() -> Settings:
    settings: Settings = current_app.extensions[SETTINGS_KEY]
    return settings


def db_session() -> Session:
    """The session of this request (a unit of work): opened on first use, closed at teardown."""
    session: Session | None = g.get("netraven_db_session")
    if session is None:
        session = g.netraven_db_session = session_factory(current_settings())()
    return session


def _close_session(_error: BaseException | None) -> None:
    session: Session | None = g.pop("netraven_db_session", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close_session)
