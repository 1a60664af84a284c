"""`netraven-tasks up`'s demo traffic (the whole command runs in tests/e2e/test_up.py)."""

from __future__ import annotations

import socket
import sqlite3
import threading
from typing import Any

from netraven_tasks import devserver
from netraven_tasks.settings import get_settings
from tests.conftest import eventually, free_port


def test_the_demo_waits_for_the_api_before_its_first_round(monkeypatch, tmp_path):
    """Its first job checks the API's own port: launched while gunicorn still starts, it would fail."""
    from netraven_tasks.celery_app import app

    events: list[tuple[str, Any]] = []
    answers = iter([False, False, True])  # the API starts listening at the third probe

    def listening(port: int) -> bool:
        events.append(("probe", answer := next(answers, True)))
        return answer

    def launch_job(settings: Any, job_type: str, arguments: dict[str, Any], owner_id: int, app: Any) -> None:
        events.append(("launch", (job_type, arguments.get("port"))))

    monkeypatch.setattr(devserver, "_listening", listening)
    monkeypatch.setattr(devserver, "launch_job", launch_job)
    settings = get_settings().model_copy(update={"var_dir": tmp_path})
    stop = threading.Event()
    demo = threading.Thread(target=devserver._demo_traffic, args=(app, settings, 1, 8123, stop), daemon=True)
    demo.start()
    try:
        eventually(lambda: [e for e in events if e[0] == "launch"][2:], 10, "the demo's first round")
    finally:
        stop.set()
        demo.join(10)
    assert events[:6] == [
        ("probe", False),
        ("probe", False),
        ("probe", True),
        ("launch", ("reachability_check", 8123)),  # the API's own port, listening by now
        ("launch", ("reachability_check", 1)),
        ("launch", ("config_backup", None)),
    ]


def test_listening_tells_a_bound_port_from_a_free_one():
    port = free_port()
    assert not devserver._listening(port)
    with socket.create_server(("127.0.0.1", port)):
        assert devserver._listening(port)


def test_the_embedded_brokers_queues_exist_before_any_service_starts(tmp_path):
    """kombu's SQLAlchemy transport creates a queue's row on first use (SELECT, then INSERT): two
    processes doing it at once fail one of them, so `up` creates every queue before it starts any."""
    from netraven_tasks import celery_app

    broker = tmp_path / "broker.db"
    settings = get_settings().model_copy(update={"broker_url": f"sqla+sqlite:///{broker}"})
    app = celery_app.create_celery_app(settings)
    devserver._declare_queues(app)
    with sqlite3.connect(broker) as db:
        names = {name for (name,) in db.execute("SELECT name FROM kombu_queue")}
    assert names == set(app.amqp.queues) == {"celery"}
