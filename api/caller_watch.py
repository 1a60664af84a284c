"""The caller of a long-lived connection (an event stream, a WebSocket), re-checked as it runs.

A request is authorised once, when it starts; a stream lasts minutes. So a connection keeps a
``CallerWatch`` and asks it before each thing it sends: the token's user is looked up again (a new
short database session, outside the request's) at most every ``RECHECK_SECONDS``, through the same
``token_user`` every request uses. Deactivation, a password change or sign-out therefore ends the
connection within a few seconds, a demoted admin stops seeing other users' rows, and someone
taken out of a team stops seeing the team's (the caller's teams are read again with the user).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from api.context import current_settings
from api.security import current_claims, current_viewer
from netraven_tasks.access.policy import Viewer, viewer_of
from netraven_tasks.auth import InvalidToken, TokenClaims, token_user
from netraven_tasks.db import session_factory
from netraven_tasks.settings import Settings

log = logging.getLogger(__name__)

RECHECK_SECONDS = 2.0  # revocation reaches an open connection within this (plus one read)


class CallerWatch:
    """Who is on the other end now: ``current()`` is the caller as the policy sees them (a
    ``Viewer``), or None once access is gone."""

    def __init__(
        self,
        settings: Settings,
        claims: TokenClaims,
        caller: Viewer,
        every: float = RECHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._settings = settings
        self._claims = claims
        self._caller: Viewer | None = caller
        self._every = every
        self._clock = clock
        self._checked = clock()

    @classmethod
    def of_request(cls, every: float = RECHECK_SECONDS) -> CallerWatch:
        """The watch of this request's caller (authenticating it first, 401 if it cannot)."""
        return cls(current_settings(), current_claims(), current_viewer(), every)

    @property
    def key(self) -> TokenClaims:
        """The token watched: connections with the same token may share one watch."""
        return self._claims

    def current(self) -> Viewer | None:
        """The caller as of the last check (re-checked when it is older than ``every``); None for
        good once the token no longer holds, or when the check itself cannot be made."""
        if self._caller is None or self._clock() - self._checked < self._every:
            return self._caller
        try:
            with session_factory(self._settings)() as session:
                user = token_user(session, self._claims)
                self._caller = viewer_of(session, user.id, bool(user.is_admin))
        except InvalidToken:
            self._caller = None
        except SQLAlchemyError:
            # Fail closed: the client reconnects, and its new request is authorised afresh.
            log.warning("could not re-check the caller of an open stream; closing it", exc_info=True)
            self._caller = None
        self._checked = self._clock()
        return self._caller
