"""One map from domain errors to HTTP (``api/error_map.py``): every view answers a failure alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from marshmallow import ValidationError

from netraven_tasks.backups.queries import HistoryForbidden
from netraven_tasks.batches.queries import BatchNotFound
from netraven_tasks.devices.selection import SelectionError
from netraven_tasks.jobs.actions import ActionUnavailable, JobActionRefused
from netraven_tasks.jobs.launch import LaunchUnavailable, UnknownJobType
from netraven_tasks.jobs.launch_roles import LaunchForbidden
from netraven_tasks.maintenance.windows import WindowNotFound, WindowRefused
from netraven_tasks.quotas import QuotaExceeded
from netraven_tasks.routes.editing import RouteAccessDenied
from netraven_tasks.statistics import StatisticsError
from netraven_tasks.teams.service import TeamForbidden, TeamNameTaken, TeamNotFound

ANSWERS = [
    (LaunchUnavailable("the broker is unavailable"), 503),
    (ActionUnavailable("the broker is unreachable"), 503),
    (LaunchForbidden("only admin may launch it"), 403),
    (JobActionRefused("job log 1 is running"), 409),
    (UnknownJobType("nope"), 404),
    (ValidationError({"host": ["bad"]}), 422),
    (StatisticsError("since", "too early"), 422),
    (QuotaExceeded("at most 60 launches per minute", retry_after=7), 429),
    (SelectionError("no enabled device matches"), 422),
    (BatchNotFound("no batch 7"), 404),
    (HistoryForbidden("only admins may read other users' backups"), 403),
    (WindowNotFound("no maintenance window 7"), 404),
    (WindowRefused("maintenance window 7 is in progress: end it first"), 409),
    (TeamNotFound("no team 7"), 404),
    (TeamNameTaken("name: a team named 'NOC' exists already"), 409),
    (TeamForbidden("team 'NOC': only a team manager or an admin may manage members"), 403),
    (RouteAccessDenied("only the team's managers or an admin may change its routes"), 403),
]


@pytest.fixture(scope="module")
def raising_app():  # type: ignore[no-untyped-def]
    """The real app with one route that raises the error named in its path."""
    from api import create_app

    app = create_app()
    by_name = {type(error).__name__: error for error, _ in ANSWERS}

    def boom(name: str) -> None:
        raise by_name[name]

    app.add_url_rule("/boom/<name>", view_func=boom)
    return app


@pytest.mark.parametrize(("error", "status"), ANSWERS, ids=[type(e).__name__ for e, _ in ANSWERS])
def test_each_domain_error_answers_its_status_as_json(raising_app, error, status):
    from api.error_map import DOMAIN_ERRORS

    assert type(error) in DOMAIN_ERRORS
    response = raising_app.test_client().get(f"/boom/{type(error).__name__}")
    body = response.get_json()
    assert response.status_code == status and body["code"] == status, body
    assert body["message"] and "Traceback" not in body["message"]
    if status == 503:
        assert response.headers["Retry-After"] == "5"
    if status == 429:
        assert response.headers["Retry-After"] == "7"


def test_the_map_covers_every_domain_error_listed():
    from api.error_map import DOMAIN_ERRORS

    assert set(DOMAIN_ERRORS) == {type(error) for error, _ in ANSWERS}


def test_rerun_with_the_broker_down_is_a_503_with_retry_after(client, users, insert_job_logs, dead_broker):
    [job_log_id] = insert_job_logs(
        [
            {
                "queued_at": datetime.now(UTC),
                "owner_id": users.alice.id,
                "status": "failed",
                "args": {"host": "sw-1"},
            }
        ]
    )
    response = client.post(f"/job-logs/{job_log_id}/rerun", headers=users.alice.headers)
    assert response.status_code == 503, response.get_json()
    assert response.headers["Retry-After"] == "5"
    assert "broker is unavailable" in response.get_json()["message"]


def test_cancel_with_the_broker_down_is_a_503_with_retry_after(client, users, insert_job_logs, dead_broker):
    [job_log_id] = insert_job_logs(
        [{"queued_at": datetime.now(UTC), "owner_id": users.alice.id, "status": "queued"}]
    )
    response = client.post(f"/job-logs/{job_log_id}/cancel", headers=users.alice.headers)
    assert response.status_code == 503, response.get_json()
    assert response.headers["Retry-After"] == "5"


def test_rerun_of_a_job_type_no_longer_known_is_a_409(client, users, insert_job_logs):
    [job_log_id] = insert_job_logs(
        [{"queued_at": datetime.now(UTC), "owner_id": users.alice.id, "job_type": "retired_job"}]
    )
    response = client.post(f"/job-logs/{job_log_id}/rerun", headers=users.alice.headers)
    assert response.status_code == 409 and "no longer known" in response.get_json()["message"]


def test_a_bug_in_the_launcher_is_not_reported_as_the_database_being_away(settings, clean_db, monkeypatch):
    """Only database errors mean "unavailable, try later": any other error is a bug, raised as is."""
    from netraven_tasks.jobs import launch

    def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise KeyError("a bug")

    monkeypatch.setattr(launch, "apply_event", broken)
    with pytest.raises(KeyError):
        launch.launch_job(settings, "test_flaky", {"host": "sw-1"}, None)
