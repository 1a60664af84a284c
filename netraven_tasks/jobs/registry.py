"""Declaring a job type: ``@job_type(...)`` turns a plain function into a tracked Celery task.

A job function takes keyword arguments (validated by its marshmallow schema) and returns a
JSON-able result summary; it raises to fail. Its ``RetryPolicy`` decides about another attempt.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from celery import Task, shared_task
from marshmallow import Schema, ValidationError

from netraven_tasks.input_schema import storable_errors
from netraven_tasks.jobs.launch_roles import EVERYONE, LaunchRoles, ensure_may_launch
from netraven_tasks.jobs.retry_policy import RetryPolicy
from netraven_tasks.settings import Settings

TASK_PREFIX = "netraven.jobs."

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

    @property
    def task_name(self) -> str:
        return TASK_PREFIX + self.name

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
        attempt = task.request.retries + 1
        if declared.policy.should_retry(error, attempt):
            raise task.retry(exc=error, countdown=declared.policy.delay(attempt), max_retries=None) from error
        raise


def job_type(
    name: str,
    *,
    arguments: type[Schema],
    policy: RetryPolicy | None = None,
    device_arg: str | None = "host",
    time_limit: float | None = 300.0,
    description: str | None = None,
    launch_roles: LaunchRoles = EVERYONE,
) -> Callable[[JobFunction], JobFunction]:
    """Register ``func`` as the job type ``name`` and as the Celery task ``netraven.jobs.<name>``."""

    def register(func: JobFunction) -> JobFunction:
        if name in _JOB_TYPES:
            raise ValueError(f"job type {name!r} is declared twice")
        declared = JobType(
            name=name,
            func=func,
            arguments=arguments,
            policy=policy or RetryPolicy(),
            device_arg=device_arg,
            time_limit=time_limit,
            description=description or (func.__doc__ or "").strip().split("\n")[0],
            launch_roles=launch_roles,
        )
        _JOB_TYPES[name] = declared
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


def get_job_type(name: str) -> JobType | None:
    return _JOB_TYPES.get(name)


def job_type_for_task(task_name: str | None) -> JobType | None:
    if not task_name or not task_name.startswith(TASK_PREFIX):
        return None
    return _JOB_TYPES.get(task_name[len(TASK_PREFIX) :])


def all_job_types() -> list[JobType]:
    return sorted(_JOB_TYPES.values(), key=lambda jt: jt.name)


def load_job_modules(modules: Iterable[str]) -> None:
    for module in modules:
        importlib.import_module(module)
