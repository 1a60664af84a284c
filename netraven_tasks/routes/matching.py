"""Which routes an event concerns: pure functions over a route's ``match`` and the event's facts.

A route's ``match`` has four lists (``job_types``, ``sites``, ``tags``, ``events``); an empty list
matches everything. Sites and tags are the inventory's (``devices``): an event about devices
matches when one of them is of a listed site and carries one of the listed tags; an event about
no inventory device (a host outside the inventory, a fleet schedule's missed slot) matches only
routes that name no site and no tag. A team's route hears of its team's runs, batches and
schedules only; an admins' route (no team) of everything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FAILED = "failed"
STILL_FAILING = "still_failing"
RECOVERED = "recovered"
MISSED = "missed"
CONFIG_CHANGED = "config_changed"
BATCH_FINISHED = "batch_finished"

# What a route's ``match.events`` may name. "still failing" reminders belong to ``failed``.
ROUTE_EVENTS = (FAILED, RECOVERED, MISSED, CONFIG_CHANGED, BATCH_FINISHED)
MATCH_FIELDS = ("job_types", "sites", "tags", "events")


def matched_event(event: str) -> str:
    """The route event a planned event is matched as: a reminder is part of its failure."""
    return FAILED if event == STILL_FAILING else event


@dataclass(frozen=True)
class DeviceFacts:
    """What matching needs of one device: its inventory site and tags."""

    name: str
    site: str | None = None
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RouteMatch:
    job_types: frozenset[str] = frozenset()
    sites: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset()

    @classmethod
    def of(cls, stored: Mapping[str, Any] | None) -> RouteMatch:
        """The match of a stored route (lists of strings; anything else is ignored)."""
        stored = stored or {}

        def values(name: str) -> frozenset[str]:
            raw = stored.get(name) or []
            return frozenset(str(v) for v in raw) if isinstance(raw, list) else frozenset()

        return cls(*(values(name) for name in MATCH_FIELDS))

    def as_dict(self) -> dict[str, list[str]]:
        return {name: sorted(getattr(self, name)) for name in MATCH_FIELDS}


def device_matches(match: RouteMatch, device: DeviceFacts) -> bool:
    if match.sites and device.site not in match.sites:
        return False
    return not match.tags or bool(match.tags & device.tags)


def matches_event(
    match: RouteMatch, route_team_id: int | None, event: str, job_type: str | None, team_id: int | None
) -> bool:
    """Whether a route (of team ``route_team_id``; None: admins') hears of ``event`` of a run,
    batch or schedule of ``job_type`` and of team ``team_id``, before its devices are asked."""
    if route_team_id is not None and route_team_id != team_id:
        return False
    if match.events and matched_event(event) not in match.events:
        return False
    return not match.job_types or job_type in match.job_types


def names_devices(match: RouteMatch) -> bool:
    """Whether the match asks about devices at all (sites or tags)."""
    return bool(match.sites or match.tags)


def matches_devices(match: RouteMatch, devices: Sequence[DeviceFacts]) -> bool:
    """Whether one of ``devices`` is of a listed site and has a listed tag (none listed: yes)."""
    return not names_devices(match) or any(device_matches(match, device) for device in devices)
