"""``compliance_check`` on the real worker: a device's latest stored configuration against the
rules file, the result kept even when the run fails, alerts when a scheduled check starts failing
and when it recovers, fleet runs by inventory name, and a clear failure without a backup."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import COMPLIANCE_RULES_FILE, eventually
from tests.fleet.test_batches_on_the_worker import settled

pytestmark = pytest.mark.usefixtures("worker")

CORE_CONFIG = (
    Path(__file__).resolve().parent.parent / "support" / "configs" / "cisco_ios_core.cfg"
).read_text()
FIXED_CONFIG = CORE_CONFIG.replace(" transport input telnet ssh\n", " transport input ssh\n")
TELNET_LINE = CORE_CONFIG.split("\n").index(" transport input telnet ssh") + 1
RULES = r"""
- name: no-telnet
  description: VTY lines accept SSH only
  platforms: [cisco_ios]
  must_not_match: '^ transport input .*telnet'
- name: ntp-servers
  must_match: '^ntp server 10\.100\.0\.123'
"""
FAILURE = f"1 of 2 rules failed: no-telnet (line {TELNET_LINE}: transport input telnet ssh)"


def replace_file(path: Path, text: str) -> None:
    """Write by rename, as a deployment does: the worker sees a new file at once."""
    fresh = path.with_suffix(".new")
    fresh.write_text(text)
    os.replace(fresh, path)


@pytest.fixture
def rules_file() -> Iterator[None]:
    """The session's rules file holds RULES for the test (the worker reads the changed file)."""
    replace_file(COMPLIANCE_RULES_FILE, RULES)
    yield
    replace_file(COMPLIANCE_RULES_FILE, "[]\n")


@pytest.fixture
def inventory(settings, clean_db) -> Callable[..., None]:  # type: ignore[no-untyped-def]
    """Add cisco_ios devices (name, address) to the inventory."""
    from netraven_tasks.db import session_factory
    from netraven_tasks.devices.models import Device

    def add(*devices: tuple[str, str]) -> None:
        with session_factory(settings).begin() as session:
            for name, address in devices:
                session.add(Device(name=name, address=address, platform="cisco_ios", enabled=True))

    return add


@pytest.fixture
def back_up(client, users, backup_root, wait_for_job) -> Callable[[str, str], str]:  # type: ignore[no-untyped-def]
    """Store ``config`` as the newest shared backup of ``device`` through config_backup; its sha256."""

    def store(device: str, config: str) -> str:
        source = backup_root / f"{device}.cfg"
        source.write_text(config)
        launched = client.post(
            "/jobs/config_backup/runs",
            json={"host": device, "source": str(source)},
            headers=users.admin.headers,
        ).get_json()
        job = wait_for_job(launched["job_log_id"])
        assert job.status == "completed", job.error_message
        return str(job.result["sha256"])

    return store


def run_check(client, user, host: str, wait_for_job):  # type: ignore[no-untyped-def]
    launched = client.post("/jobs/compliance_check/runs", json={"host": host}, headers=user.headers)
    assert launched.status_code == 202, launched.get_json()
    return wait_for_job(launched.get_json()["job_log_id"])


def compliance(client, user, device: str, **query: Any) -> dict[str, Any]:
    response = client.get(f"/devices/{device}/compliance", query_string=query, headers=user.headers)
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def test_a_failing_rule_fails_the_run_and_a_fixed_backup_makes_the_next_run_complete(
    rules_file, inventory, back_up, client, users, wait_for_job
):
    inventory(("core-rtr-01", "10.1.0.1"))
    first_backup = back_up("core-rtr-01", CORE_CONFIG)

    failed = run_check(client, users.admin, "core-rtr-01", wait_for_job)
    assert (failed.status, failed.error_type, failed.attempts) == ("failed", "NonCompliant", 1)
    assert failed.error_message.split("\n")[0] == FAILURE
    assert f"no-telnet: line {TELNET_LINE}: transport input telnet ssh" in failed.error_message
    result = compliance(client, users.admin, "core-rtr-01")
    assert (result["passed"], result["summary"], result["platform"]) == (False, FAILURE, "cisco_ios")
    assert (result["job_log_id"], result["backup_sha256"], result["history"]) == (
        failed.id,
        first_backup,
        "shared",
    )
    telnet, ntp = result["rules"]
    assert (telnet["name"], telnet["status"], telnet["description"]) == (
        "no-telnet",
        "failed",
        "VTY lines accept SSH only",
    )
    assert telnet["findings"] == [
        {"kind": "forbidden", "line": TELNET_LINE, "text": " transport input telnet ssh"}
    ]
    assert (ntp["name"], ntp["status"], ntp["findings"]) == ("ntp-servers", "passed", [])

    fixed_backup = back_up("core-rtr-01", FIXED_CONFIG)
    completed = run_check(client, users.admin, "core-rtr-01", wait_for_job)
    assert completed.status == "completed", completed.error_message
    assert completed.result["summary"] == "all 2 rules passed"
    assert completed.result["backup_sha256"] == fixed_backup
    result = compliance(client, users.admin, "core-rtr-01")
    assert (result["passed"], result["job_log_id"], result["backup_sha256"]) == (
        True,
        completed.id,
        fixed_backup,
    )
    assert [rule["status"] for rule in result["rules"]] == ["passed", "passed"]


def test_without_a_backup_the_run_fails_with_no_backup(rules_file, inventory, client, users, wait_for_job):
    inventory(("core-rtr-02", "10.1.0.2"))
    failed = run_check(client, users.admin, "core-rtr-02", wait_for_job)
    assert (failed.status, failed.error_type) == ("failed", "NoBackup")
    assert failed.error_message == (
        "no stored configuration of core-rtr-02 in the shared history: run config_backup first"
    )
    assert compliance(client, users.admin, "core-rtr-02")["checked_at"] is None  # nothing was checked


def test_a_users_run_checks_only_the_users_own_history(
    rules_file, inventory, back_up, client, users, wait_for_job
):
    """A non-admin's run reads (and would write) the user's own history, like their backups: the
    shared backup is not theirs to check, nor the shared result theirs to change."""
    inventory(("core-rtr-03", "10.1.0.3"))
    back_up("core-rtr-03", CORE_CONFIG)  # the shared history
    failed = run_check(client, users.alice, "core-rtr-03", wait_for_job)
    assert (failed.status, failed.error_type) == ("failed", "NoBackup")
    assert "no stored configuration of core-rtr-03 in your own history" in failed.error_message
    assert compliance(client, users.admin, "core-rtr-03")["checked_at"] is None


def test_a_host_outside_the_inventory_is_checked_as_generic(rules_file, back_up, client, users, wait_for_job):
    back_up("lab-sw-9", CORE_CONFIG)  # telnet allowed: the no-telnet rule is for cisco_ios only
    completed = run_check(client, users.admin, "lab-sw-9", wait_for_job)
    assert completed.status == "completed", completed.error_message
    assert (completed.result["platform"], completed.result["summary"]) == ("generic", "the 1 rule passed")
    statuses = [rule["status"] for rule in compliance(client, users.admin, "lab-sw-9")["rules"]]
    assert statuses == ["not_applicable", "passed"]


def test_a_scheduled_check_alerts_when_the_device_fails_and_when_it_recovers(
    rules_file, inventory, back_up, client, users, settings, wait_for_job, mail, settled_mail
):
    from sqlalchemy import select

    from netraven_tasks.db import session_factory
    from netraven_tasks.models import JobLog
    from netraven_tasks.schedules.launcher import launch_schedule
    from netraven_tasks.schedules.models import Schedule

    inventory(("core-rtr-01", "10.1.0.1"))
    back_up("core-rtr-01", CORE_CONFIG)
    body = {"job_type": "compliance_check", "arguments": {"host": "core-rtr-01"}, "interval_seconds": 3600}
    created = client.post("/schedules", json=body, headers=users.admin.headers)
    assert created.status_code == 201, created.get_json()
    schedule_id = created.get_json()["id"]
    sessions = session_factory(settings)
    with sessions() as session:
        first = session.get_one(Schedule, schedule_id).next_run_at

    def run_slot(slot) -> Any:  # type: ignore[no-untyped-def]
        """Launch the slot as beat would; again while the missed-run check holds the schedule's row
        (the launcher skips a locked row rather than wait)."""
        launched = lambda: launch_schedule(settings, sessions, schedule_id, slot + timedelta(seconds=1))  # noqa: E731
        eventually(launched, message=f"the slot {slot} launched")
        with sessions() as session:
            run_id = session.scalar(select(JobLog.id).where(JobLog.scheduled_for == slot))
        return wait_for_job(run_id)

    def alerts(count: int) -> list[Any]:
        """The admin's mail about the check (not the unscheduled backups' completion mails)."""
        about = lambda: [m for m in mail.to("root@example.test") if "compliance_check" in m.subject]  # noqa: E731
        return eventually(lambda: len(about()) >= count and about(), message=f"{count} compliance alerts")

    assert run_slot(first).status == "failed"
    [failed] = alerts(1)  # the first failure: the outcome's own mail
    assert failed.subject == "NetRaven job failed: compliance_check on core-rtr-01"
    assert FAILURE in failed.part("plain")
    back_up("core-rtr-01", FIXED_CONFIG)
    assert run_slot(first + timedelta(hours=1)).status == "completed"
    recovered = alerts(2)[-1]
    assert recovered.subject == "NetRaven: compliance_check on core-rtr-01 recovered"
    # Nothing else about the check, once a later mail through the same path has arrived.
    checks = [m.subject for m in settled_mail() if "compliance_check" in m.subject]
    assert checks == [failed.subject, recovered.subject]


def test_a_fleet_run_checks_each_device_by_its_inventory_name(
    rules_file, inventory, back_up, client, users, settings
):
    from netraven_tasks.compliance.results import latest_compliance
    from netraven_tasks.db import session_factory

    inventory(("core-rtr-01", "127.0.0.11"), ("core-rtr-02", "127.0.0.12"))
    back_up("core-rtr-01", CORE_CONFIG)
    back_up("core-rtr-02", FIXED_CONFIG)
    launched = client.post(
        "/jobs/compliance_check/batches",
        json={"targets": {"devices": ["core-rtr-01", "core-rtr-02"]}, "arguments": {}},
        headers=users.admin.headers,
    )
    assert launched.status_code == 202, launched.get_json()
    batch = settled(client, users.admin, launched.get_json()["batch_id"])
    assert (batch["status"], batch["failed_devices"]) == ("partial", ["core-rtr-01"])
    with session_factory(settings)() as session:
        failing = latest_compliance(session, "core-rtr-01")
        passing = latest_compliance(session, "core-rtr-02")
        assert failing is not None and passing is not None
        assert (failing.passed, failing.summary, passing.passed) == (False, FAILURE, True)
