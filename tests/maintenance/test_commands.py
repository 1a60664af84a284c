"""``netraven-tasks maintenance list|create|end|delete``."""

from __future__ import annotations

import contextlib
import io
import json


def cli(*args: str) -> tuple[int, str, str]:
    """``netraven-tasks ARGS`` through its ``main``: exit status, stdout, stderr."""
    from netraven_tasks.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_create_list_end_and_delete_a_window(settings, clean_db):
    code, out, err = cli(
        "maintenance", "create", "--duration", "2h", "--site", "FRA", "--tag", "core",
        "--schedule", "7", "--skip-runs", "--reason", "CHG-9",
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith("created: #1") and "active" in out and "sites FRA" in out and "skip-runs" in out
    code, out, _ = cli("maintenance", "list", "--state", "active", "--json")
    [window] = json.loads(out)
    assert window["match"] == {"devices": [], "sites": ["FRA"], "tags": ["core"], "schedule_ids": [7]}
    assert window["reason"] == "CHG-9" and window["skip_runs"] is True

    code, _, err = cli("maintenance", "delete", "1")
    assert code == 2 and "in progress: end it first" in err
    code, out, _ = cli("maintenance", "end", "1")
    assert code == 0 and out.startswith("ended: #1") and "ended" in out
    code, _, err = cli("maintenance", "end", "1")
    assert code == 2 and "has ended already" in err


def test_a_window_without_a_match_or_an_end_is_refused_by_name(settings, clean_db):
    code, _, err = cli("maintenance", "create", "--duration", "1h")
    assert code == 2 and "give at least one of devices, sites, tags or schedule_ids" in err
    code, _, err = cli("maintenance", "create", "--device", "r1")
    assert code == 2 and "--end or --duration" in err
    code, _, err = cli(
        "maintenance",
        "create",
        "--device",
        "r1",
        "--start",
        "2026-03-01T22:00:00",
        "--end",
        "2026-03-02T01:00:00+00:00",
    )
    assert code == 2 and "starts_at" in err and "offset" in err
    code, _, err = cli("maintenance", "create", "--device", "r1", "--duration", "soon")
    assert code == 2 and "no duration" in err
    assert cli("maintenance", "list")[1].strip() == "no maintenance windows"
