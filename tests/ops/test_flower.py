"""Flower, started by our CLI as compose starts it, shows our jobs behind basic auth."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from netraven_tasks.jobs.launch import launch_job
from tests.conftest import ROOT, TEST_ENV, eventually, free_port, stop_process, until_ready
from tests.ops.compose_file import command_of, healthcheck_argv, load_compose

CREDENTIALS = ("ops", "flower-test-secret")


@dataclass
class Flower:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    state_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str, auth: tuple[str, str] | None = CREDENTIALS) -> requests.Response:
        return requests.get(self.url + path, auth=auth, timeout=10)


@pytest.fixture(scope="module")
def flower(worker, tmp_path_factory) -> Iterator[Flower]:  # type: ignore[no-untyped-def]
    """``netraven-tasks flower`` on a free loopback port, with the options compose.yaml gives it.

    One per module: it takes seconds to start and to hear the worker.
    """
    tmp_path = tmp_path_factory.mktemp("flower")
    port = free_port()
    state_path = tmp_path / "flower.db"
    cli = str(Path(sys.executable).with_name("netraven-tasks"))
    log_path = tmp_path / "flower.log"
    env = {**os.environ, **TEST_ENV, "NETRAVEN_FLOWER_BASIC_AUTH": ":".join(CREDENTIALS)}
    # compose.yaml's command, on loopback, a free port and a state file of this test.
    swapped = {
        "0.0.0.0": "127.0.0.1",
        "5555": str(port),
        "--db=/var/lib/netraven/flower.db": f"--db={state_path}",
    }
    command = [
        cli,
        *(swapped.get(part, part) for part in command_of(load_compose()["services"]["flower"])[1:]),
    ]
    assert command[1] == "flower" and f"--db={state_path}" in command
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    running = Flower(f"http://127.0.0.1:{port}", process, log_path, state_path)

    def healthy() -> bool:
        try:
            return running.get("/healthcheck", auth=None).text == "OK"
        except requests.ConnectionError:
            return False

    def heard_the_worker() -> bool:
        workers = running.get("/workers?json=1").json().get("data", [])
        return any(str(w.get("hostname", "")).startswith("test@") for w in workers)

    try:
        until_ready(process, healthy, "flower", running.log)
        # Healthy is not yet listening: wait until Flower's event receiver has heard the session
        # worker's heartbeat, or a job published now could lose its task-sent/received events.
        until_ready(process, heard_the_worker, "flower hearing the worker's events", running.log)
    except BaseException:
        stop_process(process)  # never leave a Flower behind a failed start
        raise
    yield running
    stop_process(process)


def _wait_for_task(flower: Flower, task_id: str, state: str, timeout: float = 30) -> dict[str, Any]:
    def task() -> dict[str, Any] | None:
        response = flower.get("/api/tasks")
        assert response.status_code == 200, response.text
        found = response.json().get(task_id)
        return dict(found) if found is not None and found.get("state") == state else None

    return eventually(task, timeout, f"task {task_id} to be {state} in Flower", interval=0.3)  # type: ignore[no-any-return]


@pytest.mark.usefixtures("clean_db")
def test_job_shows_in_flower_with_its_name_and_arguments(flower, settings, wait_for_job):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        port = server.getsockname()[1]
        launched = launch_job(settings, "reachability_check", {"host": "127.0.0.1", "port": port}, None)
        assert wait_for_job(launched.job_log_id).status == "completed"

    task = _wait_for_task(flower, launched.task_id, "SUCCESS")

    assert task["name"] == "netraven.jobs.reachability_check"
    assert "'host': '127.0.0.1'" in task["kwargs"] and f"'port': {port}" in task["kwargs"]
    assert task["worker"].startswith("test@")
    assert task["sent"] is not None  # task_send_sent_event: Flower saw it published, not only run
    workers = flower.get("/api/workers?refresh=1").json()
    assert any(name.startswith("test@") for name in workers)


def test_flower_refuses_requests_without_the_right_credentials(flower):
    assert flower.get("/api/tasks", auth=None).status_code == 401
    assert flower.get("/api/tasks", auth=("ops", "wrong")).status_code == 401
    assert flower.get("/", auth=None).status_code == 401
    assert flower.get("/api/tasks").status_code == 200
    # The secret goes to Flower, never into its log nor its command line (ps shows that).
    assert CREDENTIALS[1] not in flower.log()
    cmdline = Path(f"/proc/{flower.process.pid}/cmdline").read_bytes().decode()
    assert "flower" in cmdline and CREDENTIALS[1] not in cmdline


def test_compose_healthcheck_of_flower_passes(flower):
    argv = healthcheck_argv(load_compose()["services"]["flower"])
    port = flower.url.rsplit(":", 1)[1]
    argv = [sys.executable if part == "python" else part.replace(":5555/", f":{port}/") for part in argv]
    assert subprocess.run(argv, check=False, timeout=30).returncode == 0
