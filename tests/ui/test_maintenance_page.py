"""The Maintenance page in Chromium: an admin creates a window from the form (a bad field is
named), a user sees it and the run it held a message back from says so; the admin ends it."""

from __future__ import annotations

from datetime import UTC, datetime

LOCAL_INPUT = """(minutes) => {
  const d = new Date(Date.now() + minutes * 60000), two = (n) => String(n).padStart(2, "0");
  const day = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
  return `${day}T${two(d.getHours())}:${two(d.getMinutes())}`;
}"""


def test_create_see_and_end_a_window_and_the_run_page_names_it(dashboard, users, settings):
    from netraven_tasks.db import session_factory
    from netraven_tasks.maintenance.models import MaintenanceWindow
    from netraven_tasks.maintenance.suppression import record_suppressed
    from netraven_tasks.models import JobLog

    tab = dashboard()
    page = tab.open("/ui/maintenance")
    tab.sign_in(users.admin)
    page.click("nav >> text=Maintenance")
    assert "No active windows" in page.inner_text("main")

    def local(minutes: int) -> str:
        """Now + minutes as the browser's datetime-local input writes it, in the browser's zone."""
        return str(page.evaluate(LOCAL_INPUT, minutes))

    now = datetime.now(UTC)
    page.fill("#window-starts", local(-5))
    page.fill("#window-ends", local(-10))
    page.fill("#window-sites", "FRA")
    page.click("#new-window button[type=submit]")
    page.locator("#error-ends_at", has_text="must be later than starts_at").wait_for()

    page.fill("#window-ends", local(120))
    page.fill("#window-reason", "FRA core upgrade CHG-7")
    page.click("#new-window button[type=submit]")
    row = page.locator("#windows-active tbody tr", has_text="FRA core upgrade CHG-7")
    row.wait_for()
    assert "sites: FRA" in row.inner_text()
    tab.screenshot("maintenance-window-made")

    with session_factory(settings).begin() as session:
        window = session.query(MaintenanceWindow).one()
        job = JobLog(
            task_id="held-1", job_type="test_flaky", device="fra-sw-01", owner_id=users.alice.id,
            status="failed", queued_at=now, finished_at=now, updated_at=now, attempts=1,
        )  # fmt: skip
        session.add(job)
        session.flush()
        record_suppressed(
            session, window, event="failed", job_log_id=job.id, device=job.device, user_id=users.alice.id
        )
        job_id, window_id = job.id, window.id

    alice = dashboard()
    run = alice.open(f"/ui/job-logs/{job_id}")
    alice.sign_in(users.alice)
    held = run.locator("#job-suppressed li")
    assert f"suppressed by maintenance window #{window_id}: FRA core upgrade CHG-7" in held.inner_text()
    assert "alice" in held.inner_text()
    listing = alice.open("/ui/maintenance")
    assert "FRA core upgrade CHG-7" in listing.inner_text("#windows-active")
    assert listing.locator("#new-window").count() == 0  # users read, admins write

    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button", has_text="End now").click()
    page.locator("#windows-ended tbody tr", has_text="FRA core upgrade CHG-7").wait_for()
