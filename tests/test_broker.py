"""``broker_has_events``: the one rule for ``-E``, the sent/task events and Flower."""

from __future__ import annotations

import pytest

from netraven_tasks.broker import broker_has_events, transport_of


@pytest.mark.parametrize(
    ("url", "transport", "events"),
    [
        ("redis://127.0.0.1:6379/0", "redis", True),
        ("rediss://:secret@cache.example:6380/1", "rediss", True),
        ("amqp://guest:guest@rabbit:5672//", "amqp", True),
        ("pyamqp://rabbit//", "pyamqp", True),
        # The embedded default: the SQLAlchemy transport has no fanout exchange for events.
        ("sqla+sqlite:////var/lib/netraven/broker.sqlite", "sqla", False),
        ("sqla+postgresql://netraven@db/netraven", "sqla", False),
        ("sqlalchemy+sqlite:///broker.sqlite", "sqlalchemy", False),
        # In-memory: nothing outside this process could read them.
        ("memory://", "memory", False),
        ("memory://localhost/", "memory", False),
        ("SQLA+sqlite:///x.sqlite", "sqla", False),
    ],
)
def test_broker_has_events_by_transport(url: str, transport: str, events: bool):
    assert transport_of(url) == transport
    assert broker_has_events(url) is events


def test_the_celery_app_the_worker_command_and_devserver_follow_it(monkeypatch):
    """The three places that used to spell the rule each, on brokers with and without events."""
    import argparse

    from netraven_tasks import devserver
    from netraven_tasks.celery_app import create_celery_app
    from netraven_tasks.cli import services
    from netraven_tasks.settings import get_settings

    execed: list[list[str]] = []
    monkeypatch.setattr(services, "_exec", lambda command, extra_env=None: execed.append(list(command)))
    for url, events in (("memory://", False), ("sqla+sqlite:///b.sqlite", False), ("redis://r/0", True)):
        settings = get_settings().model_copy(update={"broker_url": url})
        app = create_celery_app(settings)
        assert (app.conf.worker_send_task_events, app.conf.task_send_sent_event) == (events, events)
        assert ("flower" in devserver._services(settings, 8000, 5555)) is events
        services.cmd_worker(settings, argparse.Namespace(loglevel="info", celery_args=[]))
        assert ("-E" in execed.pop()) is events
