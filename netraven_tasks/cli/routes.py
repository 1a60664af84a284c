"""``routes list|create|delete``: shared destinations, as the operator (an admin) edits them.

``create`` checks the route like the API (its fields, its channel's events, its target: the SSRF
policy for URLs) and prints the route with its target masked.
"""

from __future__ import annotations

import argparse
from typing import Any

from marshmallow import ValidationError

from netraven_tasks.cli.common import CommandError
from netraven_tasks.db import session_factory
from netraven_tasks.models import utcnow
from netraven_tasks.routes.editing import create_route, describe, ensure_may_edit, load_new, visible_routes
from netraven_tasks.routes.models import Route
from netraven_tasks.settings import Settings

OPERATOR = 0  # the CLI acts as an admin; it is no user of the database


def route_line(route: dict[str, Any]) -> str:
    match = ", ".join(f"{name}={'|'.join(values)}" for name, values in route["match"].items() if values)
    team = f"team {route['team_id']}" if route["team_id"] is not None else "admins"
    state = "" if route["enabled"] else " (disabled)"
    where = f"{route['channel']} → {route['target']}"
    return f"{route['id']:>4}  {route['name']}  {where}  [{match or 'everything'}]  {team}{state}"


def _errors(error: ValidationError) -> str:
    return "; ".join(f"{field}: {messages}" for field, messages in error.normalized_messages().items())


def cmd_list(settings: Settings, args: argparse.Namespace) -> None:
    with session_factory(settings)() as session:
        routes = [describe(route) for route in visible_routes(session, OPERATOR, True)]
    if not routes:
        print("no routes: `netraven-tasks routes create --help` makes one")
    for route in routes:
        print(route_line(route))


def cmd_create(settings: Settings, args: argparse.Namespace) -> None:
    body = {
        "name": args.name,
        "team_id": args.team,
        "channel": args.channel,
        "target": args.target,
        "match": {"job_types": args.job_type, "sites": args.site, "tags": args.tag, "events": args.event},
    }
    with session_factory(settings).begin() as session:
        try:
            ensure_may_edit(session, OPERATOR, True, args.team)
            values = load_new(body, allow_private=settings.allow_private_webhooks)
        except ValidationError as error:
            raise CommandError(_errors(error)) from None
        route = describe(create_route(session, values, None, utcnow()))
    print(f"created route {route['id']}:")
    print(route_line(route))


def cmd_delete(settings: Settings, args: argparse.Namespace) -> None:
    with session_factory(settings).begin() as session:
        route = session.get(Route, args.route_id)
        if route is None:
            raise CommandError(f"no route {args.route_id}")
        session.delete(route)
    print(f"deleted route {args.route_id} ({route.name}) with its pending messages and history")


def add_commands(commands: Any) -> None:
    """``routes list``, ``routes create --name --channel --target [--team] [--job-type …] [--site …]
    [--tag …] [--event …]``, ``routes delete ID``."""
    routes = commands.add_parser("routes", help="shared destinations: NOC channels, on-call services")
    sub = routes.add_subparsers(dest="routes_command", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="every route, its target masked")
    listing.set_defaults(func=cmd_list)
    create = sub.add_parser("create", help="a route (the lists are repeatable; none: match everything)")
    create.add_argument("--name", required=True)
    create.add_argument("--channel", required=True, help="slack, webhook, teams, pagerduty or opsgenie")
    create.add_argument("--target", required=True, help="the webhook URL, or the routing/API key")
    create.add_argument("--team", type=int, help="the team whose managers edit it (default: admins')")
    create.add_argument("--job-type", action="append", default=[], help="a job type it matches")
    create.add_argument("--site", action="append", default=[], help="an inventory site it matches")
    create.add_argument("--tag", action="append", default=[], help="an inventory tag it matches")
    create.add_argument("--event", action="append", default=[],
                        help="failed, recovered, missed, config_changed or batch_finished")  # fmt: skip
    create.set_defaults(func=cmd_create)
    delete = sub.add_parser("delete", help="a route, with its pending messages and history")
    delete.add_argument("route_id", type=int)
    delete.set_defaults(func=cmd_delete)
