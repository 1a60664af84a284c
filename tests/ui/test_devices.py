"""The inventory pages in a real browser: the device table and its filters, one device with its runs
and backups."""

from __future__ import annotations

import re

import pytest
import requests

from tests.ui.conftest import PHONE
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
    link = page.locator("#device-backups a").first
    assert re.fullmatch(r"/devices/core-rtr-01/backups/[0-9a-f]{64}", link.get_attribute("href") or "")
    tab.screenshot("device-detail")
    response = page.request.get(api_server.url + (link.get_attribute("href") or ""))
    assert response.status == 200 and response.json()["content"] == "hostname core-rtr-01\n"
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
