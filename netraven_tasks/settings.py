"""Settings: every ``NETRAVEN_*`` environment variable, read once into one object.

Nothing else in the code base reads ``os.environ``; code receives a ``Settings``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

PREFIX = "NETRAVEN_"

T = TypeVar("T")


class SettingsError(ValueError):
    """A NETRAVEN_* variable has a value we cannot use; the message names it and the fix."""


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), got {raw!r}")


def _int_parser(low: int, high: int) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
        if not low <= value <= high:
            raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
        return value

    return parse


def _float_parser(low: float, high: float) -> Callable[[str, str], float]:
    def parse(name: str, raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise SettingsError(f"{name} must be a number, got {raw!r}") from None
        if not low <= value <= high:
            raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
        return value

    return parse


def _url_parser(*schemes: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip()
        scheme = urlsplit(value).scheme
        if not any(scheme == s or scheme.startswith(s + "+") for s in schemes):
            allowed = ", ".join(f"{s}://" for s in schemes)
            raise SettingsError(f"{name} must be a URL starting with one of {allowed}; got {raw!r}")
        return value

    return parse


def _str(name: str, raw: str) -> str:
    return raw


def _module_list(name: str, raw: str) -> tuple[str, ...]:
    modules = tuple(part.strip() for part in raw.split(",") if part.strip())
    for module in modules:
        if not all(piece.isidentifier() for piece in module.split(".")):
            raise SettingsError(f"{name} must be comma-separated Python module names, got {module!r}")
    return modules


@dataclass(frozen=True)
class Settings:
    """The whole configuration of one process."""

    var_dir: Path
    database_url: str
    broker_url: str
    smtp_url: str | None
    mail_from: str
    maildir: Path
    secret_key: str
    digest_hour: int
    public_url: str
    token_ttl_seconds: int
    allow_private_webhooks: bool
    job_modules: tuple[str, ...]
    reaper_grace_seconds: float
    log_format: str
    flower_basic_auth: str | None = field(default=None, repr=False)
    metrics_token: str | None = field(default=None, repr=False)  # operations: optional /metrics bearer
    ssh_username: str | None = None
    ssh_password: str | None = field(default=None, repr=False)
    ssh_key_file: str | None = None
    ssh_known_hosts: str | None = None
    ssh_port: int = 22
    tracking: str = "auto"
    recorder_in_worker: bool = True
    templates_dir: Path | None = None  # notifications: operator overrides of the mail templates
    tracking_partitions: int = 1  # tracking: stream partitions, each with its own leader

    @property
    def broker_is_redis(self) -> bool:
        return self.broker_url.startswith(("redis://", "rediss://"))

    @property
    def tracking_via_stream(self) -> bool:
        """Worker events go through the Redis Stream (DESIGN.md §3) unless told otherwise."""
        if self.tracking == "auto":
            return self.broker_is_redis
        return self.tracking == "stream"

    @property
    def database_is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(key: str, parse: Callable[[str, str], T], default: T) -> T:
            name = PREFIX + key
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            return parse(name, raw)

        var_dir = Path(get("VAR_DIR", _str, "var")).resolve()
        database_url = get(
            "DATABASE_URL",
            _url_parser("sqlite", "postgresql"),
            f"sqlite:///{var_dir / 'netraven.db'}",
        )
        broker_url = get(
            "BROKER_URL",
            _url_parser("redis", "rediss", "amqp", "sqla", "memory"),
            f"sqla+sqlite:///{var_dir / 'broker.db'}",
        )
        smtp_url = get("SMTP_URL", _url_parser("smtp", "smtps"), None)
        secret_key = get("SECRET_KEY", _str, "") or _embedded_secret(var_dir)
        if len(secret_key) < 16:
            raise SettingsError("NETRAVEN_SECRET_KEY must be at least 16 characters long")
        log_format = get("LOG_FORMAT", _str, "text")
        if log_format not in {"text", "json"}:
            raise SettingsError(f"NETRAVEN_LOG_FORMAT must be one of text, json; got {log_format!r}")
        tracking = get("TRACKING", _str, "auto")
        if tracking not in {"auto", "sync", "stream"}:
            raise SettingsError(f"NETRAVEN_TRACKING must be one of auto, sync, stream; got {tracking!r}")
        if tracking == "stream" and not broker_url.startswith(("redis://", "rediss://")):
            raise SettingsError("NETRAVEN_TRACKING=stream needs a redis:// NETRAVEN_BROKER_URL")
        return cls(
            tracking=tracking,
            recorder_in_worker=get("RECORDER_IN_WORKER", _parse_bool, True),
            var_dir=var_dir,
            database_url=database_url,
            broker_url=broker_url,
            smtp_url=smtp_url,
            mail_from=get("MAIL_FROM", _str, "NetRaven <netraven@localhost>"),
            maildir=Path(get("MAILDIR", _str, str(var_dir / "maildir"))).resolve(),
            secret_key=secret_key,
            digest_hour=get("DIGEST_HOUR", _int_parser(0, 23), 8),
            public_url=get("PUBLIC_URL", _url_parser("http", "https"), "http://127.0.0.1:8000").rstrip("/"),
            token_ttl_seconds=get("TOKEN_TTL_SECONDS", _int_parser(60, 90 * 24 * 3600), 12 * 3600),
            allow_private_webhooks=get("ALLOW_PRIVATE_WEBHOOKS", _parse_bool, False),
            job_modules=get("JOB_MODULES", _module_list, ()),
            reaper_grace_seconds=get("REAPER_GRACE_SECONDS", _float_parser(1, 7 * 24 * 3600), 300.0),
            log_format=log_format,
            flower_basic_auth=get("FLOWER_BASIC_AUTH", _str, None),
            metrics_token=get("METRICS_TOKEN", _str, None),
            ssh_username=get("SSH_USERNAME", _str, None),
            ssh_password=get("SSH_PASSWORD", _str, None),
            ssh_key_file=get("SSH_KEY_FILE", _str, None),
            ssh_known_hosts=get("SSH_KNOWN_HOSTS", _str, None),
            ssh_port=get("SSH_PORT", _int_parser(1, 65535), 22),
            templates_dir=_optional_path(get("TEMPLATES_DIR", _str, None)),
            tracking_partitions=get("TRACKING_PARTITIONS", _int_parser(1, 64), 1),
        )


def _optional_path(raw: str | None) -> Path | None:
    return Path(raw).expanduser().resolve() if raw else None


def _embedded_secret(var_dir: Path) -> str:
    """The embedded default keeps a generated key in var/ so tokens survive restarts."""
    path = var_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings.from_env()
