"""Settings come from NETRAVEN_* variables once, with embedded defaults and clear errors."""

from __future__ import annotations

import pytest

from netraven_tasks.settings import Settings, SettingsError


def test_embedded_defaults_need_no_server(tmp_path):
    settings = Settings.from_env({"NETRAVEN_VAR_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'netraven.db'}"
    assert settings.broker_url == f"sqla+sqlite:///{tmp_path / 'broker.db'}"
    assert settings.smtp_url is None
    assert settings.maildir == tmp_path / "maildir"
    assert settings.digest_hour == 8
    assert not settings.broker_is_redis and settings.database_is_sqlite


def test_embedded_secret_is_generated_once_and_kept(tmp_path):
    first = Settings.from_env({"NETRAVEN_VAR_DIR": str(tmp_path)}).secret_key
    second = Settings.from_env({"NETRAVEN_VAR_DIR": str(tmp_path)}).secret_key
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


def test_explicit_values_are_used(tmp_path):
    settings = Settings.from_env(
        {
            "NETRAVEN_VAR_DIR": str(tmp_path),
            "NETRAVEN_DATABASE_URL": "postgresql+psycopg2://u:p@db/netraven",
            "NETRAVEN_BROKER_URL": "redis://127.0.0.1:6379/3",
            "NETRAVEN_SMTP_URL": "smtp://user:pass@mail:587?starttls=1",
            "NETRAVEN_SECRET_KEY": "x" * 32,
            "NETRAVEN_DIGEST_HOUR": "17",
            "NETRAVEN_ALLOW_PRIVATE_WEBHOOKS": "yes",
            "NETRAVEN_JOB_MODULES": "site.jobs, other.jobs",
        }
    )
    assert settings.broker_is_redis
    assert settings.digest_hour == 17
    assert settings.allow_private_webhooks is True
    assert settings.job_modules == ("site.jobs", "other.jobs")
    assert settings.smtp_url == "smtp://user:pass@mail:587?starttls=1"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NETRAVEN_DIGEST_HOUR", "25", "NETRAVEN_DIGEST_HOUR must be between 0 and 23"),
        ("NETRAVEN_DIGEST_HOUR", "eight", "NETRAVEN_DIGEST_HOUR must be a whole number"),
        ("NETRAVEN_DATABASE_URL", "mysql://x/y", "NETRAVEN_DATABASE_URL must be a URL"),
        ("NETRAVEN_BROKER_URL", "localhost:6379", "NETRAVEN_BROKER_URL must be a URL"),
        ("NETRAVEN_SMTP_URL", "mail.example.net", "NETRAVEN_SMTP_URL must be a URL"),
        ("NETRAVEN_ALLOW_PRIVATE_WEBHOOKS", "maybe", "must be a boolean"),
        ("NETRAVEN_SECRET_KEY", "short", "at least 16 characters"),
        ("NETRAVEN_JOB_MODULES", "my-jobs", "Python module names"),
        ("NETRAVEN_LOG_FORMAT", "xml", "NETRAVEN_LOG_FORMAT must be one of text, json"),
    ],
)
def test_malformed_values_name_the_variable(tmp_path, name, value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"NETRAVEN_VAR_DIR": str(tmp_path), name: value})


def test_cli_reports_bad_settings_without_a_traceback(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "NETRAVEN_VAR_DIR": str(tmp_path), "NETRAVEN_DIGEST_HOUR": "99"}
    done = subprocess.run(
        [sys.executable, "-m", "netraven_tasks.cli", "db", "upgrade"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == "error: NETRAVEN_DIGEST_HOUR must be between 0 and 23, got 99"


@pytest.mark.parametrize(
    ("broker", "redis_url", "tracking", "in_use", "stream", "mode"),
    [
        ("redis://127.0.0.1:6379/0", "", "auto", "redis://127.0.0.1:6379/0",
         True, "the broker's Redis; broker: redis"),
        ("amqp://guest:guest@127.0.0.1:5672//", "redis://127.0.0.1:6379/4", "auto", "redis://127.0.0.1:6379/4",
         True, "NETRAVEN_REDIS_URL; broker: amqp"),
        ("amqp://guest:guest@127.0.0.1:5672//", "", "auto", None, False, "no Redis): set NETRAVEN_REDIS_URL"),
        ("amqp://guest:guest@127.0.0.1:5672//", "redis://127.0.0.1:6379/4", "sync", "redis://127.0.0.1:6379/4",
         False, "NETRAVEN_TRACKING=sync"),
    ],
)  # fmt: skip
def test_redis_beside_another_broker_and_the_mode_the_worker_reports(
    tmp_path, broker, redis_url, tracking, in_use, stream, mode
):
    settings = Settings.from_env(
        {
            "NETRAVEN_VAR_DIR": str(tmp_path),
            "NETRAVEN_BROKER_URL": broker,
            "NETRAVEN_REDIS_URL": redis_url,
            "NETRAVEN_TRACKING": tracking,
        }
    )
    assert settings.redis_url_in_use == in_use and settings.tracking_via_stream is stream
    assert mode in settings.tracking_mode()


def test_stream_tracking_without_any_redis_is_refused(tmp_path):
    environ = {"NETRAVEN_VAR_DIR": str(tmp_path), "NETRAVEN_BROKER_URL": "amqp://127.0.0.1//"}
    with pytest.raises(SettingsError, match="NETRAVEN_REDIS_URL"):
        Settings.from_env({**environ, "NETRAVEN_TRACKING": "stream"})
    with pytest.raises(SettingsError, match="NETRAVEN_REDIS_URL"):
        Settings.from_env({**environ, "NETRAVEN_REDIS_URL": "amqp://127.0.0.1//"})
