"""Replaying a dead letter once its cause is fixed: the event is written again, then forgotten."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks.tracking.dead_letters import DeadLetters
from netraven_tasks.tracking.events import TrackingEvent
from netraven_tasks.tracking.isolation import BatchPlanner, IsolatingWriter
from netraven_tasks.tracking.live import LiveFeed
from netraven_tasks.tracking.recorder import TerminalHook, after_commit
from netraven_tasks.tracking.transitions import Outcome


class UnreplayableLetter(ValueError):
    """The dead letter is not a tracking event at all: it can only be dropped."""


def replay_dead_letter(
    dead_letters: DeadLetters,
    sessions: sessionmaker[Session],
    letter_id: str,
    live: LiveFeed | None = None,
    hooks: Sequence[TerminalHook] = (),
    planner: BatchPlanner | None = None,
) -> list[Outcome] | None:
    """Write the letter's event (None if there is no such letter); raises if it still fails.

    The letter is removed only after the commit, so a replay that fails again keeps it.
    """
    letter = dead_letters.get(letter_id)
    if letter is None:
        return None
    try:
        event = TrackingEvent.from_dict(json.loads(letter.event))
    except (KeyError, ValueError, TypeError, AttributeError) as error:
        raise UnreplayableLetter(f"dead letter {letter_id} is not a tracking event: {error}") from error
    outcomes = IsolatingWriter(sessions, None, source="replay", planner=planner).replay(event)
    after_commit(live, hooks, outcomes)
    dead_letters.remove(letter_id)
    return outcomes
