"""On the real worker: jobs that answer like broken devices end with a status, and the next job runs."""

from __future__ import annotations

import pytest

from netraven_tasks.jobs.launch import launch_job

pytestmark = pytest.mark.usefixtures("clean_db", "worker")


def test_odd_results_and_errors_are_recorded_and_the_next_job_is_too(settings, wait_for_job):
    odd_ok = launch_job(settings, "test_odd_output", {}, None)
    odd_failed = launch_job(settings, "test_odd_output", {"fail": True}, None)
    following = launch_job(settings, "reachability_check", {"host": "127.0.0.1", "port": 1}, None)
    completed = wait_for_job(odd_ok.job_log_id)
    assert completed.status == "completed"
    assert completed.result["text"] == "lab-sw-04 said \N{REPLACEMENT CHARACTER} and ?"
    assert completed.result["ratio"] == "nan"
    failed = wait_for_job(odd_failed.job_log_id)
    assert failed.status == "failed"
    assert failed.error_message == "lab-sw-04 said \N{REPLACEMENT CHARACTER} and ?"
    assert wait_for_job(following.job_log_id).status in {"completed", "failed"}
