"""``GET /devices/{name}/compliance``: the latest result per rule, for everyone signed in; the
configuration's text only for those who may read the history it was checked in."""

from __future__ import annotations

from tests.support.compliance import CONFIG, keep_result


def test_an_admin_reads_the_latest_shared_result_with_the_configurations_lines(client, users, settings):
    keep_result(settings, "core-1", config=CONFIG.replace("telnet", "ssh"))
    keep_result(settings, "core-1")  # the latest
    keep_result(
        settings, "core-1", owner=users.alice.id, config=CONFIG.replace("telnet", "ssh")
    )  # alice's history
    response = client.get("/devices/core-1/compliance", headers=users.admin.headers)
    assert response.status_code == 200
    body = response.get_json()
    verdict = (body["device"], body["history"], body["passed"], body["quotes_withheld"])
    assert verdict == ("core-1", "shared", False, False)
    assert body["summary"] == "1 of 2 rules failed: no-telnet (line 3: transport input telnet)"
    common = {"description": None, "sections": None, "findings_omitted": 0}
    assert body["rules"] == [
        {**common, "name": "no-telnet", "status": "failed",
         "findings": [{"kind": "forbidden", "line": 3, "text": " transport input telnet"}]},
        {**common, "name": "ntp", "status": "passed", "findings": []},
    ]  # fmt: skip
    assert body["backup_sha256"] == "ab" * 32 and body["checked_at"] and body["job_log_id"] is None


def test_a_user_reads_the_shared_verdicts_without_the_configurations_text(client, users, settings):
    keep_result(settings, "core-1")
    body = client.get("/devices/core-1/compliance", headers=users.alice.headers).get_json()
    assert (body["passed"], body["quotes_withheld"]) == (False, True)
    assert body["summary"] == "1 of 2 rules failed: no-telnet (line 3)"
    assert body["rules"][0]["findings"] == [{"kind": "forbidden", "line": 3, "text": None}]
    assert "transport" not in str(body["rules"]) + body["summary"]


def test_a_user_reads_their_own_history_in_full_and_not_anothers(client, users, settings):
    keep_result(settings, "core-1", owner=users.alice.id)
    own = client.get(f"/devices/core-1/compliance?owner={users.alice.id}", headers=users.alice.headers)
    assert own.status_code == 200
    assert (own.get_json()["history"], own.get_json()["quotes_withheld"]) == ("owner", False)
    assert own.get_json()["rules"][0]["findings"][0]["text"] == " transport input telnet"
    other = client.get(f"/devices/core-1/compliance?owner={users.alice.id}", headers=users.bob.headers)
    assert other.status_code == 403 and "only admins" in other.get_json()["message"]
    admin = client.get(f"/devices/core-1/compliance?owner={users.alice.id}", headers=users.admin.headers)
    assert admin.get_json()["rules"][0]["findings"][0]["text"] == " transport input telnet"


def test_the_run_that_made_the_result_is_linked(client, users, settings, insert_job_logs):
    from datetime import UTC, datetime

    [job_log_id] = insert_job_logs(
        [{"task_id": "compliance-run-1", "job_type": "compliance_check", "status": "failed",
          "queued_at": datetime.now(UTC)}]
    )  # fmt: skip
    keep_result(settings, "core-1", task_id="compliance-run-1")
    body = client.get("/devices/core-1/compliance", headers=users.bob.headers).get_json()
    assert (body["task_id"], body["job_log_id"]) == ("compliance-run-1", job_log_id)


def test_a_known_device_never_checked_has_an_empty_result_and_an_unknown_one_is_404(client, users, settings):
    from netraven_tasks.db import session_factory
    from netraven_tasks.devices.models import Device

    with session_factory(settings).begin() as session:
        session.add(Device(name="edge-9", address="edge-9", platform="cisco_ios"))
    body = client.get("/devices/edge-9/compliance", headers=users.alice.headers).get_json()
    assert body == {
        "device": "edge-9", "history": "shared", "checked_at": None, "passed": None, "summary": None,
        "platform": None, "backup_sha256": None, "task_id": None, "job_log_id": None,
        "quotes_withheld": False, "rules": [],
    }  # fmt: skip
    missing = client.get("/devices/no-such-device/compliance", headers=users.alice.headers)
    assert missing.status_code == 404 and missing.is_json
    assert missing.get_json()["message"] == (
        "no device named no-such-device in the inventory, and no compliance result of it"
    )
    keep_result(settings, "lab-host")  # not in the inventory, but checked: its result is there
    assert client.get("/devices/lab-host/compliance", headers=users.alice.headers).status_code == 200


def test_bad_input_and_no_token_are_json_errors(client, users, settings):
    bad = client.get("/devices/core-1/compliance?owner=zero", headers=users.admin.headers)
    assert bad.status_code == 422 and "owner" in bad.get_json()["errors"]["query"]
    assert client.get("/devices/core-1/compliance").status_code == 401
    long_name = client.get(f"/devices/{'x' * 300}/compliance", headers=users.admin.headers)
    assert long_name.status_code == 404 and long_name.is_json
