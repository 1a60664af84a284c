"""A broker blink under load: Redis stopped 10 s (the database cut for part of it) while jobs
finish. Every run ends as it really ended, its owner gets one mail, and no event is dropped."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import ROOT, TEST_DB_URL, TEST_ENV, eventually, free_port
from tests.reliability.test_faults import worker_on
from tests.support.redis_server import start_redis_server
from tests.support.tcp_proxy import TcpProxy

pytestmark = [
    pytest.mark.slow,
    pytest.mark.usefixtures("clean_db"),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server"),
]

CHILDREN = 6
OWNER = "blink-owner@example.test"
SENTINEL = "blink-sentinel@example.test"


def launch(env: dict[str, str], owner: int, jobs: list[dict[str, object]]) -> list[int]:
    """Launch ``test_outcome`` runs as the API does (through the test's broker); their row ids."""
    code = (
        "import json, sys\n"
        "import netraven_tasks.celery_app\n"
        "from netraven_tasks.jobs.launch import launch_job\n"
        "from netraven_tasks.settings import get_settings\n"
        "ids = [launch_job(get_settings(), 'test_outcome', args, int(sys.argv[1])).job_log_id\n"
        "       for args in json.loads(sys.argv[2])]\n"
        "print(json.dumps(ids))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(owner), json.dumps(jobs)],
        env=env, cwd=ROOT, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return [int(i) for i in json.loads(done.stdout.strip().splitlines()[-1])]


def test_redis_down_10s_with_the_database_cut_loses_no_outcome(tmp_path: Path, settings, mail):
    from netraven_tasks.notifications.tasks import deliver_outbox
    from netraven_tasks.tracking.events import EventKind, TrackingEvent
    from netraven_tasks.tracking.spool import SPOOL_FOLDER, Spool
    from netraven_tasks.users import create_user

    engine = sa.create_engine(TEST_DB_URL)
    with sa.orm.Session(engine) as session, session.begin():
        owner = create_user(session, "blink-owner", OWNER).id
        sentinel = create_user(session, "blink-sentinel", SENTINEL).id
    port = free_port()
    server = start_redis_server(port, tmp_path)
    broker = f"redis://127.0.0.1:{port}/0"
    var_dir = tmp_path / "var"  # its own spool: no session process replays it
    # What a worker that died during an earlier outage left: a whole run, and half a line.
    left = Spool(var_dir / SPOOL_FOLDER)
    for kind in (EventKind.QUEUED, EventKind.STARTED, EventKind.SUCCEEDED):
        left.append(TrackingEvent(kind=kind, task_id="left-in-the-spool", job_type="test_outcome"))
    with left.path.open("ab") as spool_file:
        spool_file.write(b'{"kind": "succeeded", "task_id": "cut-')
    env = {**os.environ, **TEST_ENV, "NETRAVEN_BROKER_URL": broker, "NETRAVEN_VAR_DIR": str(var_dir)}
    database = sa.engine.make_url(TEST_DB_URL)
    proxy = TcpProxy(database.port or 5432).start()
    # The worker (its children, its recorder) reaches PostgreSQL only through the proxy.
    proxied = database.set(port=proxy.port).render_as_string(hide_password=False)
    # Six runs, one per child, that end one a second apart in the outage (every third fails by
    # design); twelve short ones after it. A run's real outcome is its argument.
    blinking = [{"host": f"blink-{i:02d}", "seconds": 4.0 + i, "fail": i % 3 == 0} for i in range(CHILDREN)]
    after = [{"host": f"after-{i:02d}", "seconds": 0.1, "fail": i % 3 == 1} for i in range(12)]
    statuses = sa.text("SELECT id, status FROM job_logs WHERE owner_id = :owner")

    def rows() -> dict[int, str]:
        with engine.connect() as connection:
            return dict(connection.execute(statuses, {"owner": owner}).all())

    try:
        with worker_on(
            broker,
            "blink",
            tmp_path,
            ["--concurrency", str(CHILDREN)],
            NETRAVEN_DATABASE_URL=proxied,
            NETRAVEN_VAR_DIR=str(var_dir),
        ) as worker:
            left_behind = sa.text("SELECT status, attempts FROM job_logs WHERE task_id = 'left-in-the-spool'")

            def left_run() -> tuple[str, int] | None:
                with engine.connect() as connection:
                    row = connection.execute(left_behind).one_or_none()
                return None if row is None else (row.status, row.attempts)

            # Replayed as the worker started (the queued row at once, the rest through the stream).
            eventually(lambda: left_run() == ("completed", 1), 10, lambda: f"the run left: {left_run()}")
            ids = launch(env, owner, blinking)
            eventually(lambda: list(rows().values()).count("running") == CHILDREN, 30, "every child busy")
            server.terminate()  # Redis stops with every child in the middle of a run
            server.wait(10)
            time.sleep(1.5)
            proxy.block()  # the database too, as the runs of 2 to 5 s into the outage end: spool only
            time.sleep(4.5)
            proxy.unblock()
            time.sleep(4.0)
            server = start_redis_server(port, tmp_path)  # 10 s after it stopped
            ids += launch(env, owner, after)
            expected = {job_id: "failed" if args["fail"] else "completed" for job_id, args in
                        zip(ids, blinking + after, strict=True)}  # fmt: skip
            eventually(lambda: rows() == expected, 40, lambda: f"runs as they ended: {rows()} vs {expected}")
            eventually(lambda: not left.holds_events(), 10, "the spool replayed and emptied")
            deliver_outbox()  # delivery woken while Redis was down waits for beat's periodic pass
            mail.wait_for(len(ids), address=OWNER)
            # A duplicate has had as long to arrive as the sentinel's mail took.
            launch(env, sentinel, [{"host": "sentinel"}])
            mail.wait_for(1, address=SENTINEL)
            log = worker.log()
    finally:
        proxy.stop()
        server.terminate()
        server.wait(10)
        engine.dispose()
    assert "could not record" not in log
    assert "kept in the spool" in log, "the database was cut too: some events went through the spool"
    received = mail.to(OWNER)
    for args in blinking + after:
        word = "failed" if args["fail"] else "completed"
        subjects = [m.subject for m in received if m.subject.endswith(f" on {args['host']}")]
        assert subjects == [f"NetRaven job {word}: test_outcome on {args['host']}"], subjects
    assert len(received) == len(ids)
