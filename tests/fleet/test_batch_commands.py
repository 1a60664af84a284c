"""``netraven-tasks run JOB --site/--tag/--device … --wait`` and ``batches list|show`` on the worker:
exit 0 when the batch completed, 1 when it is partial, with a progress line on stderr."""

from __future__ import annotations

import contextlib
import io
import json
import socket
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.usefixtures("worker")


def cli(*args: str) -> tuple[int, str, str]:
    from netraven_tasks.cli import build_parser
    from netraven_tasks.settings import get_settings

    parsed = build_parser().parse_args(list(args))
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            parsed.func(get_settings(), parsed)
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def port() -> Iterator[int]:
    """Accepts on 127.0.0.1 and 127.0.0.2, refused on 127.0.0.3."""
    first = socket.create_server(("127.0.0.1", 0))
    second = socket.create_server(("127.0.0.2", first.getsockname()[1]))
    yield first.getsockname()[1]
    first.close()
    second.close()


def test_run_over_targets_waits_with_progress_and_exits_by_the_batch_status(add_devices, port):
    add_devices([("ok-1", "127.0.0.1"), ("ok-2", "127.0.0.2")], site="FRA", tags=("core",))
    add_devices([("bad-1", "127.0.0.3")], site="FRA", tags=("edge",))

    core = ["--site", "FRA", "--tag", "core"]
    code, out, err = cli("run", "reachability_check", *core, "--arg", f"port={port}", "--wait", "60")
    assert code == 0, (out, err)
    assert "2 devices" in out and "completed: 2 completed" in out
    assert "\r" in err and "2/2 done (100%)" in err  # the progress line, rewritten in place

    code, out, err = cli("run", "reachability_check", "--device", "ok-1", "--device", "bad-1",
                         "--arg", f"port={port}", "--wait", "60")  # fmt: skip
    assert code == 1, (out, err)
    assert "partial: 1 completed, 1 failed" in out and "failed: bad-1" in out
    batch_id = int(out.split()[1])

    code, out, _ = cli("batches", "show", str(batch_id))
    shown = json.loads(out)
    assert shown["status"] == "partial" and shown["failed_devices"] == ["bad-1"]
    code, out, _ = cli("batches", "list")
    assert out.splitlines()[0].startswith(f"{batch_id}\treachability_check\tpartial")
