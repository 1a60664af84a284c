"""Engines and sessions: one engine per process (recreated after fork), sessions per unit of work."""

from __future__ import annotations

import math
import os
import sqlite3
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from netraven_tasks.private_files import ensure_private_sqlite
from netraven_tasks.settings import Settings

_engines: dict[tuple[int, str], Engine] = {}


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while a worker writes; busy_timeout waits instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    _ensure_math_functions(dbapi_connection)


def _ensure_math_functions(dbapi_connection) -> None:  # type: ignore[no-untyped-def]
    """The rollups' duration histogram uses ln() and floor(): built into SQLite 3.35+ when compiled
    with its math functions; a build without them gets Python's."""
    try:
        dbapi_connection.execute("SELECT ln(1.0), floor(1.5)")
    except sqlite3.OperationalError:
        dbapi_connection.create_function("ln", 1, math.log, deterministic=True)
        dbapi_connection.create_function("floor", 1, math.floor, deterministic=True)


def make_engine(url: str, pooled: bool = True) -> Engine:
    """The engine of ``url``; ``pooled=False`` (migrations) opens a connection per use."""
    if url.startswith("sqlite"):
        ensure_private_sqlite(url)  # 0600, and so its WAL and SHM files (password hashes live here)
        options: dict[str, Any] = {} if pooled else {"poolclass": NullPool}
        engine = create_engine(url, connect_args={"timeout": 30}, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if not pooled:
        return create_engine(url, poolclass=NullPool)
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def get_engine(settings: Settings) -> Engine:
    """The engine of this process; a forked child gets its own (connections must not cross fork)."""
    key = (os.getpid(), settings.database_url)
    engine = _engines.get(key)
    if engine is None:
        engine = _engines[key] = make_engine(settings.database_url)
    return engine


def session_factory(settings: Settings) -> sessionmaker[Session]:
    return sessionmaker(get_engine(settings), expire_on_commit=False)


def dispose_engines() -> None:
    """Forget engines inherited across fork without closing the parent's connections."""
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()


def insert(where: Session | Connection, table: Table | type[Any]) -> postgresql.Insert | sqlite.Insert:
    """An INSERT in the dialect of ``where``'s database, so ``on_conflict_do_*`` is available:
    PostgreSQL's on PostgreSQL, SQLite's otherwise (the two databases this code runs on)."""
    bind = where.get_bind() if isinstance(where, Session) else where
    if bind.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
