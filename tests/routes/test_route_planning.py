"""Route planning in the recorder's transaction, without the worker: "still failing" reminders go
to chat routes but open no new incident on PagerDuty or Opsgenie; planning twice adds nothing;
sites, tags, job types and teams decide who hears; the payloads of each on-call channel."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from netraven_tasks.notifications.channels.opsgenie import opsgenie_request
from netraven_tasks.notifications.channels.pagerduty import pagerduty_event
from netraven_tasks.notifications.channels.spec import Incident, MessageSource, RouteNotice
from netraven_tasks.notifications.channels.teams import teams_card
from netraven_tasks.notifications.rendering import RenderedMessage
from netraven_tasks.routes.matching import DeviceFacts, RouteMatch, matches_devices, matches_event
from tests.routes.conftest import OPSGENIE_KEY, PAGERDUTY_KEY


def notice(event: str) -> RouteNotice:
    rendered = RenderedMessage("NetRaven job failed: config_backup on fra-sw-01", "text part", None)
    return RouteNotice(
        event=event,
        source=MessageSource(rendered, {"event": f"job.{event}"}, public_url="https://netraven.example"),
        headline=rendered.subject,
        link="https://netraven.example/ui/job-logs/7",
        incident=Incident("netraven:schedule:3", "critical", "fra-sw-01", "config_backup", "FRA"),
        facts=(("Device", "fra-sw-01"), ("Site", "FRA")),
    )


def test_pagerduty_triggers_and_resolves_with_the_incident_key():
    trigger = pagerduty_event(notice("failed"), "https://netraven.example")
    assert trigger["event_action"] == "trigger" and trigger["dedup_key"] == "netraven:schedule:3"
    assert trigger["payload"]["severity"] == "critical" and trigger["payload"]["group"] == "FRA"
    assert "routing_key" not in trigger  # added at send time, never stored
    assert pagerduty_event(notice("recovered"), "") == {
        "event_action": "resolve",
        "dedup_key": "netraven:schedule:3",
    }


def test_opsgenie_creates_with_an_alias_and_closes_it():
    create = opsgenie_request(notice("failed"))
    assert create["request"] == "create" and create["body"]["alias"] == "netraven:schedule:3"
    assert create["body"]["priority"] == "P1" and len(create["body"]["message"]) <= 130
    assert all(isinstance(value, str) for value in create["body"]["details"].values())
    assert opsgenie_request(notice("recovered"))["request"] == "close"


def test_the_teams_card_has_a_title_facts_and_a_link():
    [attachment] = teams_card(notice("failed"))["attachments"]
    card = attachment["content"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["type"] == "AdaptiveCard" and card["body"][0]["text"].startswith("NetRaven job failed")
    assert card["body"][1] == {"type": "FactSet", "facts": [{"title": "Device", "value": "fra-sw-01"},
                                                            {"title": "Site", "value": "FRA"}]}  # fmt: skip
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open in NetRaven",
                                "url": "https://netraven.example/ui/job-logs/7"}]  # fmt: skip


@pytest.mark.parametrize(
    ("stored", "site", "tags", "expected"),
    [
        ({}, None, set(), True),  # an empty match matches every device, and none
        ({"sites": ["FRA"]}, "FRA", set(), True),
        ({"sites": ["FRA"]}, "AMS", set(), False),
        ({"sites": ["FRA"]}, None, set(), False),  # a host outside the inventory has no site
        ({"tags": ["core", "edge"]}, "AMS", {"edge"}, True),
        ({"sites": ["FRA"], "tags": ["core"]}, "FRA", {"edge"}, False),
    ],
)
def test_sites_and_tags_match_the_inventory(stored, site, tags, expected):
    devices = [DeviceFacts("sw", site, frozenset(tags))] if site or tags else []
    assert matches_devices(RouteMatch.of(stored), devices) is expected


def test_events_job_types_and_teams_decide_before_devices():
    match = RouteMatch.of({"events": ["failed"], "job_types": ["config_backup"]})
    assert matches_event(match, None, "still_failing", "config_backup", team_id=5)  # a reminder is a failure
    assert not matches_event(match, None, "recovered", "config_backup", team_id=None)
    assert not matches_event(match, None, "failed", "reachability_check", team_id=None)
    assert matches_event(match, 5, "failed", "config_backup", team_id=5)
    assert not matches_event(match, 5, "failed", "config_backup", team_id=None)  # a team's route: its runs


@pytest.mark.usefixtures("clean_db")
def test_still_failing_goes_to_chat_routes_only_and_planning_twice_adds_nothing(settings, make_api_user):
    from sqlalchemy import select

    from netraven_tasks.db import session_factory
    from netraven_tasks.models import JobLog
    from netraven_tasks.notifications import tasks
    from netraven_tasks.notifications.models import OutboxMessage
    from netraven_tasks.notifications.planning import plan_job_notifications
    from netraven_tasks.routes.models import Route

    owner = make_api_user("olga")
    sessions = session_factory(settings)
    now = datetime.now(UTC)
    with sessions.begin() as session:
        for channel, target in (("slack", "http://127.0.0.1:9/chat"), ("pagerduty", PAGERDUTY_KEY),
                                ("opsgenie", OPSGENIE_KEY)):  # fmt: skip
            session.add(Route(name=channel, channel=channel, target=target, match={}, created_at=now,
                              updated_at=now))  # fmt: skip
    ids = []
    with sessions.begin() as session:
        for minute in range(2):
            at = now + timedelta(minutes=minute)
            job = JobLog(task_id=str(uuid.uuid4()), job_type="config_backup", device="sw-9",
                         owner_id=owner.id, status="failed", attempts=1, queued_at=at, started_at=at,
                         finished_at=at)  # fmt: skip
            session.add(job)
            session.flush()
            ids.append(job.id)
    renderer = tasks.renderer(settings)
    for _ in range(2):  # the second round is a replay: nothing new
        with sessions.begin() as session:
            for job_id in ids:  # no quiet time between reminders: the second failure is "still failing"
                plan_job_notifications(session, job_id, renderer, settings.mail_from, timedelta(0))
    with sessions() as session:
        rows = session.execute(
            select(OutboxMessage.channel, OutboxMessage.event, OutboxMessage.alert_key)
            .where(OutboxMessage.route_id.is_not(None))
            .order_by(OutboxMessage.id)
        ).all()
    assert sorted((channel, event) for channel, event, _ in rows) == [
        ("opsgenie", "failed"), ("pagerduty", "failed"), ("slack", "failed"), ("slack", "still_failing"),
    ]  # fmt: skip
    slack_keys = {key for channel, _, key in rows if channel == "slack"}
    assert slack_keys == {f"job:{ids[0]}:failed", f"job:{ids[1]}:still_failing"}
