"""Device host names as job arguments: a hostname or an IP address, never path syntax."""

from __future__ import annotations

import re

from marshmallow import ValidationError

_HOST = re.compile(r"^[A-Za-z0-9_.:\-\[\]]{1,253}$")


def validate_host(value: str) -> None:
    """Refuse what could act as a path or an option: ``.``, ``..``, slashes, leading dots or dashes."""
    if not _HOST.match(value):
        raise ValidationError("host must be a hostname or IP address (letters, digits, - _ . : [ ])")
    if value.startswith((".", "-")) or ".." in value or value.endswith("."):
        raise ValidationError("host must not start with '.' or '-', end with '.', or contain '..'")
