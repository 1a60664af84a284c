"""Immediate emails through the real worker and a real SMTP server: recipients, subject, parts."""

from __future__ import annotations

import pytest

from netraven_tasks.jobs.launch import launch_job
from netraven_tasks.notifications.models import OutboxMessage
from tests.conftest import eventually

pytestmark = pytest.mark.usefixtures("clean_db", "worker")


def test_failed_job_mails_its_owner_once_with_text_and_html_parts(
    settings, wait_for_job, mail, make_user, outbox, settled_mail
):
    alice = make_user("alice")
    launched = launch_job(settings, "test_broken", {"host": "core-sw-01"}, alice)
    job = wait_for_job(launched.job_log_id)
    assert job.status == "failed"

    mail.wait_for(1)
    [received] = settled_mail()  # once: no second message by the time a later job's arrived
    assert received.rcpt_tos == ("alice@example.test",)
    assert received.subject == "NetRaven job failed: test_broken on core-sw-01"
    text, html = received.part("plain"), received.part("html")
    for part in (text, html):
        assert "ValueError" in part
        assert "template for core-sw-01 is invalid" in part
        assert f"http://127.0.0.1:8000/ui/job-logs/{job.id}" in part
    assert "Attempts:  1" in text
    assert received.message["Message-ID"].startswith("<netraven.")

    [row] = eventually(lambda: [r for r in outbox(alice) if r.state == "sent"], message="row marked sent")
    assert row.kind == "job" and row.event == "failed" and row.job_log_id == job.id
    assert row.message_id == received.message["Message-ID"]
    assert row.provider_message_id.startswith("2.0.0 Ok: queued as")
    assert row.attempts == 1


def test_completed_job_after_retries_mails_once_with_the_attempts(
    settings, wait_for_job, mail, make_user, settled_mail
):
    bob = make_user("bob")
    launched = launch_job(settings, "test_flaky", {"host": "edge-rtr-02", "succeed_on_attempt": 2}, bob)
    job = wait_for_job(launched.job_log_id)
    assert job.status == "completed" and job.attempts == 2

    mail.wait_for(1)
    [received] = settled_mail()  # once, not once per attempt
    assert received.subject == "NetRaven job completed: test_flaky on edge-rtr-02"
    assert "Attempts:  2" in received.part("plain")
    assert '"attempt": 2' in received.part("plain")


def test_preferences_filter_outcomes_and_ownerless_jobs_go_to_active_admins(
    settings, wait_for_job, mail, make_user, count_rows, settled_mail
):
    quiet = make_user("quiet", email_on_job_failure=False)
    make_user("admin1", admin=True)
    make_user("admin2", admin=True)
    make_user("retired", admin=True, active=False)
    make_user("someone")  # not an admin: not told about ownerless jobs

    mine = launch_job(settings, "test_broken", {"host": "sw-a"}, quiet)
    ownerless = launch_job(settings, "test_broken", {"host": "sw-b"}, None)
    wait_for_job(mine.job_log_id)
    wait_for_job(ownerless.job_log_id)

    mail.wait_for(2)
    received = settled_mail()  # and no third: not the opted-out owner, not the inactive admin
    assert sorted(r for m in received for r in m.rcpt_tos) == ["admin1@example.test", "admin2@example.test"]
    assert all("sw-b" in m.subject for m in received)
    assert count_rows(OutboxMessage) == 2 + 1  # and the sentinel's: nothing for the user who opted out


def test_header_injection_in_job_data_gives_one_recipient_and_no_extra_header(
    settings, wait_for_job, mail, make_user, settled_mail
):
    owner = make_user("carol")
    host = "core-sw-01\r\nBcc: victim@evil.test\r\nX-Injected: yes\nTo: other@evil.test<script>x</script>"
    launched = launch_job(settings, "test_broken", {"host": host}, owner)
    wait_for_job(launched.job_log_id)

    mail.wait_for(1)
    [received] = settled_mail()  # one message: no Bcc or To smuggled in made a second
    assert received.rcpt_tos == ("carol@example.test",)
    headers = [name.lower() for name in received.message]
    assert "bcc" not in headers and "x-injected" not in headers
    assert headers.count("to") == 1 and headers.count("subject") == 1
    assert received.message["To"] == "carol@example.test"
    assert "\r" not in received.subject and "\n" not in received.subject
    assert received.subject.startswith("NetRaven job failed: test_broken on core-sw-01 Bcc: victim@evil.test")
    # The HTML part shows the data escaped, never as markup.
    assert "<script>" not in received.part("html")
    assert "&lt;script&gt;x&lt;/script&gt;" in received.part("html")
