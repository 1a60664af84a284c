"""The one map from domain errors to HTTP: views call the domain function and let these propagate.

Registered once on the app (``init_app``), so two views can never answer the same failure
differently. Each entry turns the exception into the JSON error of ``api.errors``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from api.errors import NetRavenApi, fail, fail_invalid
from netraven_tasks.backups.queries import HistoryForbidden
from netraven_tasks.batches.queries import BatchNotFound
from netraven_tasks.devices.selection import SelectionError
from netraven_tasks.jobs.actions import ActionUnavailable, JobActionRefused
from netraven_tasks.jobs.launch import LaunchUnavailable, UnknownJobType
from netraven_tasks.jobs.launch_roles import LaunchForbidden
from netraven_tasks.jobs.registry import all_job_types
from netraven_tasks.maintenance.windows import WindowNotFound, WindowRefused
from netraven_tasks.quotas import QuotaExceeded
from netraven_tasks.routes.editing import RouteAccessDenied
from netraven_tasks.statistics import StatisticsError
from netraven_tasks.teams.service import TeamForbidden, TeamNameTaken, TeamNotFound


def _unavailable(error: LaunchUnavailable | ActionUnavailable) -> None:
    # The launcher left no phantom: nothing published, or its row already says failed.
    fail(503, str(error), headers={"Retry-After": str(error.retry_after)})


def _too_many(error: QuotaExceeded) -> None:
    fail(429, str(error), headers={"Retry-After": str(error.retry_after)})


def _unknown_job_type(error: UnknownJobType) -> None:
    known = ", ".join(declared.name for declared in all_job_types())
    fail(404, f"unknown job type {str(error)[:100]!r}; known: {known}")


def _invalid(error: ValidationError) -> None:
    # A domain check after webargs' own (a job type's arguments, a schedule's timing).
    fail_invalid(error.messages)


def _selection(error: SelectionError) -> None:
    # A selector that selects nothing (or names unknown devices) is the client's to fix.
    fail(422, f"{error.field}: {error}", errors={error.field: [str(error)]})


def _statistics(error: StatisticsError) -> None:
    fail(422, str(error), errors={"query": {error.field: [error.message]}})


DOMAIN_ERRORS: dict[type[Exception], Callable[[Any], None]] = {
    LaunchUnavailable: _unavailable,
    ActionUnavailable: _unavailable,
    LaunchForbidden: lambda error: fail(403, str(error)),
    JobActionRefused: lambda error: fail(409, str(error)),
    UnknownJobType: _unknown_job_type,
    ValidationError: _invalid,
    StatisticsError: _statistics,
    QuotaExceeded: _too_many,
    SelectionError: _selection,
    BatchNotFound: lambda error: fail(404, str(error)),
    HistoryForbidden: lambda error: fail(403, str(error)),
    WindowNotFound: lambda error: fail(404, str(error)),
    WindowRefused: lambda error: fail(409, str(error)),
    TeamNotFound: lambda error: fail(404, str(error)),
    TeamNameTaken: lambda error: fail(409, str(error)),
    TeamForbidden: lambda error: fail(403, str(error)),
    RouteAccessDenied: lambda error: fail(403, str(error)),
}


def init_app(app: Flask, api: NetRavenApi) -> None:
    """Answer each domain error with its status, through the API's JSON error handler."""

    def register(kind: type[Exception], answer: Callable[[Any], None]) -> None:
        def handle(error: Exception) -> Any:
            try:
                answer(error)
            except HTTPException as http_error:  # what fail() raises: the answer
                return api.handle_http_exception(http_error)
            raise AssertionError(f"the answer to {kind.__name__} did not abort")

        app.register_error_handler(kind, handle)

    for kind, answer in DOMAIN_ERRORS.items():
        register(kind, answer)
