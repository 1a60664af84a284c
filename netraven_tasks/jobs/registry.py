"""Declaring a job type: ``@job_type(...)`` turns a plain function into a tracked Celery task.

A job function takes keyword arguments (validated by its marshmallow schema) and returns a
JSON-able result summary; it raises to fail. Its ``RetryPolicy`` decides about another attempt.
A task of another Celery app is a job type too once ``netraven_tasks.track`` declares it
(``register_tracked``): tracked, never launched by NetRaven.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from celery import Task, shared_task
from marshmallow import Schema, ValidationError

from netraven_tasks.input_schema import storable_errors
from netraven_tasks.jobs.launch_roles import EVERYONE, LaunchRoles, ensure_may_launch
from netraven_tasks.jobs.retry_policy import RetryPolicy
from netraven_tasks.settings import Settings

TASK_PREFIX = "netraven.jobs."
# How bad a failure of the job type is: the severity of the on-call incident it opens.
CRITICALITIES = ("critical", "error", "warning", "info")

JobFunction = Callable[..., Any]


@dataclass(frozen=True)
class JobType:
    name: str
    func: JobFunction = field(repr=False)
    arguments: type[Schema]
    policy: RetryPolicy
    device_arg: str | None
    time_limit: float | None
    description: str
    launch_roles: LaunchRoles = EVERYONE
    device_concurrency: int | None = None  # None: NETRAVEN_DEVICE_CONCURRENCY
    # Another app's task (``track``): its Celery task name, and the names of its positional
    # parameters in order (its own callers may pass arguments by position).
    tracked_task: str | None = None
    positional: tuple[str, ...] = ()
    criticality: str = "error"  # critical | error | warning | info: an incident's severity

    @property
    def task_name(self) -> str:
        return self.tracked_task or TASK_PREFIX + self.name

    @property
    def tracked(self) -> bool:
        """A task of another Celery app: NetRaven records its runs, its own app launches them."""
        return self.tracked_task is not None

    def named_arguments(self, args: Any, kwargs: dict[str, Any] | None) -> dict[str, Any]:
        """A run's arguments by name: positional ones (tracked tasks only) named after their parameters."""
        named = dict(zip(self.positional, args, strict=False)) if isinstance(args, (list, tuple)) else {}
        named.update(kwargs or {})
        return named

    def device_of(self, kwargs: dict[str, Any]) -> str | None:
        if self.device_arg is None or kwargs.get(self.device_arg) is None:
            return None
        return str(kwargs[self.device_arg])[:255]

    def validate(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The arguments as the job receives them; raises marshmallow.ValidationError."""
        if errors := storable_errors(kwargs):  # whatever the job type's schema: stored as JSON
            raise ValidationError(errors)
        loaded: dict[str, Any] = self.arguments().load(kwargs)
        # The message carries JSON, so the job sees what dump() gives back.
        return self.arguments().dump(loaded)

    def authorize(self, arguments: dict[str, Any], is_admin: bool, settings: Settings) -> dict[str, Any]:
        """Validate, then raise LaunchForbidden unless the role may launch with these arguments."""
        kwargs = self.validate(arguments)
        ensure_may_launch(self.name, self.launch_roles, kwargs, is_admin, settings)
        return kwargs


_JOB_TYPES: dict[str, JobType] = {}
_BY_TASK: dict[str, JobType] = {}  # the same job types, by the name of the Celery task that runs them


class JobTask(Task):  # type: ignore[misc]
    """Base of the Celery task of a job type (one subclass per type)."""

    job_type: JobType
    acks_late = True
    reject_on_worker_lost = True
    typing = False  # arguments are validated by the job type's schema, not by signature


def _run_job(task: JobTask, **kwargs: Any) -> Any:
    """The body of every job task: run the job function, ask the policy when it raises."""
    declared = task.job_type
    try:
        return declared.func(**kwargs)
    except Exception as error:
        retry_by_policy(task, declared.policy, error)
        raise


def retry_by_policy(task: Task, policy: RetryPolicy, error: Exception) -> None:
    """Raise Celery's Retry for the attempt running ``task`` that raised ``error``, if the policy
    grants another attempt; return when it does not (the caller re-raises ``error``)."""
    attempt = task.request.retries + 1
    if policy.should_retry(error, attempt):
        raise task.retry(exc=error, countdown=policy.delay(attempt), max_retries=None) from error


def first_line(doc: str | None) -> str:
    """The description of a job type: the first line of its function's docstring."""
    return (doc or "").strip().split("\n")[0]


def job_type(
    name: str,
    *,
    arguments: type[Schema],
    policy: RetryPolicy | None = None,
    device_arg: str | None = "host",
    time_limit: float | None = 300.0,
    description: str | None = None,
    launch_roles: LaunchRoles = EVERYONE,
    device_concurrency: int | None = None,
    criticality: str = "error",
) -> Callable[[JobFunction], JobFunction]:
    """Register ``func`` as the job type ``name`` and as the Celery task ``netraven.jobs.<name>``."""

    def register(func: JobFunction) -> JobFunction:
        if name in _JOB_TYPES:
            raise ValueError(f"job type {name!r} is declared twice")
        if device_concurrency is not None and device_concurrency < 1:
            raise ValueError(f"job type {name!r}: device_concurrency must be at least 1")
        if criticality not in CRITICALITIES:
            raise ValueError(f"job type {name!r}: criticality must be one of {', '.join(CRITICALITIES)}")
        declared = JobType(
            name=name,
            func=func,
            arguments=arguments,
            policy=policy or RetryPolicy(),
            device_arg=device_arg,
            time_limit=time_limit,
            description=description or first_line(func.__doc__),
            launch_roles=launch_roles,
            device_concurrency=device_concurrency,
            criticality=criticality,
        )
        _register(declared)
        task_class = type(f"{name}_task", (JobTask,), {"job_type": declared})
        shared_task(
            name=declared.task_name,
            base=task_class,
            bind=True,
            time_limit=time_limit,
            soft_time_limit=max(1.0, time_limit * 0.9) if time_limit else None,
        )(_run_job)
        return func

    return register


def _register(declared: JobType) -> None:
    _JOB_TYPES[declared.name] = declared
    _BY_TASK[declared.task_name] = declared


def register_tracked(declared: Sequence[JobType]) -> list[JobType]:
    """Declare other apps' tasks as job types (``track``), all or none: ValueError names a name
    taken. A task tracked before under the same name keeps its first job type (returned)."""
    registered, new = [], {}
    for candidate in declared:
        assert candidate.tracked_task is not None
        known = _BY_TASK.get(candidate.tracked_task)
        if known is not None and known.name != candidate.name:
            raise ValueError(f"task {candidate.tracked_task!r} is already tracked as job type {known.name!r}")
        if known is None and (candidate.name in _JOB_TYPES or candidate.name in new):
            raise ValueError(f"job type {candidate.name!r} is declared twice")
        if known is None:
            new[candidate.name] = candidate
        registered.append(known or candidate)
    for candidate in new.values():
        _register(candidate)
    return registered


def get_job_type(name: str) -> JobType | None:
    return _JOB_TYPES.get(name)


def criticality_of(name: str | None) -> str:
    """The declared criticality of a job type; ``error`` for one not declared here."""
    declared = _JOB_TYPES.get(name or "")
    return declared.criticality if declared is not None else "error"


def job_type_for_task(task_name: str | None) -> JobType | None:
    """The job type a Celery task runs: one of ours (``netraven.jobs.<name>``) or a tracked one."""
    return _BY_TASK.get(task_name) if task_name else None


def all_job_types() -> list[JobType]:
    return sorted(_JOB_TYPES.values(), key=lambda jt: jt.name)


def load_job_modules(modules: Iterable[str]) -> None:
    for module in modules:
        importlib.import_module(module)
