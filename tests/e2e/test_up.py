"""`netraven-tasks up` (what scripts/up runs) brings the whole system up and Ctrl-C stops it all."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, SPARE_REDIS_URL, eventually, free_port, until_ready

pytestmark = pytest.mark.slow


def _run_readme_curl_examples(tmp_path, port: int, env: dict[str, str]) -> None:
    """The README's curl block, as a user pastes it, against the running system."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## The REST API with curl", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)[1]  # type: ignore[index]
    assert "http://127.0.0.1:8000" in block
    block = block.replace("http://127.0.0.1:8000", f"http://127.0.0.1:{port}")
    # The user's checkout: var/ and .venv/bin/netraven-tasks where the README expects them.
    checkout = tmp_path / "checkout"
    (checkout / ".venv" / "bin").mkdir(parents=True)
    (checkout / "var").symlink_to(tmp_path / "var")
    (checkout / ".venv" / "bin" / "netraven-tasks").symlink_to(
        Path(sys.executable).with_name("netraven-tasks")
    )
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block], cwd=checkout, capture_output=True, text=True,
        timeout=120, check=False, env={k: v for k, v in env.items() if k != "NETRAVEN_VAR_DIR"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = re.sub(r"\s", "", done.stdout)
    assert '"status":"ok"' in out  # healthz
    assert '"name":"reachability_check"' in out  # GET /jobs
    assert out.count("HTTP/1.1202") == 1 and "location:" in done.stdout.lower()  # the launch
    assert '"total_jobs":' in out and '"success_rate":' in out  # statistics
    assert '"notification_frequency":"daily"' in out  # the PATCH
    assert '"notification_frequency":"immediate"' in out  # the PUT
    assert '"code":' not in out, "no example answered with an error"


def test_up_runs_api_worker_beat_and_demo_jobs_then_stops_on_ctrl_c(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETRAVEN_")}
    env["NETRAVEN_VAR_DIR"] = str(tmp_path / "var")
    port = free_port()
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "netraven_tasks.cli", "up", "--port", str(port)],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        output = eventually(lambda: "export TOKEN=" in log_path.read_text() and log_path.read_text(),
                            60, "the banner")  # fmt: skip
        assert "admin password:" in output
        token = output.split("export TOKEN=", 1)[1].split()[0]
        assert token.count(".") == 2
        var_dir = output.split("export NETRAVEN_VAR_DIR=", 1)[1].split()[0]
        assert var_dir == str(tmp_path / "var")  # the CLI finds this system from any folder

        def healthy() -> dict | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    return json.load(response)
            except OSError:
                return None

        assert eventually(healthy, 60, "the API")["status"] == "ok"

        database = tmp_path / "var" / "netraven.db"

        def demo_outcomes() -> list[tuple[str, int | None, str]]:
            with sqlite3.connect(database) as db:
                rows = db.execute(
                    "SELECT job_type, json_extract(args, '$.port'), status FROM job_logs ORDER BY id LIMIT 3"
                ).fetchall()
            finished = [row for row in rows if row[2] in {"completed", "failed"}]
            return finished if len(finished) == 3 else []

        # The demo's first round, in order: it waits for the API, so even the first check of the
        # API's own port finds it listening.
        assert eventually(demo_outcomes, 90, "the demo jobs") == [
            ("reachability_check", port, "completed"),  # the API's own port answers
            ("reachability_check", 1, "failed"),  # port 1 refuses
            ("config_backup", None, "completed"),
        ]

        maildir = tmp_path / "var" / "maildir" / "new"

        def failure_mail() -> str | None:
            for path in maildir.glob("*") if maildir.is_dir() else []:
                text = path.read_text(errors="replace")
                if "Subject: NetRaven job failed: reachability_check on 127.0.0.1" in text:
                    return text
            return None

        mail = eventually(failure_mail, 60, "the failure email in the Maildir")
        assert "To: admin@localhost" in mail
        assert "refused the connection" in mail

        _run_readme_curl_examples(tmp_path, port, env)
    finally:
        up.send_signal(signal.SIGINT)
        try:
            code = up.wait(30)
        except subprocess.TimeoutExpired:
            up.kill()
            raise
    assert code == 0, log_path.read_text()[-3000:]
    assert "stopped" in log_path.read_text()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the API is still listening"


ROUNDS = 10
API_PORT = 8000  # the port of the report: the next `up` could not bind it


def _processes_of(var_dir: Path) -> list[str]:
    """The live processes started for this var dir (``up`` hands its environment to every service)."""
    marker = f"NETRAVEN_VAR_DIR={var_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "environ").read_bytes().split(b"\0"):
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                found.append(f"{entry.name}: {command}")
        except OSError:  # gone meanwhile
            continue
    return found


def _api_answers() -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{API_PORT}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


# A round is start-up until the API answers plus the stop, which waits for the Celery worker's warm
# shutdown (~6 s on the SQLAlchemy transport): 18-32 s a round was measured on a busy 2-core machine.
@pytest.mark.timeout(600)
def _ctrl_c(up: subprocess.Popen[bytes]) -> int:
    """A terminal's Ctrl-C: SIGINT to ``up``'s process group; its exit code (killed after 30 s)."""
    os.killpg(up.pid, signal.SIGINT)
    try:
        return up.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(up.pid, signal.SIGKILL)
        raise


def test_ctrl_c_stops_everything_every_time(tmp_path):
    """A terminal's Ctrl-C is SIGINT to the foreground process group: ``up``'s group, here too."""
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", API_PORT)) != 0, f"something else listens on :{API_PORT}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETRAVEN_")}
    var_dir = tmp_path / "var"
    env["NETRAVEN_VAR_DIR"] = str(var_dir)
    log_path = tmp_path / "up.log"
    rounds = []
    for round_number in range(ROUNDS):
        started = time.monotonic()
        with log_path.open("wb") as log:
            up = subprocess.Popen(
                [sys.executable, "-m", "netraven_tasks.cli", "up", "--no-demo", "--port", str(API_PORT)],
                env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, process_group=0,
            )  # fmt: skip
        try:
            until_ready(up, _api_answers, "the API", log_path.read_text, timeout=60)
        finally:
            code = _ctrl_c(up)
        rounds.append(round(time.monotonic() - started, 1))
        assert code == 0 and "stopped" in log_path.read_text(), log_path.read_text()[-3000:]
        left = _processes_of(var_dir)
        assert not left, f"round {round_number}: still running after Ctrl-C: {left}"
        with socket.socket() as server:
            # As gunicorn binds (SO_REUSEADDR: the closed connections' TIME_WAIT does not count).
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", API_PORT))
    print(f"seconds per round: {rounds}")


@pytest.mark.usefixtures("spare_redis")
def test_up_runs_flower_only_behind_basic_auth(tmp_path):
    """On a broker with task events `up` starts Flower, with credentials it makes and prints."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETRAVEN_")}
    env |= {"NETRAVEN_VAR_DIR": str(tmp_path / "var"), "NETRAVEN_BROKER_URL": SPARE_REDIS_URL}
    api_port, flower_port = free_port(), free_port()
    log_path = tmp_path / "up.log"
    command = ["up", "--no-demo", "--port", str(api_port), "--flower-port", str(flower_port)]
    with log_path.open("wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "netraven_tasks.cli", *command],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, process_group=0,
        )  # fmt: skip
    flower = f"http://127.0.0.1:{flower_port}"

    def flower_answers() -> bool:
        try:
            return requests.get(f"{flower}/healthcheck", timeout=2).ok
        except requests.ConnectionError:
            return False

    try:
        until_ready(up, flower_answers, "Flower", log_path.read_text, timeout=90)
        # Flower's dashboard, open on any Flower without auth (its /api/ refuses by itself then).
        assert requests.get(f"{flower}/", timeout=10).status_code == 401
        assert requests.get(f"{flower}/api/workers", timeout=10).status_code == 401
        banner = re.search(rf"Flower +{flower} +\(user (\S+), password (\S+)\)", log_path.read_text())
        assert banner, log_path.read_text()[-3000:]
        user, password = banner[1], banner[2]
        assert (tmp_path / "var" / "flower-password").read_text().strip() == password
        assert (tmp_path / "var" / "flower-password").stat().st_mode & 0o077 == 0
        assert requests.get(f"{flower}/", auth=(user, "wrong"), timeout=10).status_code == 401
        assert requests.get(f"{flower}/api/workers", auth=(user, password), timeout=10).status_code == 200
    finally:
        code = _ctrl_c(up)
    assert code == 0, log_path.read_text()[-3000:]
