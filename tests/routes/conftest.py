"""Fixtures of the route tests: the API fixtures, teams, and on-call services on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.api.conftest import app, client, make_api_user, users  # noqa: F401 - shared fixtures
from tests.conftest import OPSGENIE_PORT, PAGERDUTY_PORT
from tests.notifications.conftest import http_receiver  # noqa: F401 - the Slack/Teams/webhook server
from tests.routes.oncall_apis import OpsgenieApi, PagerDutyApi


@pytest.fixture
def make_team(settings, clean_db) -> Callable[..., int]:  # type: ignore[no-untyped-def]
    """A team with members: ``make_team("noc", managers=[id], members=[id])`` returns its id."""
    from netraven_tasks.db import session_factory
    from netraven_tasks.teams.models import Team, TeamMember

    def make(name: str, *, managers: tuple[int, ...] = (), members: tuple[int, ...] = ()) -> int:
        with session_factory(settings).begin() as session:
            team = Team(name=name, description="")
            session.add(team)
            session.flush()
            for user_id in managers:
                session.add(TeamMember(team_id=team.id, user_id=user_id, role="manager"))
            for user_id in members:
                session.add(TeamMember(team_id=team.id, user_id=user_id, role="member"))
            return team.id

    return make


PAGERDUTY_KEY = "R0UTINGKEY0123456789abcdef0123ab"  # 32 characters, as PagerDuty's integration keys
OPSGENIE_KEY = "opsgenie-key-0123456789abcdef"


@pytest.fixture(scope="session")
def pagerduty_server() -> Iterator[PagerDutyApi]:
    api = PagerDutyApi(PAGERDUTY_PORT)
    api.start()
    yield api
    api.stop()


@pytest.fixture
def pagerduty(pagerduty_server: PagerDutyApi) -> PagerDutyApi:
    """The PagerDuty Events API the worker posts to (NETRAVEN_PAGERDUTY_URL), empty at the start."""
    pagerduty_server.reset()
    return pagerduty_server


@pytest.fixture(scope="session")
def opsgenie_server() -> Iterator[OpsgenieApi]:
    api = OpsgenieApi(OPSGENIE_PORT, OPSGENIE_KEY)
    api.start()
    yield api
    api.stop()


@pytest.fixture
def opsgenie(opsgenie_server: OpsgenieApi) -> OpsgenieApi:
    """The Opsgenie Alert API the worker posts to (NETRAVEN_OPSGENIE_URL), empty at the start."""
    opsgenie_server.reset()
    return opsgenie_server
