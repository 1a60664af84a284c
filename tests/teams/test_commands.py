"""``netraven-tasks teams …`` and ``run --team`` from a shell, on the session's database: what each
command prints, that it changed the tables, and the errors that name what is wrong."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from netraven_tasks.db import session_factory
from tests.support.console import in_process as cli


@pytest.fixture
def people(settings, clean_db) -> None:  # type: ignore[no-untyped-def]
    from netraven_tasks.users import create_user

    with session_factory(settings).begin() as session:
        for name in ("alice", "bob", "carol"):
            create_user(session, name, f"{name}@example.test", f"{name}-password")


def memberships(settings) -> set[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    from netraven_tasks.models import User
    from netraven_tasks.teams.models import Team, TeamMember

    with session_factory(settings)() as session:
        rows = session.execute(
            select(Team.name, User.username, TeamMember.role)
            .join(TeamMember, TeamMember.team_id == Team.id)
            .join(User, User.id == TeamMember.user_id)
        )
        return {tuple(row) for row in rows}  # type: ignore[misc]


@pytest.mark.usefixtures("people")
def test_create_add_list_remove_delete(settings):
    assert cli("teams", "create", "NOC FRA").stdout.startswith("created team ")
    assert cli("teams", "add", "NOC FRA", "alice").stdout == "alice is a member of team NOC FRA\n"
    assert cli("teams", "add", "NOC FRA", "bob", "--role", "manager").returncode == 0
    assert memberships(settings) == {("NOC FRA", "alice", "member"), ("NOC FRA", "bob", "manager")}
    listed = cli("teams", "list").stdout
    assert "NOC FRA: alice (member), bob (manager)" in listed and listed.endswith("1 team(s)\n")

    assert cli("teams", "add", "NOC FRA", "alice", "--role", "manager").returncode == 0  # a new role
    assert ("NOC FRA", "alice", "manager") in memberships(settings)
    assert cli("teams", "remove", "NOC FRA", "bob").stdout == "removed bob from team NOC FRA\n"
    assert memberships(settings) == {("NOC FRA", "alice", "manager")}
    assert cli("teams", "delete", "NOC FRA").returncode == 0
    assert memberships(settings) == set() and cli("teams", "list").stdout == "0 team(s)\n"


@pytest.mark.usefixtures("people")
def test_errors_name_the_team_or_user_and_change_nothing(settings):
    cli("teams", "create", "core")
    assert cli("teams", "create", "core").stderr == "error: name: a team named 'core' exists already\n"
    assert cli("teams", "add", "edge", "alice").stderr == "error: no team named 'edge'\n"
    assert cli("teams", "add", "core", "mallory").stderr == "error: no user named 'mallory'\n"
    assert cli("teams", "remove", "core", "alice").stderr == "error: user 1 is not a member of team 'core'\n"
    assert cli("teams", "delete", "edge").returncode == 2
    assert memberships(settings) == set()


@pytest.mark.usefixtures("people", "worker")
def test_run_with_a_team_stores_it_and_an_owner_outside_the_team_is_refused(settings, wait_for_job):
    from netraven_tasks.models import JobLog

    cli("teams", "create", "core")
    cli("teams", "add", "core", "alice")
    refused = cli("run", "test_flaky", "--owner", "bob", "--team", "core")
    assert refused.returncode == 2 and "not a member of team" in refused.stderr
    launched = cli("run", "test_flaky", "--arg", "succeed_on_attempt=1", "--owner", "alice", "--team", "core")
    assert launched.returncode == 0, launched.stderr
    job_log_id = int(launched.stdout.split()[2])
    with session_factory(settings)() as session:
        job = session.get(JobLog, job_log_id)
        assert job is not None and job.team_id is not None and job.owner_id == 1
        assert session.scalar(select(JobLog.id).where(JobLog.owner_id == 2)) is None  # bob's never made
