"""What every command module of the CLI shares: the user-facing error, ``--arg`` parsing."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.engine import make_url


class CommandError(Exception):
    """Shown to the user as 'error: …' with exit status 2."""


def parse_arg(pair: str) -> tuple[str, Any]:
    """``--arg KEY=VALUE``: VALUE as JSON if it parses, else the string."""
    key, sep, raw = pair.partition("=")
    if not sep or not key:
        raise CommandError(f"--arg takes KEY=VALUE, got {pair!r}")
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    return key, value


def redact(url: str) -> str:
    """A database URL fit for the terminal: no password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url
