"""``GET /devices/{host}/backups[/{sha256}]``: the +/- counts of each version, and the diff people
read (normalised for the device's platform, secrets masked) beside the raw, unmasked content."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("clean_db")

BEFORE = """! Last configuration change at 09:12:44 UTC Fri Dec 4 2026 by admin
hostname edge-rtr-01
snmp-server community 0ldC0mmunity RO
"""
AFTER = """! Last configuration change at 21:40:07 UTC Fri Dec 4 2026 by admin
hostname edge-rtr-01
snmp-server community N3wC0mmunity RO
ntp server 192.0.2.7
"""


def store(db_session, content: str, platform: str = "generic") -> str:  # type: ignore[no-untyped-def]
    from netraven_tasks.backups.normalise import build_rules
    from netraven_tasks.backups.store import Comparison, store_backup

    stored = store_backup(
        db_session, device="edge-rtr-01", content=content.encode(), namespace_owner_id=None,
        launched_by_id=None, driver="file", task_id=None, comparison=Comparison(platform, build_rules()),
    )  # fmt: skip
    db_session.commit()
    return stored.version.sha256


def test_the_diff_is_normalised_and_masked_and_the_content_is_not(client, users, db_session):
    before, after = store(db_session, BEFORE), store(db_session, AFTER)
    answer = client.get(f"/devices/edge-rtr-01/backups/{after}?diff={before}", headers=users.admin.headers)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["diff"] == (
        f"--- edge-rtr-01@{before[:12]}\n"
        f"+++ edge-rtr-01@{after[:12]}\n"
        "@@ -1,2 +1,3 @@\n"
        " hostname edge-rtr-01\n"
        "-snmp-server community <masked> RO\n"
        "+snmp-server community <masked> RO\n"
        "+ntp server 192.0.2.7\n"
    )  # no timestamp line, neither community
    assert (body["lines_added"], body["lines_removed"], body["diff_lines_omitted"]) == (2, 1, 0)
    content = client.get(f"/devices/edge-rtr-01/backups/{after}", headers=users.admin.headers).get_json()
    assert content["content"] == AFTER  # the stored text: what the device printed, secret included

    versions = client.get("/devices/edge-rtr-01/backups", headers=users.admin.headers).get_json()["versions"]
    assert [(v["lines_added"], v["lines_removed"]) for v in versions] == [(2, 1), (None, None)]


def test_the_diff_follows_the_devices_platform_in_the_inventory(client, users, db_session):
    before = store(db_session, "hostname edge-rtr-01\nntp clock-period 17180157\n", "cisco_ios")
    after = store(db_session, "hostname edge-rtr-01\nntp clock-period 17180999\n", "cisco_ios")
    url = f"/devices/edge-rtr-01/backups/{after}?diff={before}"
    outside = client.get(url, headers=users.admin.headers).get_json()
    assert "+ntp clock-period 17180999\n" in outside["diff"]  # not in the inventory: the generic rules
    added = client.post(
        "/devices", json={"name": "edge-rtr-01", "platform": "cisco_ios"}, headers=users.admin.headers
    )
    assert added.status_code == 201
    inside = client.get(url, headers=users.admin.headers).get_json()
    assert (inside["diff"], inside["lines_added"], inside["lines_removed"]) == ("", 0, 0)
