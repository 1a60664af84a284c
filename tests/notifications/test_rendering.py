"""Subjects, header sanitising, truncation, durations and the templates (autoescaped, overridable)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from netraven_tasks.notifications.channels.slack import slack_payload
from netraven_tasks.notifications.channels.webhook import webhook_payload
from netraven_tasks.notifications.rendering import (
    JobSummary,
    Renderer,
    header_value,
    human_duration,
    job_subject,
    truncate,
)

T0 = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)


def job(**fields) -> JobSummary:  # type: ignore[no-untyped-def]
    values = {
        "job_log_id": 42,
        "job_type": "config_backup",
        "device": "core-sw-01",
        "status": "failed",
        "attempts": 3,
        "queued_at": T0,
        "started_at": T0 + timedelta(seconds=1),
        "finished_at": T0 + timedelta(seconds=126),
        "duration_seconds": 125.0,
        "result": None,
        "error_type": "TimeoutError",
        "error_message": "no answer from core-sw-01:22",
    }
    values.update(fields)
    return JobSummary(**values)


def test_subject_names_outcome_job_type_and_device():
    assert job_subject(job()) == "NetRaven job failed: config_backup on core-sw-01"
    assert job_subject(job(status="completed", device=None)) == "NetRaven job completed: config_backup"


@pytest.mark.parametrize(
    "evil", ["a\r\nBcc: x@evil.test", "a\nBcc: x", "a\rB", "a\u2028B", "a\x00\x0bB", "a\x85B"]
)
def test_header_values_never_contain_a_line_break(evil):
    cleaned = header_value(evil)
    assert not any(c in cleaned for c in "\r\n\x00\x0b\x85\u2028")
    assert cleaned.startswith("a ")


def test_header_values_are_capped():
    assert len(header_value("x" * 5000)) == 200
    assert len(job_subject(job(device="d" * 1000, job_type="t" * 1000))) <= 200


def test_truncate_says_how_much_was_left_out():
    text = truncate("y" * 10_000, 100)
    assert len(text) == 100 and text.endswith(" … [9925 more characters]")
    assert truncate("short", 100) == "short" and truncate(None, 10) == ""


@pytest.mark.parametrize(
    ("seconds", "human"),
    [
        (None, "—"),
        (0.42, "0.4 s"),
        (12.4, "12 s"),
        (125, "2 min 5 s"),
        (120, "2 min"),
        (3 * 3600 + 60, "3 h 1 min"),
        (2 * 86400 + 4 * 3600, "2 d 4 h"),
    ],
)
def test_human_durations(seconds, human):
    assert human_duration(seconds) == human


def test_job_message_has_every_detail_in_both_parts():
    message = Renderer("https://netraven.example/").job_outcome(job(result={"lines": 120}))
    for part in (message.text, message.html):
        for detail in (
            "config_backup",
            "core-sw-01",
            "failed",
            "TimeoutError",
            "no answer from core-sw-01:22",
            "2026-11-30 09:15:01 UTC",
            "2 min 5 s",
            "https://netraven.example/ui/job-logs/42",
            "120",
        ):
            assert detail in part, detail


def test_html_escapes_job_data_and_templates_never_evaluate_it():
    evil = job(device="<img src=x onerror=alert(1)>", error_message="{{ 7*7 }} {% raw %}<b>")
    message = Renderer("http://x").job_outcome(evil)
    assert "<img" not in message.html and "&lt;img src=x onerror=alert(1)&gt;" in message.html
    assert "<b>" not in message.html
    assert "{{ 7*7 }}" in message.text and "49" not in message.text


def test_huge_errors_and_results_are_truncated():
    message = Renderer("http://x").job_outcome(
        job(error_message="E" * 100_000, result={"blob": "R" * 100_000})
    )
    assert len(message.text) < 6_000 and len(message.html) < 8_000
    assert "more characters]" in message.text
    payload = webhook_payload(job(error_message="E" * 100_000), "http://x")
    assert len(payload["error_message"]) == 2_000


def test_digest_lists_failures_first_with_counts():
    jobs = [
        job(job_log_id=1, status="completed", device="ok-1", error_type=None, error_message=None),
        job(job_log_id=2, device="bad-1"),
        job(job_log_id=3, status="canceled", device="stop-1", error_type=None, error_message="revoked"),
    ]
    message = Renderer("http://x").digest("hana", "hourly", T0, T0 + timedelta(hours=1), jobs)
    assert message.subject == "NetRaven hourly digest: 3 jobs, 2 not completed (2026-11-30 09:15 UTC)"
    assert "3 jobs: 1 canceled, 1 failed, 1 completed" in message.text
    assert message.text.index("bad-1") < message.text.index("ok-1")
    assert message.text.index("stop-1") < message.text.index("ok-1")


def test_every_link_opens_a_dashboard_page():
    jobs = [job(job_log_id=7, device="bad-1")]
    digest = Renderer("https://n.example/").digest("hana", "daily", T0, T0 + timedelta(days=1), jobs)
    outcome = Renderer("https://n.example").job_outcome(job(job_log_id=7))
    for part in (digest.text, digest.html, outcome.text, outcome.html):
        links = re.findall(r"https?://[^\s\"<>|]+", part)
        assert links and all(link.startswith("https://n.example/ui/") for link in links), links
    assert "https://n.example/ui/job-logs/7" in outcome.html
    assert 'https://n.example/ui/job-logs"' in digest.html  # "All jobs"
    assert slack_payload(job(job_log_id=7), "https://n.example")["blocks"][0]["text"]["text"].endswith(
        "<https://n.example/ui/job-logs/7|Open job 7>"
    )
    assert webhook_payload(job(job_log_id=7), "https://n.example")["url"] == "https://n.example/ui/job-logs/7"


def test_an_operator_template_folder_overrides_ours(tmp_path):
    (tmp_path / "job_outcome.txt").write_text("Custom: {{ job_type }} {{ status }}\n")
    message = Renderer("http://x", tmp_path).job_outcome(job())
    assert message.text == "Custom: config_backup failed\n"
    assert "config_backup" in message.html  # not overridden: ours
