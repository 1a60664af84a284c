"""The inventory pages in a real browser: the device table and its filters, one device with its runs
and backups."""

from __future__ import annotations

import re
import socket

import pytest
import requests

from tests.ui.conftest import PHONE
from tests.ui.test_batch_pages import launch as launch_batch
from tests.ui.test_batch_pages import settled
from tests.ui.test_dashboard import launch

pytestmark = pytest.mark.slow

FLEET = [
    {"name": "core-rtr-01", "address": "10.0.0.1", "platform": "cisco_ios", "site": "FRA", "tags": ["core"]},
    {"name": "core-rtr-02", "platform": "juniper_junos", "site": "AMS", "tags": ["core", "pop:ams"]},
    {"name": "edge-sw-01", "platform": "arista_eos", "site": "FRA", "tags": ["edge"]},
    {"name": "old-rtr", "platform": "cisco_ios", "site": "FRA", "tags": ["core"], "enabled": False},
]


def rows(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.locator("#devices tbody tr").evaluate_all("rows => rows.map(r => r.id)")  # type: ignore[no-any-return]


def test_the_inventory_table_filters_by_site_platform_and_tag(dashboard, users, api_server):
    for body in FLEET:
        added = requests.post(f"{api_server.url}/devices", json=body, headers=users.admin.headers, timeout=10)
        assert added.status_code == 201, added.text
    tab = dashboard()
    page = tab.open("/ui/devices")
    tab.sign_in(users.alice)  # reading the inventory needs no admin
    assert rows(page) == ["device-core-rtr-01", "device-core-rtr-02", "device-edge-sw-01", "device-old-rtr"]
    assert page.locator("nav a[aria-current=page]").inner_text() == "Devices"
    page.select_option("#f-site", "FRA")
    page.click(".filters button[type=submit]")
    page.wait_for_url(re.compile(r"site=FRA"))
    assert rows(page) == ["device-core-rtr-01", "device-edge-sw-01", "device-old-rtr"]
    page.select_option("#f-tag", "core")
    page.select_option("#f-enabled", "true")
    page.click(".filters button[type=submit]")
    page.wait_for_url(re.compile(r"tag=core"))
    assert rows(page) == ["device-core-rtr-01"]
    tab.screenshot("devices-filtered")
    page.goto(f"{api_server.url}/ui/devices?platform=juniper_junos")
    assert rows(page) == ["device-core-rtr-02"]
    page.goto(f"{api_server.url}/ui/devices?platform=cisco_os")
    assert "platform: must be one of" in page.locator("#filter-error").inner_text()
    page.goto(f"{api_server.url}/ui/devices?site=LON")
    assert "No device matches these filters" in page.inner_text("main")


def test_a_device_page_shows_its_fields_runs_and_backups(
    dashboard, users, api_server, backup_root, wait_for_job
):
    requests.post(f"{api_server.url}/devices", json=FLEET[0], headers=users.admin.headers, timeout=10)
    config = backup_root / "core-rtr-01.cfg"
    config.write_text("hostname core-rtr-01\n")
    backup = launch(api_server, users.admin, "config_backup", {"host": "core-rtr-01", "source": str(config)})
    other = launch(api_server, users.admin, "test_flaky", {"succeed_on_attempt": 1, "host": "core-rtr-02"})
    for job in (backup, other):
        wait_for_job(job["job_log_id"])
    tab = dashboard()
    page = tab.open("/ui/devices")
    tab.sign_in(users.admin)
    page.click("#devices a:text('core-rtr-01')")
    page.wait_for_url(re.compile(r"/ui/devices/core-rtr-01$"))
    assert page.locator("h1").inner_text() == "core-rtr-01"
    assert page.locator("[data-field=address]").inner_text() == "10.0.0.1"
    assert page.locator("[data-field=tags]").inner_text() == "core"
    run_ids = page.locator("#device-runs tbody tr").evaluate_all("rows => rows.map(r => r.id)")
    assert run_ids == [f"job-{backup['job_log_id']}"]  # the run on core-rtr-02 is not listed here
    link = page.locator("#device-backups [data-field=view]").first
    assert re.fullmatch(r"/ui/devices/core-rtr-01/backups/[0-9a-f]{64}", link.get_attribute("href") or "")
    tab.screenshot("device-detail")
    link.click()
    assert page.locator("#content td.src").all_inner_texts() == ["hostname core-rtr-01"]
    page.go_back()
    missing = tab.open("/ui/devices/no-such-device")
    assert "There is no device no-such-device you may see" in missing.inner_text("main")

    phone = dashboard(PHONE)
    phone.open("/ui/devices")
    phone.sign_in(users.admin)
    for path in ("/ui/devices", "/ui/devices/core-rtr-01"):
        page = phone.open(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} is wider than a phone by {overflow}px"
        phone.screenshot(path.strip("/").replace("/", "-") + "-phone")


def test_the_inventory_shows_the_newest_outcome_of_each_job_type_the_user_may_see(
    dashboard, users, api_server, add_devices, wait_for_job
):
    add_devices([("up-1", "127.0.0.1"), ("down-1", "127.0.0.2")], site="OUT")
    with socket.create_server(("127.0.0.1", 0)) as listener, socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: it refuses, and nothing else takes it
        for port in (closed.getsockname()[1], listener.getsockname()[1]):  # both fail, then up-1 answers
            batch_id = launch_batch(api_server, users.alice, {"site": "OUT"}, {"port": port})
            settled(api_server, users.alice, batch_id)
    other = launch(api_server, users.bob, "test_flaky", {"succeed_on_attempt": 1, "host": "up-1"})
    wait_for_job(other["job_log_id"])

    def outcomes(page, name):  # type: ignore[no-untyped-def]
        return page.locator(f"#device-{name} [data-field=outcomes] a").all_inner_texts()

    tab = dashboard()
    page = tab.open("/ui/devices?site=OUT")
    tab.sign_in(users.alice)
    assert outcomes(page, "up-1") == ["reachability_check completed"]  # the newer of two runs; not bob's
    assert outcomes(page, "down-1") == ["reachability_check failed"]
    admin = dashboard()
    admin_page = admin.open("/ui/devices?site=OUT")
    admin.sign_in(users.admin)
    assert outcomes(admin_page, "up-1") == ["reachability_check completed", "test_flaky completed"]
    link = admin_page.locator("#device-up-1 [data-field=outcomes] a", has_text="test_flaky")
    assert link.get_attribute("href") == f"/ui/job-logs/{other['job_log_id']}"


def test_the_last_outcomes_of_a_page_are_one_query_through_the_device_index(db_session, clean_db):
    from sqlalchemy import text
    from sqlalchemy.dialects import postgresql

    from api.ui.device_pages import last_outcomes_query

    db_session.execute(
        text(
            "INSERT INTO job_logs (task_id, job_type, device, status, attempts, celery_retries, queued_at,"
            " updated_at) SELECT 'explain-' || n, (ARRAY['reachability_check', 'config_backup'])[n % 2 + 1],"
            " 'dev-' || lpad((n / 2 % 5000)::text, 4, '0'), (ARRAY['completed', 'failed'])[n % 3 % 2 + 1],"
            " 1, 0, now() - n * interval '1 second', now() FROM generate_series(1, 60000) AS n"
        )
    )
    db_session.execute(text("ANALYZE job_logs"))
    names = [f"dev-{n:04d}" for n in range(100, 150)]  # a page of 50 devices
    query = last_outcomes_query(names, None).compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    plan = "\n".join(db_session.scalars(text(f"EXPLAIN {query}")))
    assert "ix_job_logs_device_queued_at" in plan, plan
    assert "Seq Scan" not in plan, plan
    print(f"last outcomes of 50 devices over 60,000 runs:\n{plan}")
    rows = db_session.execute(last_outcomes_query(names, None)).all()
    assert len(rows) == 100 and {row.device for row in rows} == set(names)  # 50 devices, 2 job types each
    db_session.rollback()


def test_a_device_page_shows_its_latest_compliance_result_quoting_lines_only_to_admins(
    dashboard, users, api_server, settings
):
    from tests.support.compliance import keep_result

    requests.post(f"{api_server.url}/devices", json=FLEET[0], headers=users.admin.headers, timeout=10)
    tab = dashboard()
    page = tab.open("/ui/devices/core-rtr-01")
    tab.sign_in(users.admin)
    assert "has not been checked for compliance" in page.locator("#compliance").inner_text()

    keep_result(settings, "core-rtr-01")  # one passing rule (ntp), one failing (no-telnet on line 3)
    page = tab.open("/ui/devices/core-rtr-01")
    assert page.locator("#compliance [data-field=summary]").inner_text().startswith("1 of 2 rules failed")
    telnet = page.locator("#compliance-rules tr[data-rule=no-telnet]")
    assert telnet.locator("[data-field=status]").inner_text() == "failed"
    assert telnet.locator("[data-field=findings]").inner_text() == "line 3: transport input telnet"
    ntp = page.locator("#compliance-rules tr[data-rule=ntp]")
    assert ntp.locator("[data-field=status]").inner_text() == "passed"

    alice = dashboard()
    page = alice.open("/ui/devices/core-rtr-01")
    alice.sign_in(users.alice)
    findings = page.locator("#compliance-rules tr[data-rule=no-telnet] [data-field=findings]").inner_text()
    assert findings == "line 3" and "transport input" not in page.locator("#compliance-rules").inner_text()
