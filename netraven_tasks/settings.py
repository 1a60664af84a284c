"""Settings: every ``NETRAVEN_*`` environment variable, read once into one object.

Nothing else in the code base reads ``os.environ``; code receives a ``Settings``. Each variable is
a field of ``Settings`` (pydantic-settings): ``NETRAVEN_`` + the field's name in capitals. A field's
``_env(...)`` parser turns the raw text into the value and words the error, naming the variable.
A changed copy for a test or a benchmark: ``settings.model_copy(update={...})``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, ValidationError, ValidationInfo, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

from netraven_tasks.backups.normalise import IgnoreFileError, load_ignore_file
from netraven_tasks.compliance.rules import RulesFileError, current_rules
from netraven_tasks.private_files import write_private_file

PREFIX = "NETRAVEN_"
TOKEN_TTL_RANGE = (60, 90 * 24 * 3600)  # seconds: NETRAVEN_TOKEN_TTL_SECONDS and `token --ttl`


class SettingsError(ValueError):
    """A NETRAVEN_* variable has a value we cannot use; the message names it and the fix."""


Parser = Callable[[str, str], Any]  # (variable name, raw text) -> value; raises SettingsError


def _env(parse: Parser) -> BeforeValidator:
    """Parse a field's raw environment text; a typed value (``Settings(...)``, defaults) passes as is."""

    def validate(value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        return parse(PREFIX + str(info.field_name).upper(), value)

    return BeforeValidator(validate)


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), got {raw!r}")


def _number(kind: type[int] | type[float], low: float, high: float) -> Parser:
    """A whole number (``int``) or a number (``float``) in ``[low, high]``."""
    wanted = "a whole number" if kind is int else "a number"

    def parse(name: str, raw: str) -> int | float:
        try:
            value = kind(raw.strip())
        except ValueError:
            raise SettingsError(f"{name} must be {wanted}, got {raw!r}") from None
        if not low <= value <= high:
            raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
        return value

    return parse


def _url(*schemes: str) -> Parser:
    def parse(name: str, raw: str) -> str:
        value = raw.strip()
        scheme = urlsplit(value).scheme
        if not any(scheme == s or scheme.startswith(s + "+") for s in schemes):
            allowed = ", ".join(f"{s}://" for s in schemes)
            raise SettingsError(f"{name} must be a URL starting with one of {allowed}; got {raw!r}")
        return value

    return parse


def _optional(parse: Parser) -> Parser:
    """``parse``, except that an empty value means unset (compose passes ``${VAR:-}`` as "")."""

    def parse_or_none(name: str, raw: str) -> Any:
        return parse(name, raw) if raw.strip() else None

    return parse_or_none


def _public_url(name: str, raw: str) -> str:
    """The dashboard's address without a trailing slash: links are public_url + "/path"."""
    return str(_url("http", "https")(name, raw)).rstrip("/")


def _one_of(*choices: str) -> Parser:
    def parse(name: str, raw: str) -> str:
        if raw not in choices:
            raise SettingsError(f"{name} must be one of {', '.join(choices)}; got {raw!r}")
        return raw

    return parse


def _items(raw: str, separator: str = ",") -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(separator) if part.strip())


def _module_list(name: str, raw: str) -> tuple[str, ...]:
    modules = _items(raw)
    for module in modules:
        if not all(piece.isidentifier() for piece in module.split(".")):
            raise SettingsError(f"{name} must be comma-separated Python module names, got {module!r}")
    return modules


def _secret_key(name: str, raw: str) -> str:
    if len(raw) < 16:
        raise SettingsError(f"{name} must be at least 16 characters long")
    return raw


# security: the commands the ssh driver may run, per platform (NETRAVEN_SSH_COMMANDS, JSON).
DEFAULT_SSH_COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ios", ("show running-config", "show startup-config")),
    ("nxos", ("show running-config", "show startup-config")),
    ("eos", ("show running-config", "show startup-config")),
    ("junos", ("show configuration | display set", "show configuration")),
)
BACKUP_DRIVERS = ("file", "url", "ssh")


def _path_list(name: str, raw: str) -> tuple[Path, ...]:
    paths = tuple(Path(part).expanduser() for part in _items(raw, os.pathsep))
    for path in paths:
        if not path.is_absolute():
            raise SettingsError(f"{name} must list absolute folders separated by {os.pathsep!r}, got {path}")
    # Resolved once, so the drivers compare real paths with real paths.
    return tuple(path.resolve() for path in paths)


def _driver_list(name: str, raw: str) -> tuple[str, ...]:
    drivers = _items(raw)
    unknown = sorted(set(drivers) - set(BACKUP_DRIVERS))
    if unknown:
        raise SettingsError(f"{name} must list drivers among {', '.join(BACKUP_DRIVERS)}; got {unknown}")
    return drivers


def _network_list(name: str, raw: str) -> tuple[str, ...]:
    networks = _items(raw)
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise SettingsError(f"{name} must be comma-separated networks (CIDR), got {network!r}") from None
    return networks


def _ssh_commands(name: str, raw: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
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


def _path(name: str, raw: str) -> Path:
    return Path(raw).expanduser().resolve()


def _checked_file(check: Callable[[Path], object], refused: type[Exception]) -> Parser:
    """A file of rules the operator writes, read and checked now: a bad one stops the API, the
    worker and beat at start with its problem (file, line, rule). Its users read it again only when
    it changes."""

    def parse(name: str, raw: str) -> Path:
        path = _path(name, raw)
        try:
            check(path)
        except refused as error:
            raise SettingsError(f"{name}: {error}") from None
        return path

    return parse


# from_env(mapping) reads that mapping instead of os.environ (tests, benchmarks' child processes).
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("netraven_environ", default=None)


class _MappingSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        self._environ = environ  # read by _load_env_vars, which the parent's __init__ calls
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(
            self._environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )


class Settings(BaseSettings):
    """The whole configuration of one process."""

    # An empty variable means its default; values arrive as text for the parsers (no JSON decoding).
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_ignore_empty=True, enable_decoding=False, frozen=True, extra="ignore"
    )

    var_dir: Annotated[Path, _env(_path)]
    # Defaults under var_dir (see _embedded_defaults): SQLite database and broker, maildir, secret.
    database_url: Annotated[str, _env(_url("sqlite", "postgresql"))]
    broker_url: Annotated[str, _env(_url("redis", "rediss", "amqp", "sqla", "memory"))]
    # Redis beside another broker (RabbitMQ): the tracking stream, live feed, device leases, leader
    # locks and counters. Unset: the broker's own Redis, if it is one (``redis_url_in_use``).
    redis_url: Annotated[str | None, _env(_optional(_url("redis", "rediss")))] = None
    maildir: Annotated[Path, _env(_path)]
    secret_key: Annotated[str, _env(_secret_key)] = Field(repr=False)
    smtp_url: Annotated[str | None, _env(_url("smtp", "smtps"))] = None
    mail_from: str = "NetRaven <netraven@localhost>"
    digest_hour: Annotated[int, _env(_number(int, 0, 23))] = 8
    public_url: Annotated[str, _env(_public_url)] = "http://127.0.0.1:8000"
    token_ttl_seconds: Annotated[int, _env(_number(int, *TOKEN_TTL_RANGE))] = 12 * 3600
    allow_private_webhooks: Annotated[bool, _env(_bool)] = False
    job_modules: Annotated[tuple[str, ...], _env(_module_list)] = ()
    reaper_grace_seconds: Annotated[float, _env(_number(float, 1, 7 * 24 * 3600))] = 300.0
    log_format: Annotated[str, _env(_one_of("text", "json"))] = "text"
    flower_basic_auth: str | None = Field(default=None, repr=False)
    metrics_token: str | None = Field(default=None, repr=False)  # operations: optional /metrics bearer
    ssh_username: str | None = None
    ssh_password: str | None = Field(default=None, repr=False)
    ssh_key_file: str | None = None
    ssh_known_hosts: str | None = None
    ssh_port: Annotated[int, _env(_number(int, 1, 65535))] = 22
    tracking: Annotated[str, _env(_one_of("auto", "sync", "stream"))] = "auto"
    recorder_in_worker: Annotated[bool, _env(_bool)] = True
    templates_dir: Annotated[Path | None, _env(_path)] = None  # notifications: operator's mail templates
    # Configuration changes (backups/normalise.py): the operator's ignore rules, masking, diff size
    config_ignore_file: Annotated[Path | None, _env(_checked_file(load_ignore_file, IgnoreFileError))] = None
    config_mask_secrets: Annotated[bool, _env(_bool)] = True
    config_diff_lines: Annotated[int, _env(_number(int, 10, 100_000))] = 200
    # security: what job arguments may reach, and the API's edges
    backup_file_roots: Annotated[tuple[Path, ...], _env(_path_list)] = ()
    backup_user_drivers: Annotated[tuple[str, ...], _env(_driver_list)] = ("url",)
    backup_max_bytes: Annotated[int, _env(_number(int, 1024, 256 * 1024 * 1024))] = 10 * 1024 * 1024
    backup_timeout_seconds: Annotated[float, _env(_number(float, 1, 3600))] = 60.0
    backup_url_networks: Annotated[tuple[str, ...], _env(_network_list)] = ()
    # (platform, allowed commands) pairs: a tuple, so Settings stays hashable
    ssh_commands: Annotated[tuple[tuple[str, tuple[str, ...]], ...], _env(_ssh_commands)] = (
        DEFAULT_SSH_COMMANDS
    )
    max_body_bytes: Annotated[int, _env(_number(int, 1024, 1024 * 1024 * 1024))] = 1024 * 1024
    max_json_depth: Annotated[int, _env(_number(int, 2, 200))] = 32
    # The API server's read deadlines: a request's head (line and headers) must arrive within the
    # first, its body within the second, or the connection is answered 408 and closed.
    request_head_seconds: Annotated[float, _env(_number(float, 0.5, 600))] = 10.0
    request_body_seconds: Annotated[float, _env(_number(float, 0.5, 3600))] = 30.0
    login_rate_limit: Annotated[str, _env(_rate_limit)] = "10 per minute"  # failed sign-ins per username
    login_address_rate_limit: Annotated[str, _env(_rate_limit)] = "30 per minute"  # ... per client address
    # dashboard: an SSE stream ends after this; the browser reconnects
    stream_max_seconds: Annotated[int, _env(_number(int, 5, 3600))] = 300
    # Queries at scale: raw job logs kept, rollups kept, how late a change may be written.
    retention_days: Annotated[int, _env(_number(int, 1, 100 * 365))] = 90
    rollup_retention_days: Annotated[int, _env(_number(int, 1, 100 * 365))] = 730
    audit_retention_days: Annotated[int, _env(_number(int, 1, 100 * 365))] = 365  # audit_events rows
    rollup_lateness_seconds: Annotated[int, _env(_number(int, 0, 30 * 86400))] = 3600
    # Schedules: minimum interval, the missed-run check's period, beat's leader lock, alerts, SMS.
    schedule_min_interval_seconds: Annotated[int, _env(_number(int, 1, 86400))] = 60
    schedule_check_seconds: Annotated[float, _env(_number(float, 0.2, 3600))] = 30.0
    beat_lock_ttl_seconds: Annotated[float, _env(_number(float, 1, 3600))] = 30.0
    repeat_alert_hours: Annotated[float, _env(_number(float, 0.01, 24 * 365))] = 24.0
    sms_url: Annotated[str | None, _env(_url("http", "https"))] = None
    sms_account_sid: str | None = None
    sms_auth_token: str | None = Field(default=None, repr=False)
    sms_from: str | None = None
    # Routes: the on-call services' endpoints (a route's target is its routing or API key).
    pagerduty_url: Annotated[str, _env(_url("http", "https"))] = "https://events.pagerduty.com/v2/enqueue"
    opsgenie_url: Annotated[str, _env(_url("http", "https"))] = "https://api.opsgenie.com/v2/alerts"
    tracking_partitions: Annotated[int, _env(_number(int, 1, 64))] = 1  # tracking: stream partitions
    # Deadlines: a worker renews its running attempts' deadlines every heartbeat; the reaper
    # settles a run whose deadline passed; the broker delivers an unacknowledged message again
    # after the redelivery time (the Redis transport's visibility timeout).
    heartbeat_seconds: Annotated[float, _env(_number(float, 0.2, 3600))] = 20.0
    deadline_seconds: Annotated[float, _env(_number(float, 1, 86400))] = 60.0
    redelivery_seconds: Annotated[int, _env(_number(int, 1, 7 * 24 * 3600))] = 3600
    # Quotas of non-admins (netraven_tasks/quotas.py): schedules, launches, devices per batch.
    max_schedules_per_user: Annotated[int, _env(_number(int, 1, 1_000_000))] = 100
    launch_rate_limit: Annotated[str, _env(_rate_limit)] = "60 per minute"
    max_batch_devices: Annotated[int, _env(_number(int, 1, 10_000_000))] = 500
    # Per-device limits (devices/leases.py): jobs running against one device at once, and the
    # longest a job whose device is busy waits before it looks again.
    device_concurrency: Annotated[int, _env(_number(int, 1, 1000))] = 1
    device_wait_max_seconds: Annotated[float, _env(_number(float, 0.1, 3600))] = 30.0
    # Compliance (docs/compliance.md): the rules the compliance_check job applies.
    compliance_rules_file: Annotated[Path | None, _env(_checked_file(current_rules, RulesFileError))] = None

    @model_validator(mode="before")
    @classmethod
    def _embedded_defaults(cls, data: Any) -> Any:
        """What lives under NETRAVEN_VAR_DIR unless set: the SQLite database and broker, the
        maildir, a generated secret key. Runs on the raw values, before each field's parser."""
        if not isinstance(data, dict):
            return data
        var_dir = Path(data.get("var_dir") or "var").resolve()
        return {
            **data,
            "var_dir": var_dir,
            "database_url": data.get("database_url") or f"sqlite:///{var_dir / 'netraven.db'}",
            "broker_url": data.get("broker_url") or f"sqla+sqlite:///{var_dir / 'broker.db'}",
            "maildir": data.get("maildir") or var_dir / "maildir",
            "secret_key": data.get("secret_key") or _embedded_secret(var_dir),
        }

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.tracking == "stream" and self.redis_url_in_use is None:
            raise SettingsError(
                "NETRAVEN_TRACKING=stream needs Redis: a redis:// NETRAVEN_BROKER_URL or NETRAVEN_REDIS_URL"
            )
        if self.deadline_seconds < 2 * self.heartbeat_seconds:
            # One late heartbeat must not get a living run reaped.
            raise SettingsError(
                "NETRAVEN_DEADLINE_SECONDS must be at least twice NETRAVEN_HEARTBEAT_SECONDS, got "
                f"{self.deadline_seconds:g} and {self.heartbeat_seconds:g}"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then the environment (or from_env's mapping); no .env or secret files."""
        environ = _ENVIRON.get()
        return (init_settings, env_settings if environ is None else _MappingSource(settings_cls, environ))

    @property
    def broker_is_redis(self) -> bool:
        return self.broker_url.startswith(("redis://", "rediss://"))

    @property
    def redis_url_in_use(self) -> str | None:
        """The Redis of the tracking stream, live feed, leases, locks and counters: NETRAVEN_REDIS_URL,
        else the broker's when it is Redis, else None (the database does their work, more slowly)."""
        return self.redis_url or (self.broker_url if self.broker_is_redis else None)

    @property
    def tracking_via_stream(self) -> bool:
        """Worker events go through the Redis Stream (docs/tracking.md) unless told otherwise."""
        if self.tracking == "auto":
            return self.redis_url_in_use is not None
        return self.tracking == "stream"

    def tracking_mode(self) -> str:
        """One line for the start-up log: how tracking runs with these settings, and why."""
        broker = self.broker_url.split(":", 1)[0]
        if self.tracking_via_stream:
            where = "NETRAVEN_REDIS_URL" if self.redis_url else "the broker's Redis"
            return f"tracking through the Redis stream ({where}; broker: {broker})"
        if self.redis_url_in_use is None:
            return (
                f"tracking synchronously in the database (broker: {broker}, no Redis): set "
                "NETRAVEN_REDIS_URL for the batched stream, live updates and Redis device leases"
            )
        return f"tracking synchronously in the database (NETRAVEN_TRACKING=sync; broker: {broker})"

    @property
    def database_is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the NETRAVEN_* variables of ``environ`` (default: the process's); SettingsError
        names the first variable whose value cannot be used."""
        try:
            with _reading(environ):
                return cls()  # type: ignore[call-arg]  # the sources fill every field
        except ValidationError as error:
            raise _first_problem(error) from None


@contextmanager
def _reading(environ: Mapping[str, str] | None) -> Iterator[None]:
    token = _ENVIRON.set(environ)
    try:
        yield
    finally:
        _ENVIRON.reset(token)


def _first_problem(error: ValidationError) -> SettingsError:
    """Our parsers' own SettingsError (pydantic wraps it); anything else, worded by pydantic."""
    first = error.errors()[0]
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, SettingsError):
        return cause
    name = PREFIX + str(first["loc"][0]).upper() if first["loc"] else "settings"
    return SettingsError(f"{name}: {first['msg']}")


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
