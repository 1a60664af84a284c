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
from typing import Any, TypeVar
from urllib.parse import urlsplit

from netraven_tasks.private_files import write_private_file

PREFIX = "NETRAVEN_"
TOKEN_TTL_RANGE = (60, 90 * 24 * 3600)  # seconds: NETRAVEN_TOKEN_TTL_SECONDS and `token --ttl`

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
    # security: what job arguments may reach, and the API's edges
    backup_file_roots: tuple[Path, ...] = ()
    backup_user_drivers: tuple[str, ...] = ("url",)
    backup_max_bytes: int = 10 * 1024 * 1024
    backup_timeout_seconds: float = 60.0
    backup_url_networks: tuple[str, ...] = ()
    # (platform, allowed commands) pairs: a tuple, so Settings stays hashable
    ssh_commands: tuple[tuple[str, tuple[str, ...]], ...] = ()
    max_body_bytes: int = 1024 * 1024
    max_json_depth: int = 32
    login_rate_limit: str = "10 per minute"  # failed sign-ins per username
    login_address_rate_limit: str = "30 per minute"  # failed sign-ins per client address
    stream_max_seconds: int = 300  # dashboard: an SSE stream ends after this; the browser reconnects
    # Queries at scale: raw job logs kept, rollups kept, how late a change may be written.
    retention_days: int = 90
    rollup_retention_days: int = 730
    rollup_lateness_seconds: int = 3600
    # Schedules: minimum interval, the missed-run check's period, beat's leader lock, alerts, SMS.
    schedule_min_interval_seconds: int = 60
    schedule_check_seconds: float = 30.0
    beat_lock_ttl_seconds: float = 30.0
    repeat_alert_hours: float = 24.0
    sms_url: str | None = None
    sms_account_sid: str | None = None
    sms_auth_token: str | None = field(default=None, repr=False)
    sms_from: str | None = None
    tracking_partitions: int = 1  # tracking: stream partitions, each with its own leader

    @property
    def broker_is_redis(self) -> bool:
        return self.broker_url.startswith(("redis://", "rediss://"))

    @property
    def tracking_via_stream(self) -> bool:
        """Worker events go through the Redis Stream (docs/tracking.md) unless told otherwise."""
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
            token_ttl_seconds=get("TOKEN_TTL_SECONDS", _int_parser(*TOKEN_TTL_RANGE), 12 * 3600),
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
            # security
            backup_file_roots=get("BACKUP_FILE_ROOTS", _path_list, ()),
            backup_user_drivers=get("BACKUP_USER_DRIVERS", _driver_list, ("url",)),
            backup_max_bytes=get("BACKUP_MAX_BYTES", _int_parser(1024, 256 * 1024 * 1024), 10 * 1024 * 1024),
            backup_timeout_seconds=get("BACKUP_TIMEOUT_SECONDS", _float_parser(1, 3600), 60.0),
            backup_url_networks=get("BACKUP_URL_NETWORKS", _network_list, ()),
            ssh_commands=get("SSH_COMMANDS", _ssh_commands, DEFAULT_SSH_COMMANDS),
            max_body_bytes=get("MAX_BODY_BYTES", _int_parser(1024, 1024 * 1024 * 1024), 1024 * 1024),
            max_json_depth=get("MAX_JSON_DEPTH", _int_parser(2, 200), 32),
            login_rate_limit=get("LOGIN_RATE_LIMIT", _rate_limit, "10 per minute"),
            login_address_rate_limit=get("LOGIN_ADDRESS_RATE_LIMIT", _rate_limit, "30 per minute"),
            stream_max_seconds=get("STREAM_MAX_SECONDS", _int_parser(5, 3600), 300),
            retention_days=get("RETENTION_DAYS", _int_parser(1, 100 * 365), 90),
            rollup_retention_days=get("ROLLUP_RETENTION_DAYS", _int_parser(1, 100 * 365), 730),
            rollup_lateness_seconds=get("ROLLUP_LATENESS_SECONDS", _int_parser(0, 30 * 86400), 3600),
            **_schedule_settings(get),
            tracking_partitions=get("TRACKING_PARTITIONS", _int_parser(1, 64), 1),
        )


# security: the commands the ssh driver may run, per platform (NETRAVEN_SSH_COMMANDS, JSON).
DEFAULT_SSH_COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ios", ("show running-config", "show startup-config")),
    ("nxos", ("show running-config", "show startup-config")),
    ("eos", ("show running-config", "show startup-config")),
    ("junos", ("show configuration | display set", "show configuration")),
)
BACKUP_DRIVERS = ("file", "url", "ssh")


def _path_list(name: str, raw: str) -> tuple[Path, ...]:
    paths = tuple(Path(part.strip()).expanduser() for part in raw.split(os.pathsep) if part.strip())
    for path in paths:
        if not path.is_absolute():
            raise SettingsError(f"{name} must list absolute folders separated by {os.pathsep!r}, got {path}")
    # Resolved once, so the drivers compare real paths with real paths.
    return tuple(path.resolve() for path in paths)


def _driver_list(name: str, raw: str) -> tuple[str, ...]:
    drivers = tuple(part.strip() for part in raw.split(",") if part.strip())
    unknown = sorted(set(drivers) - set(BACKUP_DRIVERS))
    if unknown:
        raise SettingsError(f"{name} must list drivers among {', '.join(BACKUP_DRIVERS)}; got {unknown}")
    return drivers


def _network_list(name: str, raw: str) -> tuple[str, ...]:
    import ipaddress

    networks = tuple(part.strip() for part in raw.split(",") if part.strip())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise SettingsError(f"{name} must be comma-separated networks (CIDR), got {network!r}") from None
    return networks


def _ssh_commands(name: str, raw: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    import json

    try:
        loaded = json.loads(raw)
    except ValueError:
        loaded = None
    if not isinstance(loaded, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and v and all(isinstance(c, str) and c for c in v)
        for k, v in loaded.items()
    ):
        raise SettingsError(f'{name} must be JSON like {{"ios": ["show running-config"]}}, got {raw!r}')
    return tuple((platform, tuple(commands)) for platform, commands in loaded.items())


def _rate_limit(name: str, raw: str) -> str:
    from limits import parse_many

    try:
        parse_many(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a rate such as '10 per minute', got {raw!r}") from None
    return raw


def _schedule_settings(get: Callable[..., Any]) -> dict[str, Any]:
    """The schedules' variables (issue: schedules, missed runs, state-change alerts, SMS)."""
    return {
        "schedule_min_interval_seconds": get("SCHEDULE_MIN_INTERVAL_SECONDS", _int_parser(1, 86400), 60),
        "schedule_check_seconds": get("SCHEDULE_CHECK_SECONDS", _float_parser(0.2, 3600), 30.0),
        "beat_lock_ttl_seconds": get("BEAT_LOCK_TTL_SECONDS", _float_parser(1, 3600), 30.0),
        "repeat_alert_hours": get("REPEAT_ALERT_HOURS", _float_parser(0.01, 24 * 365), 24.0),
        "sms_url": get("SMS_URL", _url_parser("http", "https"), None),
        "sms_account_sid": get("SMS_ACCOUNT_SID", _str, None),
        "sms_auth_token": get("SMS_AUTH_TOKEN", _str, None),
        "sms_from": get("SMS_FROM", _str, None),
    }


def _optional_path(raw: str | None) -> Path | None:
    return Path(raw).expanduser().resolve() if raw else None


def _embedded_secret(var_dir: Path) -> str:
    """The embedded default keeps a generated key in var/ so tokens survive restarts."""
    path = var_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    write_private_file(path, key)  # 0600 from creation on (security)
    return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings.from_env()
