"""Making, changing and deleting routes, and who may: one module for the API, the CLI and the
dashboard.

Admins edit every route; a team's managers edit the team's routes and its members read them;
a route without a team is the admins' alone. A body is checked whole before anything is written:
its fields (``RouteBodySchema``), its events against its channel, its target against its channel
(``targets.check_target``: the SSRF policy for URLs).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from marshmallow import ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from netraven_tasks.input_schema import InputSchema
from netraven_tasks.notifications.channels.registry import channel
from netraven_tasks.notifications.channels.spec import StrictBoolean
from netraven_tasks.routes.matching import ROUTE_EVENTS, RouteMatch
from netraven_tasks.routes.models import NAME_LENGTH, TARGET_LENGTH, Route
from netraven_tasks.routes.targets import check_target, masked_target, route_channels
from netraven_tasks.teams.membership import team_role, team_roles
from netraven_tasks.teams.models import Team, TeamRole

MATCH_VALUES = 100  # entries one list of a match may hold
EDITABLE = ("name", "team_id", "match", "channel", "target", "enabled")


class RouteAccessDenied(Exception):
    """The caller may see the route (or the team) but not change it."""


def _names(description: str) -> fields.List:
    return fields.List(
        fields.String(validate=validate.Length(min=1, max=253)),
        load_default=list,
        validate=validate.Length(max=MATCH_VALUES),
        metadata={"description": description},
    )


class MatchSchema(InputSchema):
    job_types = _names("job types (empty: every job type)")
    sites = _names("inventory sites (empty: every site, and devices outside the inventory)")
    tags = _names("inventory tags, any of them (empty: any device)")
    events = fields.List(
        fields.String(validate=validate.OneOf(ROUTE_EVENTS)),
        load_default=list,
        metadata={"description": f"of {', '.join(ROUTE_EVENTS)} (empty: every event the channel carries)"},
    )


class RouteBodySchema(InputSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=NAME_LENGTH))
    team_id = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "the team whose managers edit it; null: an admins' route"},
    )
    match = fields.Nested(MatchSchema, load_default=dict)
    channel = fields.String(required=True, validate=validate.OneOf(route_channels()))
    target = fields.String(
        required=True,
        validate=validate.Length(min=1, max=TARGET_LENGTH),
        metadata={"description": "a webhook URL, or the routing key (PagerDuty) / API key (Opsgenie)"},
    )
    enabled = StrictBoolean(load_default=True)


def check_route(values: Mapping[str, Any], *, allow_private: bool) -> None:
    """The checks that need several fields: the channel's events and the target (the team is
    checked with the caller's rights: ``ensure_may_edit``). Raises ValidationError naming the field."""
    spec = channel(values["channel"])
    events = set(values["match"].get("events") or [])
    carried = spec.route_events if spec is not None else None
    if carried is not None and events - carried:
        wrong, allowed = ", ".join(sorted(events - carried)), ", ".join(sorted(carried))
        message = f"{values['channel']} carries {allowed} only, not {wrong}"
        raise ValidationError({"match": {"events": [message]}})
    check_target(values["channel"], values["target"], allow_private=allow_private)


def may_read(session: Session, user_id: int, is_admin: bool, route: Route) -> bool:
    if is_admin:
        return True
    return route.team_id is not None and team_role(session, user_id, route.team_id) is not None


def ensure_may_edit(session: Session, user_id: int, is_admin: bool, team_id: int | None) -> None:
    """Raise RouteAccessDenied unless the caller may edit routes of ``team_id`` (None: admins')."""
    if team_id is not None and session.get(Team, team_id) is None:
        raise ValidationError({"team_id": [f"no team {team_id}"]})
    if is_admin:
        return
    if team_id is None:
        raise RouteAccessDenied("only admins edit routes without a team")
    if team_role(session, user_id, team_id) is not TeamRole.MANAGER:
        raise RouteAccessDenied(f"only managers of team {team_id} (or admins) edit its routes")


def visible_routes(session: Session, user_id: int, is_admin: bool) -> list[Route]:
    """Every route for an admin; the routes of the caller's teams otherwise."""
    query = select(Route).order_by(Route.id)
    if not is_admin:
        query = query.where(Route.team_id.in_(list(team_roles(session, user_id))))
    return list(session.scalars(query))


def load_new(body: Mapping[str, Any], *, allow_private: bool) -> dict[str, Any]:
    """A new route's values from a request body (raises ValidationError)."""
    values: dict[str, Any] = RouteBodySchema().load(body)
    values["match"] = RouteMatch.of(values["match"]).as_dict()
    check_route(values, allow_private=allow_private)
    return values


def load_changes(route: Route, body: Mapping[str, Any], *, allow_private: bool) -> dict[str, Any]:
    """The route's values after the changes in ``body`` (raises ValidationError). A new channel
    needs a new target: the old one is of another kind."""
    changes: dict[str, Any] = RouteBodySchema(partial=True).load(body)
    if "channel" in changes and changes["channel"] != route.channel and "target" not in changes:
        raise ValidationError({"target": ["a new channel needs its own target"]})
    values = {**{key: getattr(route, key) for key in EDITABLE}, **changes}
    values["match"] = RouteMatch.of(values["match"]).as_dict()
    check_route(values, allow_private=allow_private)
    return values


def create_route(session: Session, values: Mapping[str, Any], created_by: int | None, now: datetime) -> Route:
    route = Route(**{key: values[key] for key in EDITABLE}, created_by=created_by, created_at=now,
                  updated_at=now)  # fmt: skip
    session.add(route)
    session.flush()
    return route


def update_route(route: Route, values: Mapping[str, Any], now: datetime) -> None:
    changed = False
    for key in EDITABLE:
        if getattr(route, key) != values[key]:
            setattr(route, key, values[key])
            changed = True
    if changed:
        route.updated_at = now


def describe(route: Route) -> dict[str, Any]:
    """A route as answers show it: every field, its target masked."""
    return {
        "id": route.id,
        "name": route.name,
        "team_id": route.team_id,
        "match": RouteMatch.of(route.match).as_dict(),
        "channel": route.channel,
        "target": masked_target(route.channel, route.target),
        "enabled": route.enabled,
        "created_by": route.created_by,
        "created_at": route.created_at,
        "updated_at": route.updated_at,
    }
