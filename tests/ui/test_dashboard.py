"""The dashboard in a real browser (headless Chromium) against a real API server and worker."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import eventually
from tests.ui.conftest import ARTEFACTS, BROWSER_REQUESTS, LAPTOP, PHONE, left_loopback

pytestmark = pytest.mark.slow


def launch(server, person, job_type: str, arguments: dict) -> dict:  # type: ignore[no-untyped-def, type-arg]
    response = requests.post(
        f"{server.url}/jobs/{job_type}/runs", json=arguments, headers=person.headers, timeout=10
    )
    assert response.status_code == 202, response.text
    return response.json()


def test_sign_in_goes_back_to_the_page_asked_for(dashboard, users):
    tab = dashboard()
    page = tab.open("/ui/job-logs?order=oldest")
    assert urlsplit(page.url).path == "/ui/sign-in"
    tab.screenshot("sign-in")
    page.fill("#username", "alice")
    page.fill("#password", "wrong")
    page.click("#sign-in button[type=submit]")
    page.locator("#sign-in-error", has_text="wrong username or password").wait_for()
    assert urlsplit(page.url).path == "/ui/sign-in"

    tab.sign_in(users.alice)
    assert page.url == f"{tab.server.url}/ui/job-logs?order=oldest"
    cookie = {c["name"]: c for c in tab.context.cookies()}["netraven_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("netraven_session") == -1  # not readable by scripts
    assert "No job has run yet" in page.inner_text("main")
    tab.screenshot("job-logs-empty")


def test_a_launched_job_appears_on_active_and_turns_completed_without_reload(
    dashboard, users, api_server, wait_for_job
):
    tab = dashboard()
    page = tab.open("/ui/active")
    tab.sign_in(users.alice)
    assert "Nothing is running right now" in page.inner_text("main")
    page.evaluate("window.__sameDocument = true")
    time.sleep(0.5)  # the event stream is open

    started = time.time()
    job = launch(api_server, users.alice, "test_flaky", {"succeed_on_attempt": 1, "host": "sw-live"})
    job_id = job["job_log_id"]
    row = page.locator(f"#job-{job_id}")
    row.wait_for()
    # Polled from here (the page's CSP forbids the eval wait_for_function uses); the page stamps times.
    eventually(
        lambda: page.evaluate("key => window.__netraven.seen[key]", f"{job_id}:completed"),
        message="the job shown completed",
    )
    assert "completed" in row.locator(".status").inner_text()
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    tab.screenshot("active-live")

    seen = page.evaluate("window.__netraven.seen")
    first_seen = min(value for key, value in seen.items() if key.startswith(f"{job_id}:")) / 1000
    finished = wait_for_job(job_id).finished_at.timestamp()
    latency = {
        "launch_to_on_screen_s": round(first_seen - started, 3),
        "finished_to_completed_on_screen_s": round(seen[f"{job_id}:completed"] / 1000 - finished, 3),
    }
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    (ARTEFACTS / "latency.json").write_text(json.dumps(latency, indent=2))
    print(f"live-update latency: {latency}")


def test_cancel_a_slow_job_from_its_page(dashboard, users, api_server, tmp_path, wait_for_job):
    job = launch(api_server, users.alice, "test_slow_once", {"marker": str(tmp_path / "m"), "seconds": 30})
    wait_for_job(job["job_log_id"], statuses={"running"})
    tab = dashboard()
    page = tab.open(f"/ui/job-logs/{job['job_log_id']}")
    tab.sign_in(users.alice)
    assert page.locator("#job .status").inner_text() == "running"
    assert page.locator("button[data-action$='/rerun']").is_hidden()
    page.click("button[data-action$='/cancel']")
    page.locator("#job .status", has_text="canceled").wait_for(timeout=20_000)
    page.locator("button[data-action$='/rerun']").wait_for()  # visible once the job is over
    assert page.locator("button[data-action$='/cancel']").is_hidden()
    page.locator("#timeline", has_text="cancel requested by alice").wait_for()
    tab.screenshot("job-detail-canceled")
    row = wait_for_job(job["job_log_id"])
    assert row.status == "canceled" and row.canceled_by == users.alice.id


def test_rerun_a_failed_job_from_its_page(dashboard, users, api_server, wait_for_job):
    failed = launch(api_server, users.alice, "test_broken", {"host": "sw-ui-1"})
    wait_for_job(failed["job_log_id"])
    tab = dashboard()
    page = tab.open(f"/ui/job-logs/{failed['job_log_id']}")
    tab.sign_in(users.admin)
    assert "template for sw-ui-1 is invalid" in page.inner_text(".error-text")
    page.locator("details summary", has_text="Traceback").first.click()
    assert "ValueError" in page.locator("details pre").first.inner_text()
    tab.screenshot("job-detail-failed")
    old_url = page.url
    page.click("button[data-action$='/rerun']")
    page.wait_for_url(lambda url: url != old_url and re.search(r"/ui/job-logs/\d+$", url) is not None)
    new_id = int(page.url.rsplit("/", 1)[1])
    assert new_id != failed["job_log_id"]
    assert page.locator("dd", has_text=f"#{failed['job_log_id']}").count() == 1  # "Re-run of"
    page.locator("#job .status", has_text="failed").wait_for(timeout=20_000)
    rerun = wait_for_job(new_id)
    assert rerun.rerun_of == failed["job_log_id"] and rerun.owner_id == users.admin.id
    assert rerun.args == {"host": "sw-ui-1"}


def test_filter_the_list(dashboard, users, api_server, wait_for_job):
    ok = launch(api_server, users.alice, "test_flaky", {"succeed_on_attempt": 1, "host": "sw-ok"})
    bad = launch(api_server, users.alice, "test_broken", {"host": "sw-bad"})
    for job in (ok, bad):
        wait_for_job(job["job_log_id"])
    tab = dashboard()
    page = tab.open("/ui/job-logs")
    tab.sign_in(users.alice)
    assert page.locator("#job-logs tbody tr").count() == 2
    page.select_option("#f-status", "failed")
    page.click(".filters button[type=submit]")
    page.wait_for_url(re.compile(r"status=failed"))
    ids = page.locator("#job-logs tbody tr").evaluate_all("rows => rows.map(r => r.id)")
    assert ids == [f"job-{bad['job_log_id']}"]
    page.fill("#f-device", "sw-ok")
    page.select_option("#f-status", "")
    page.press("#f-device", "Enter")  # keyboard only
    page.wait_for_url(re.compile(r"device=sw-ok"))
    ids = page.locator("#job-logs tbody tr").evaluate_all("rows => rows.map(r => r.id)")
    assert ids == [f"job-{ok['job_log_id']}"]
    tab.screenshot("job-logs-filtered")
    page.select_option("#f-status", "canceled")
    page.click(".filters button[type=submit]")
    assert "No run matches these filters" in page.inner_text("main")


def test_the_link_in_an_email_opens_the_job_after_sign_in(
    dashboard, users, api_server, wait_for_job, mail, settings
):
    job = launch(api_server, users.alice, "test_broken", {"host": "sw-mail"})
    wait_for_job(job["job_log_id"])
    [received] = mail.wait_for(1, address="alice@example.test")
    links = re.findall(r'href="([^"]+)"', received.part("html"))
    expected = f"{settings.public_url}/ui/job-logs/{job['job_log_id']}"
    assert expected in links
    # The worker's NETRAVEN_PUBLIC_URL is the default address; this server listens on a free port.
    path = urlsplit(expected).path
    tab = dashboard()
    page = tab.open(path)
    assert urlsplit(page.url).path == "/ui/sign-in"
    tab.sign_in(users.alice)
    assert urlsplit(page.url).path == path
    assert page.locator("#job .status").inner_text() == "failed"
    notified = page.locator("#job-notifications")
    assert "alice@example.test" in notified.inner_text() and "sent" in notified.inner_text()


def _stored_preferences(api_server, user):  # type: ignore[no-untyped-def]
    url = f"{api_server.url}/users/me/notification-preferences"
    return requests.get(url, headers=user.headers, timeout=10).json()


def test_the_preferences_form_saves_every_kind_of_control(dashboard, users, api_server):
    tab = dashboard()
    page = tab.open("/ui/preferences")
    tab.sign_in(users.alice)
    assert page.locator("#pref-notification_frequency-immediate").is_checked()
    assert page.locator("#quiet-window").is_hidden()
    page.check("#pref-notification_frequency-daily")
    page.check("#pref-notify_on-state_changes")
    page.uncheck("#pref-email_on_job_completion")
    page.check("#pref-quiet_hours")
    page.fill("#quiet-start", "23:00")
    page.fill("#quiet-end", "06:30")
    page.fill("#quiet-timezone", "Europe/Berlin")
    page.check("[data-pref=critical_job_types] input[value=config_backup]")
    page.click("#preferences button[type=submit]")
    page.locator("#saved", has_text="Saved").wait_for()
    stored = _stored_preferences(api_server, users.alice)
    assert stored["notification_frequency"] == "daily" and stored["email_on_job_completion"] is False
    assert stored["notify_on"] == "state_changes" and stored["critical_job_types"] == ["config_backup"]
    assert stored["quiet_hours"] == {"start": "23:00", "end": "06:30", "timezone": "Europe/Berlin"}
    page.reload()
    assert page.locator("#pref-notification_frequency-daily").is_checked()
    assert (
        page.locator("#quiet-start").input_value() == "23:00" and page.locator("#quiet-window").is_visible()
    )
    assert page.locator("[data-pref=critical_job_types] input[value=config_backup]").is_checked()
    labels = page.locator("#preferences").inner_text()
    for unwanted in ("Sms number", "Inapp", "null:", "[]"):
        assert unwanted not in labels, unwanted
    tab.screenshot("preferences")
    page.uncheck("#pref-quiet_hours")
    page.check("#pref-notify_on-default")
    page.click("#preferences button[type=submit]")
    page.locator("#saved", has_text="Saved").wait_for()
    stored = _stored_preferences(api_server, users.alice)
    assert stored["quiet_hours"] is None and stored["notify_on"] is None


def test_bad_values_show_their_errors_next_to_the_field(dashboard, users, api_server):
    tab = dashboard()
    page = tab.open("/ui/preferences")
    tab.sign_in(users.alice)
    page.fill("#pref-webhook_url", "ftp://example.invalid/hook")
    page.check("#pref-notification_frequency-hourly")
    page.click("#preferences button[type=submit]")
    error = page.locator("#error-webhook_url")
    error.wait_for()
    assert error.inner_text() and page.locator("#pref-webhook_url").get_attribute("aria-invalid") == "true"
    assert page.locator("#error-slack_webhook_url").is_hidden()
    assert page.locator("#saved").inner_text() == ""
    tab.screenshot("preferences-error")
    page.fill("#pref-webhook_url", "")
    page.check("#pref-quiet_hours")
    page.fill("#quiet-start", "22:00")
    page.fill("#quiet-end", "22:00")
    page.click("#preferences button[type=submit]")
    page.locator("#error-quiet_hours", has_text="end: must differ from start").wait_for()
    assert error.is_hidden() and page.locator("#saved").inner_text() == ""
    stored = _stored_preferences(api_server, users.alice)
    assert stored["webhook_url"] is None and stored["notification_frequency"] == "immediate"  # nothing saved
    assert stored["quiet_hours"] is None


def test_send_a_test_mail_from_the_preferences_page(dashboard, users, api_server, mail):
    tab = dashboard()
    page = tab.open("/ui/preferences")
    tab.sign_in(users.alice)
    page.click("[data-test-channel=email]")
    page.locator("#test-email", has_text="Delivered to alice@example.test").wait_for(timeout=30_000)
    received = mail.wait_for(1, address="alice@example.test")
    assert received[0].subject == "NetRaven: test message on Email"
    page.click("[data-test-channel=slack]")  # no URL saved: the API says so, beside the button
    page.locator("#test-slack", has_text="not set up").wait_for()


def test_an_expired_session_goes_back_to_sign_in(dashboard, users, settings):
    import jwt

    from netraven_tasks.auth import ALGORITHM, AUDIENCE, ISSUER

    tab = dashboard()
    page = tab.open("/ui/statistics")
    tab.sign_in(users.alice)
    assert urlsplit(page.url).path == "/ui/statistics"
    now = int(datetime.now(UTC).timestamp())
    expired = jwt.encode(
        {"sub": str(users.alice.id), "iat": now - 120, "exp": now - 60, "iss": ISSUER, "aud": AUDIENCE},
        settings.secret_key,
        algorithm=ALGORITHM,
    )
    tab.context.add_cookies([{"name": "netraven_session", "value": expired, "url": tab.server.url}])
    page.click("nav >> text=Notifications")
    page.wait_for_url(re.compile(r"/ui/sign-in\?next=%2Fui%2Fnotifications"))
    tab.sign_in(users.alice)
    assert urlsplit(page.url).path == "/ui/notifications"


def test_every_page_at_laptop_and_phone_width_keyboard_and_local_times(
    dashboard, users, api_server, wait_for_job
):
    done = launch(api_server, users.admin, "test_flaky", {"succeed_on_attempt": 2, "host": "sw-tour"})
    wait_for_job(done["job_log_id"])
    pages = ["active", "job-logs", f"job-logs/{done['job_log_id']}", "statistics", "notifications",
             "preferences", "workers", "batches", "devices", "tokens", "audit", "jobs", "schedules",
             "schedules/new", "maintenance"]  # fmt: skip
    for label, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
        tab = dashboard(viewport)
        tab.open("/ui/active")
        tab.sign_in(users.admin)
        for name in pages:
            page = tab.open(f"/ui/{name}")
            assert page.locator("h1").count() == 1
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{name} is wider than the {label} screen by {overflow}px"
            tab.screenshot(f"{name.replace('/', '-')}-{label}")
        assert tab.console_errors == [], f"console errors at {label} width: {tab.console_errors}"
        tab.close()

    tab = dashboard()
    page = tab.open(f"/ui/job-logs/{done['job_log_id']}")
    tab.sign_in(users.admin)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    # Times are shown in the viewer's zone (this browser: New York), the UTC instant in the title.
    node = page.locator("time").first
    iso = node.get_attribute("datetime")
    shown = node.inner_text()
    assert "UTC" not in shown
    expected = page.evaluate(
        "iso => new Date(iso).toLocaleString(undefined, {dateStyle: 'medium', timeStyle: 'medium'})", iso
    )
    assert shown == expected
    assert datetime.fromisoformat(iso).strftime("%H:%M") not in shown  # not the UTC clock time
    page = tab.open("/ui/statistics")
    assert page.locator("#jobs-chart rect.bar").count() >= 1
    assert page.locator("#stat-total").inner_text() == "1"
    page = tab.open("/ui/workers")
    worker_section = page.locator("section.worker", has_text="test@")
    assert worker_section.count() == 1  # the session worker answered Celery's inspect
    assert "online" in worker_section.inner_text() and "celery" in worker_section.inner_text()


def test_the_api_docs_render_under_their_content_security_policy(dashboard):
    tab = dashboard()
    refused: list[str] = []
    tab.page.on(
        "console", lambda message: refused.append(message.text) if "Security Policy" in message.text else None
    )
    page = tab.open("/docs")
    page.locator(".swagger-ui .info .title", has_text="NetRaven Tasks").wait_for()
    page.locator(".opblock-summary-path", has_text="/auth/token").first.wait_for()
    tab.screenshot("api-docs")
    assert refused == []


def test_no_request_of_the_session_left_loopback():
    """Runs last in this module: the browser's requests of every test above, counted."""
    if not BROWSER_REQUESTS:
        pytest.skip("counts the requests of the other browser tests: run the module")
    outside = [url for _, url in BROWSER_REQUESTS if left_loopback(url)]
    print(f"browser requests: {len(BROWSER_REQUESTS)}, outside 127.0.0.1: {len(outside)}")
    assert outside == []
