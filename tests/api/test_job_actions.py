"""Cancel and re-run through the API, on the real worker: who may, what the row ends as, and 409s."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.api.test_jobs_and_job_logs import launch
from tests.conftest import eventually


def _slow(client, user, tmp_path: Path, name: str, seconds: float = 30):  # type: ignore[no-untyped-def]
    body = launch(client, user, "test_slow_once", {"marker": str(tmp_path / name), "seconds": seconds})
    assert body.status_code == 202, body.get_json()
    return body.get_json()["job_log_id"], tmp_path / name


@pytest.mark.usefixtures("worker")
class TestCancel:
    def test_a_running_job_is_terminated_and_ends_canceled_with_who_canceled(
        self, client, users, wait_for_job, tmp_path
    ):
        job_log_id, marker = _slow(client, users.alice, tmp_path, "running")
        wait_for_job(job_log_id, statuses={"running"})
        eventually(marker.exists, message="the job started sleeping")

        response = client.post(f"/job-logs/{job_log_id}/cancel", headers=users.alice.headers)
        assert response.status_code == 202, response.get_json()
        assert response.get_json() == {"job_log_id": job_log_id, "status": "running"}

        job = wait_for_job(job_log_id, timeout=20)
        assert job.status == "canceled" and job.canceled_by == users.alice.id
        events = [entry.event for entry in job.entries]
        assert "cancel_requested" in events and events[-1] == "revoked"
        assert "terminated" in job.entries[-1].message  # the worker stopped it, not our own record
        assert job.result is None
        detail = client.get(f"/job-logs/{job_log_id}", headers=users.alice.headers).get_json()
        assert detail["canceled_by"] == users.alice.id

        again = client.post(f"/job-logs/{job_log_id}/cancel", headers=users.alice.headers)
        assert again.status_code == 409 and "canceled" in again.get_json()["message"]

    def test_a_queued_job_no_worker_started_ends_canceled_and_never_runs(
        self, client, users, wait_for_job, tmp_path
    ):
        # Both worker children busy: the third run waits in the queue.
        busy = [_slow(client, users.alice, tmp_path, f"busy-{i}", seconds=20) for i in range(2)]
        for job_log_id, _ in busy:
            wait_for_job(job_log_id, statuses={"running"})
        waiting_id, waiting_marker = _slow(client, users.alice, tmp_path, "waiting", seconds=0.1)

        response = client.post(f"/job-logs/{waiting_id}/cancel", headers=users.admin.headers)
        assert response.status_code == 202 and response.get_json()["status"] == "queued"
        job = wait_for_job(waiting_id, timeout=5)
        assert job.status == "canceled" and job.canceled_by == users.admin.id
        assert job.attempts == 0 and job.started_at is None

        for job_log_id, _ in busy:
            assert (
                client.post(f"/job-logs/{job_log_id}/cancel", headers=users.alice.headers).status_code == 202
            )
            wait_for_job(job_log_id, timeout=20)
        # The children are free again; a revoked message that ran anyway would write its marker now.
        flaky = launch(client, users.alice, "test_flaky", {"succeed_on_attempt": 1}).get_json()
        wait_for_job(flaky["job_log_id"])
        assert not waiting_marker.exists()
        assert wait_for_job(waiting_id).attempts == 0

    def test_only_the_owner_or_an_admin_may_cancel(self, client, users, wait_for_job, tmp_path):
        job_log_id, _ = _slow(client, users.alice, tmp_path, "guarded", seconds=20)
        wait_for_job(job_log_id, statuses={"running"})
        response = client.post(f"/job-logs/{job_log_id}/cancel", headers=users.bob.headers)
        assert response.status_code == 404 and response.is_json
        assert client.post(f"/job-logs/{job_log_id}/cancel").status_code == 401
        assert client.post("/job-logs/999999/cancel", headers=users.admin.headers).status_code == 404
        assert wait_for_job(job_log_id, statuses={"running"}).canceled_by is None
        assert client.post(f"/job-logs/{job_log_id}/cancel", headers=users.admin.headers).status_code == 202
        assert wait_for_job(job_log_id, timeout=20).canceled_by == users.admin.id


@pytest.mark.usefixtures("worker")
class TestRerun:
    def test_a_failed_job_is_rerun_with_the_same_arguments_by_the_caller(self, client, users, wait_for_job):
        failed = launch(client, users.alice, "test_broken", {"host": "sw-rerun"}).get_json()
        assert wait_for_job(failed["job_log_id"]).status == "failed"

        response = client.post(f"/job-logs/{failed['job_log_id']}/rerun", headers=users.admin.headers)
        assert response.status_code == 202, response.get_json()
        body = response.get_json()
        assert set(body) == {"job_log_id", "task_id", "status", "rerun_of"}
        assert body["rerun_of"] == failed["job_log_id"] and body["job_log_id"] != failed["job_log_id"]
        assert body["task_id"] != failed["task_id"] and body["status"] == "queued"
        assert response.headers["Location"] == f"/job-logs/{body['job_log_id']}"

        rerun = wait_for_job(body["job_log_id"])
        assert rerun.status == "failed" and rerun.args == {"host": "sw-rerun"}
        assert rerun.owner_id == users.admin.id and rerun.rerun_of == failed["job_log_id"]
        detail = client.get(f"/job-logs/{body['job_log_id']}", headers=users.admin.headers).get_json()
        assert detail["rerun_of"] == failed["job_log_id"] and detail["owner"] == "root"

    def test_an_unfinished_job_cannot_be_rerun_and_others_cannot_see_it(
        self, client, users, wait_for_job, tmp_path
    ):
        job_log_id, _ = _slow(client, users.alice, tmp_path, "not-done", seconds=20)
        wait_for_job(job_log_id, statuses={"running"})
        response = client.post(f"/job-logs/{job_log_id}/rerun", headers=users.alice.headers)
        assert response.status_code == 409
        assert response.get_json()["message"].endswith("only a finished job can be re-run")
        assert client.post(f"/job-logs/{job_log_id}/rerun", headers=users.bob.headers).status_code == 404
        client.post(f"/job-logs/{job_log_id}/cancel", headers=users.alice.headers)
        wait_for_job(job_log_id, timeout=20)
        listed = client.get("/job-logs", headers=users.alice.headers).get_json()
        assert [row["id"] for row in listed] == [job_log_id]  # nothing was launched by the refusals


def test_a_rerun_checks_launch_roles_again(client, users, insert_job_logs):
    # An old run of bob's with a driver only admins may launch now (roles changed since, say).
    from netraven_tasks.models import utcnow

    [job_log_id] = insert_job_logs(
        [
            {
                "job_type": "config_backup",
                "owner_id": users.bob.id,
                "status": "failed",
                "args": {"host": "edge-1", "driver": "file", "source": "/etc/passwd"},
                "queued_at": utcnow(),
            }
        ]
    )
    response = client.post(f"/job-logs/{job_log_id}/rerun", headers=users.bob.headers)
    assert response.status_code == 403, response.get_json()
    assert "admin" in response.get_json()["message"]
    listed = client.get("/job-logs", headers=users.bob.headers).get_json()
    assert [row["id"] for row in listed] == [job_log_id]  # nothing was launched
