"""Launching jobs and keeping schedules from the dashboard, in a real browser against the real API
and the session's worker: the generated launch form, the fleet selector's live count, the API's
422 beside its field, a schedule's preview of its next runs, pause and delete."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

from tests.conftest import eventually
from tests.ui.conftest import LAPTOP
from tests.ui.test_batch_pages import REACHABLE, port  # noqa: F401 - a TCP listener on 127.0.0.1

pytestmark = pytest.mark.slow

NARROW = {"width": 375, "height": 812}  # the narrowest phone a NOC engineer carries


def by_id(page, element_id: str) -> Any:  # type: ignore[no-untyped-def]
    """The element with this id (ours contain dots, which a CSS #id selector would misread)."""
    return page.locator(f'[id="{element_id}"]')


def api_get(server, person, path: str) -> requests.Response:  # type: ignore[no-untyped-def]
    return requests.get(f"{server.url}{path}", headers=person.headers, timeout=10)


def test_launch_a_reachability_check_from_the_form_and_watch_it_complete(dashboard, users, port):  # noqa: F811
    tab = dashboard()
    page = tab.open("/ui/jobs")
    tab.sign_in(users.alice)
    assert page.locator("nav a[aria-current=page]").inner_text() == "Jobs"
    reachability = page.locator("#type-reachability_check")
    assert "Open a TCP connection" in reachability.inner_text()
    assert "up to 3 attempts, on TimeoutError" in reachability.inner_text()
    # config_backup's roles depend on the driver: with the default (file) only admins may launch it
    backup = page.locator("#type-config_backup")
    assert "with the defaults: admins" in backup.inner_text() and backup.locator(".not-offered").is_visible()
    assert backup.locator("a", has_text="Launch").count() == 0
    reachability.locator("a", has_text="Launch reachability_check").click()
    page.wait_for_url(re.compile(r"/ui/jobs/reachability_check/launch$"))

    assert page.locator("#arg-port").input_value() == "22"  # the schema's load_default
    assert page.locator("#arg-port").get_attribute("max") == "65535"
    assert page.locator("#arg-timeout").get_attribute("step") == "any"
    page.fill("#arg-host", REACHABLE)
    page.fill("#arg-port", str(port))
    page.click("#launch-form button[type=submit]")
    page.wait_for_url(re.compile(r"/ui/job-logs/\d+$"))
    page.locator("#job .status", has_text="completed").wait_for(timeout=30_000)
    job_id = int(page.url.rsplit("/", 1)[1])
    run = api_get(tab.server, users.alice, f"/job-logs/{job_id}").json()
    assert run["status"] == "completed" and run["owner_id"] == users.alice.id
    assert run["args"] == {"host": REACHABLE, "port": port, "timeout": 5.0}


def test_invalid_values_show_the_apis_error_beside_their_field(dashboard, users, api_server):
    tab = dashboard()
    page = tab.open("/ui/jobs/reachability_check/launch")
    tab.sign_in(users.alice)
    page.fill("#arg-port", "70000")
    page.click("#launch-form button[type=submit]")
    error = by_id(page, "error-arguments.port")
    error.wait_for()
    assert "65535" in error.inner_text() and page.locator("#arg-port").get_attribute("aria-invalid") == "true"
    assert "required" in by_id(page, "error-arguments.host").inner_text().lower()  # host was left empty
    assert by_id(page, "error-arguments.timeout").is_hidden() and page.locator("#form-error").is_hidden()
    assert re.search(r"/launch$", page.url)  # nothing launched
    tab.screenshot("launch-error")
    assert api_get(api_server, users.alice, "/job-logs").json() == []

    page.fill("#arg-port", "22")
    page.fill("#arg-timeout", "")  # blank: the job type's default
    page.fill("#arg-host", "not a host!")
    page.click("#launch-form button[type=submit]")
    by_id(page, "error-arguments.host").filter(has_text="hostname").wait_for()
    assert by_id(page, "error-arguments.port").is_hidden()

    refused = tab.open("/ui/jobs/config_backup/launch")  # not offered to alice: no form at all
    assert "not offered" in refused.inner_text("main") and refused.locator("form#launch-form").count() == 0


def test_launch_over_a_site_shows_the_live_count_and_opens_the_batch_page(
    dashboard,
    users,
    api_server,
    add_devices,
    port,  # noqa: F811
):
    add_devices([(f"lab-{i}", REACHABLE) for i in range(3)], site="LAB", tags=["core"])
    add_devices([("lab-edge", REACHABLE)], site="LAB", tags=["edge"])
    add_devices([("far-1", REACHABLE)], site="FAR", tags=["core"])
    tab = dashboard()
    page = tab.open("/ui/jobs/reachability_check/launch")
    tab.sign_in(users.alice)
    assert page.locator("#target-fleet").is_hidden()
    page.check("input[name=target-mode][value=fleet]")
    count = page.locator("#target-count")
    count.filter(has_text="Choose a site").wait_for()
    page.select_option("#target-site", "LAB")
    count.filter(has_text="4 enabled devices match").wait_for()
    page.check("input[name=target-tag][value=core]")
    count.filter(has_text="3 enabled devices match").wait_for()
    page.select_option("#target-platform", "cisco_ios")
    count.filter(has_text="0 enabled devices match").wait_for()
    page.click("#launch-form button[type=submit]")  # nothing matches: the API's 422 beside the selector
    by_id(page, "error-targets").filter(has_text="no enabled device matches").wait_for()
    page.select_option("#target-platform", "")
    count.filter(has_text="3 enabled devices match").wait_for()
    tab.screenshot("launch-fleet")

    page.fill("#arg-port", str(port))
    page.click("#launch-form button[type=submit]")
    page.wait_for_url(re.compile(r"/ui/batches/\d+$"))
    batch_id = int(page.url.rsplit("/", 1)[1])
    batch = api_get(api_server, users.alice, f"/batches/{batch_id}").json()
    assert batch["total"] == 3 and batch["owner"] == users.alice.id  # what the count said
    page.locator("#batch .status", has_text="completed").wait_for(timeout=60_000)
    devices = page.locator("#batch-children tbody tr td:first-child").all_inner_texts()
    assert sorted(devices) == ["lab-0", "lab-1", "lab-2"]


def test_create_a_cron_schedule_see_its_preview_pause_it_and_delete_it(dashboard, users, api_server):
    tab = dashboard()
    page = tab.open("/ui/schedules")
    tab.sign_in(users.alice)
    assert page.locator("nav a[aria-current=page]").inner_text() == "Schedules"
    assert "No schedule yet" in page.inner_text("main")
    page.click("main >> text=New schedule")
    page.select_option("#new-job-type", "reachability_check")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/ui/schedules/new\?job_type=reachability_check$"))
    runs = page.locator("#preview-runs li")
    eventually(lambda: runs.count() == 5, message="the preview of the default interval")
    assert page.locator("#preview-words").inner_text() == "Runs every hour."

    page.fill("#arg-host", REACHABLE)
    page.check("input[name=timing-mode][value=cron]")
    page.fill("#timezone", "Europe/Berlin")
    page.fill("#cron", "0 2 * *")
    page.locator("#error-cron", has_text="five fields").wait_for()
    assert runs.count() == 0 and page.locator("#cron").get_attribute("aria-invalid") == "true"
    page.fill("#cron", "0 2 * * *")
    page.locator("#preview-words", has_text="every day at 02:00 (Europe/Berlin)").wait_for()
    eventually(lambda: runs.count() == 5, message="five runs in the preview")
    assert page.locator("#error-cron").is_hidden()
    shown = runs.all_inner_texts()
    assert all("(Europe/Berlin)" in text and "02:00" in text for text in shown), shown
    preview = api_get(api_server, users.alice, "/schedules/preview?cron=0+2+*+*+*&timezone=Europe/Berlin")
    assert [item.get_attribute("datetime") for item in runs.locator("time").all()] == [
        run["at"] for run in preview.json()["runs"]
    ]
    page.fill("#description", "nightly reachability of the lab")
    tab.screenshot("schedule-new")
    page.click("#schedule-form button[type=submit]")
    page.wait_for_url(re.compile(r"/ui/schedules/\d+$"))
    schedule_id = int(page.url.rsplit("/", 1)[1])
    stored = api_get(api_server, users.alice, f"/schedules/{schedule_id}").json()
    assert stored["cron"] == "0 2 * * *" and stored["timezone"] == "Europe/Berlin"
    assert stored["arguments"] == {"host": REACHABLE, "port": 22, "timeout": 5.0} and stored["enabled"]
    assert stored["description"] == "nightly reachability of the lab" and stored["targets"] is None
    assert page.locator("#schedule [data-field=state]").inner_text() == "ok"
    assert "every day at 02:00 (Europe/Berlin)" in page.inner_text("#schedule")
    assert "No run yet" in page.inner_text("main")

    page.click("button[data-schedule-action=pause]")
    page.locator("button[data-schedule-action=resume]").wait_for()
    assert page.locator("#schedule [data-field=state]").inner_text() == "paused"
    assert api_get(api_server, users.alice, f"/schedules/{schedule_id}").json()["enabled"] is False

    page.goto(f"{api_server.url}/ui/schedules")
    row = page.locator(f"#schedule-{schedule_id}")
    assert "paused" in row.inner_text() and "device 127.0.0.1" in row.inner_text()
    row.locator("a").first.click()
    page.click("button[data-schedule-action=delete]")  # the fixture accepts the confirm
    page.wait_for_url(re.compile(r"/ui/schedules$"))
    assert api_get(api_server, users.alice, f"/schedules/{schedule_id}").status_code == 404


def test_edit_a_schedule_into_a_fleet_schedule_and_see_the_apis_errors(
    dashboard, users, api_server, add_devices
):
    add_devices([("edit-1", REACHABLE)], site="EDIT", tags=["core"])
    body = {"job_type": "reachability_check", "arguments": {"host": "h1"}, "interval_seconds": 7200}
    created = requests.post(f"{api_server.url}/schedules", json=body, headers=users.alice.headers, timeout=10)
    schedule_id = created.json()["id"]
    tab = dashboard()
    page = tab.open(f"/ui/schedules/{schedule_id}")
    tab.sign_in(users.alice)
    assert page.locator("#interval-count").input_value() == "2"
    assert page.locator("#interval-unit").input_value() == "3600"  # hours
    assert page.locator("#arg-host").input_value() == "h1"
    page.fill("#grace", "0")
    page.click("#schedule-form button[type=submit]")
    page.locator("#error-grace_seconds").wait_for()
    assert page.locator("#grace").get_attribute("aria-invalid") == "true"
    page.fill("#grace", "")
    page.check("input[name=target-mode][value=fleet]")
    page.select_option("#target-site", "EDIT")
    page.locator("#target-count", has_text="1 enabled device matches").wait_for()
    page.click("#schedule-form button[type=submit]")
    page.locator("#schedule", has_text="site EDIT").wait_for()  # saved, and the page loaded again
    stored = api_get(api_server, users.alice, f"/schedules/{schedule_id}").json()
    assert stored["targets"] == {"site": "EDIT"} and "host" not in stored["arguments"]
    assert stored["grace_seconds"] == 7200 // 5  # empty: the default for the period
    bobs = requests.post(
        f"{api_server.url}/schedules", json=body, headers=users.bob.headers, timeout=10
    ).json()
    for hidden in (bobs["id"], 999_999, "99999999999", "x"):  # another user's, absent, beyond INT, no id
        assert "no such schedule" in tab.open(f"/ui/schedules/{hidden}").inner_text("main")


def console_errors(page) -> list[str]:  # type: ignore[no-untyped-def]
    """What the page reports as errors from now on: console errors and uncaught exceptions."""
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def _focusable_in_order(page, stop_at: str, limit: int = 60) -> list[str]:  # type: ignore[no-untyped-def]
    """Tab from the top until ``stop_at`` has the focus; the tag of each element passed on the way."""
    tags = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        tags.append(page.evaluate("document.activeElement.tagName + '#' + document.activeElement.id"))
        if tags[-1].endswith("#" + stop_at):
            return tags
    raise AssertionError(f"{stop_at} never got the focus: {tags}")


def test_every_new_page_fits_375_and_1280_without_a_console_error_and_works_with_the_keyboard(
    dashboard, users, api_server, add_devices
):
    add_devices([("tour-1", REACHABLE)], site="TOUR", tags=["core", "a-rather-long-tag-name-for-a-phone"])
    body = {"job_type": "reachability_check", "targets": {"site": "TOUR"}, "cron": "*/15 * * * *"}
    created = requests.post(f"{api_server.url}/schedules", json=body, headers=users.admin.headers, timeout=10)
    assert created.status_code == 201, created.text
    schedule_id = created.json()["id"]
    pages = [
        "jobs", "jobs/reachability_check/launch", "jobs/config_backup/launch", "schedules", "schedules/new",
        "schedules/new?job_type=config_backup", f"schedules/{schedule_id}",
    ]  # fmt: skip
    for label, viewport in (("1280", LAPTOP), ("375", NARROW)):
        tab = dashboard(viewport)
        problems = console_errors(tab.page)
        tab.open("/ui/jobs")
        tab.sign_in(users.admin)
        for name in pages:
            page = tab.open(f"/ui/{name}")
            assert page.locator("h1").count() == 1
            if "launch" in name or "schedules/" in name:  # let the form's first requests answer
                page.wait_for_load_state("networkidle")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"/ui/{name} is wider than {label} px by {overflow}px"
            tab.screenshot(f"{re.sub(r'[^a-z0-9]+', '-', name)}-{label}")
        assert problems == [], problems
        tab.close()

    tab = dashboard(NARROW)
    page = tab.open("/ui/jobs/reachability_check/launch")
    tab.sign_in(users.admin)
    passed = _focusable_in_order(page, "arg-port")
    assert all(tag.split("#")[0] in ("A", "BUTTON", "INPUT", "SELECT", "TEXTAREA") for tag in passed), passed
    assert passed.index("INPUT#arg-host") < passed.index("INPUT#arg-port")  # the target, then the arguments
    page.keyboard.type("0")  # port 220, then submit with the keyboard alone
    page.keyboard.press("Enter")
    by_id(page, "error-arguments.host").wait_for()  # the form answered: host is required


def test_a_launch_the_api_forbids_says_so_above_the_button(dashboard, users, api_server, settings):
    from netraven_tasks.db import session_factory
    from netraven_tasks.models import User

    tab = dashboard()
    page = tab.open("/ui/jobs/config_backup/launch")
    tab.sign_in(users.admin)
    assert page.locator("#arg-driver").input_value() == "file"  # a OneOf: a menu, at its default
    with session_factory(settings).begin() as session:  # demoted while the form is open
        session.get(User, users.admin.id).is_admin = False
    page.fill("#arg-host", "r1")
    page.click("#launch-form button[type=submit]")
    message = page.locator("#form-error")
    message.filter(has_text="Not allowed: only admin may launch config_backup").wait_for()
    assert re.search(r"/launch$", page.url)
    assert api_get(api_server, users.admin, "/job-logs").json() == []
