"""Configuration changes on the real worker: a backup that only ticked is not a change, a real
change is one ``config_changed`` message with the masked diff, seen again it is none, and a
fleet run lists its changes in its one summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.changes.test_normalise import sample, ticked
from tests.fleet.test_batch_api import launch as launch_batch
from tests.fleet.test_batches_on_the_worker import settled

pytestmark = pytest.mark.usefixtures("worker")

CHANGES = "NetRaven: configuration of"


def back_up(client, user, wait_for_job, host: str, source: Path):  # type: ignore[no-untyped-def]
    response = client.post(
        "/jobs/config_backup/runs", json={"host": host, "driver": "file", "source": str(source)},
        headers=user.headers,
    )  # fmt: skip
    assert response.status_code == 202, response.get_json()
    job = wait_for_job(response.get_json()["job_log_id"])
    assert job.status == "completed", job.error_message
    return job.result


def change_mails(mails) -> list:  # type: ignore[no-untyped-def,type-arg]
    return [m.message for m in mails if str(m.message["Subject"]).startswith(CHANGES)]


def test_a_tick_is_no_change_a_real_change_is_one_masked_message_and_seeing_it_again_is_none(
    client, users, add_devices, backup_root, wait_for_job, mail, settled_mail, settings
):
    from netraven_tasks.db import session_factory
    from netraven_tasks.devices.models import Device

    with session_factory(settings).begin() as session:
        session.add(Device(name="fra-core-01", address="fra-core-01", platform="cisco_ios", enabled=True))
    config = backup_root / "fra-core-01.cfg"
    config.write_text(sample("cisco_ios"))
    first = back_up(client, users.admin, wait_for_job, "fra-core-01", config)
    config.write_text(ticked("cisco_ios"))
    tick = back_up(client, users.admin, wait_for_job, "fra-core-01", config)
    assert (first["changed"], tick["changed"]) == (False, False)
    assert (tick["lines_added"], tick["lines_removed"]) == (0, 0) and tick["sha256"] != first["sha256"]

    real = ticked("cisco_ios").replace("n0tPublic RO", "Ch4ngedCommunity RO") + "ntp server 192.0.2.124\n"
    config.write_text(real)
    change = back_up(client, users.admin, wait_for_job, "fra-core-01", config)
    assert change["changed"] and (change["lines_added"], change["lines_removed"]) == (2, 1)
    [message] = change_mails(mail.wait_for(1, address="root@example.test"))
    assert message["Subject"] == "NetRaven: configuration of fra-core-01 changed (+2 \u22121)"
    text = message.get_body(("plain",)).get_content()
    assert "+ntp server 192.0.2.124" in text
    assert "+snmp-server community <masked> RO 10" in text and "-snmp-server community <masked> RO 10" in text
    assert "Ch4ngedCommunity" not in str(message) and "n0tPublic" not in str(message)
    assert "clock-period" not in text and "Last configuration change" not in text
    assert f"/ui/devices/fra-core-01/backups/{change['sha256']}?diff={tick['sha256']}" in text

    again = back_up(client, users.admin, wait_for_job, "fra-core-01", config)  # the same change, seen again
    assert not again["changed"]
    # The sentinel's mail went through the same worker and outbox after all of the above.
    assert len(change_mails(settled_mail())) == 1


def test_a_fleet_run_lists_its_changes_in_its_summary_unless_one_asks_for_each(
    client, users, add_devices, backup_root, wait_for_job, mail, settled_mail
):
    add_devices([(f"edge-{i}", f"edge-{i}.lab") for i in range(1, 4)])
    for i in range(1, 4):
        (backup_root / f"edge-{i}.lab.cfg").write_text(sample("generic").replace("fra-fw-01", f"edge-{i}"))
    arguments = {"driver": "file", "source": str(backup_root / "{host}.cfg")}

    def run_batch() -> dict:  # type: ignore[type-arg]
        response = launch_batch(client, users.admin, {"site": "FRA"}, arguments, job_type="config_backup")
        assert response.status_code == 202, response.get_json()
        return settled(client, users.admin, response.get_json()["batch_id"])

    assert run_batch()["status"] == "completed"  # the first versions: nothing to compare
    (backup_root / "edge-2.lab.cfg").write_text(
        sample("generic").replace("fra-fw-01", "edge-2") + "ntp server x\n"
    )
    second = run_batch()
    summary = mail.wait_for(2, address="root@example.test")[-1].message
    assert summary["Subject"] == "NetRaven: config_backup on 3 devices: 3 completed"
    text = summary.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Configuration changes (1)\n- edge-2: +1 \u22120" in text, text
    assert f"/ui/batches/{second['id']}" in text

    put = client.patch(
        "/users/me/notification-preferences",
        json={"config_changes_in_batches": "each"},
        headers=users.admin.headers,
    )
    assert put.status_code == 200, put.get_json()
    (backup_root / "edge-3.lab.cfg").write_text(
        sample("generic").replace("fra-fw-01", "edge-3") + "ntp server y\n"
    )
    run_batch()
    told = settled_mail()
    assert [str(m["Subject"]) for m in change_mails(told)] == [
        "NetRaven: configuration of edge-3 changed (+1 \u22120)"
    ], "one message for the change made while the admin asked for each; none for edge-2's"
    summaries = [m for m in told if str(m.message["Subject"]).startswith("NetRaven: config_backup on 3")]
    assert len(summaries) == 3


@pytest.mark.parametrize(
    "command",
    [["-m", "netraven_tasks.cli", "db", "upgrade"], ["-m", "celery", "-A", "netraven_tasks", "worker"]],
)
def test_a_bad_ignore_file_stops_the_services_at_start_naming_the_file_and_line(tmp_path, command):
    import os
    import subprocess
    import sys

    rules = tmp_path / "ignore.yaml"
    rules.write_text("cisco_ios:\n  - '^! uptime'\n  - '(unclosed'\n")
    env = {**os.environ, "NETRAVEN_VAR_DIR": str(tmp_path), "NETRAVEN_CONFIG_IGNORE_FILE": str(rules)}
    done = subprocess.run(
        [sys.executable, *command], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0
    assert f"NETRAVEN_CONFIG_IGNORE_FILE: {rules} line 3: cisco_ios: bad regex '(unclosed'" in done.stderr
