"""The job type of another Celery app's task (``netraven_tasks.track``): read from the task itself.

The name is the task's (or one the caller chose), the description the first line of its
docstring, the arguments its signature, the time limit its own. NetRaven never launches it
(``launch_roles.NOBODY``): its arguments were never meant to be checked by us, so only its app
publishes it. A policy, when given, decides its retries as it does for our own job types.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from celery import Task
from marshmallow import Schema, fields

from netraven_tasks.jobs.launch_roles import NOBODY
from netraven_tasks.jobs.registry import JobType, first_line, retry_by_policy
from netraven_tasks.jobs.retry_policy import RetryPolicy

# What GET /jobs says of a parameter, by its annotation; anything else is "Raw".
FIELD_OF_ANNOTATION: dict[Any, type[fields.Field]] = {
    str: fields.String,
    int: fields.Integer,
    float: fields.Float,
    bool: fields.Boolean,
    dict: fields.Dict,
    list: fields.List,
}
NAMED_KINDS = (
    inspect.Parameter.POSITIONAL_ONLY,
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    inspect.Parameter.KEYWORD_ONLY,
)
# NetRaven decides no retry of a task tracked without a policy: its own retries (``autoretry_for``,
# ``self.retry``) still show as ``retrying``.
NO_RETRIES = RetryPolicy(max_attempts=1, retry_on=())


def task_signature(task: Task) -> inspect.Signature:
    """The parameters the task's callers pass (without ``self`` of a bound task)."""
    run = getattr(task, "_orig_run", task.run)  # Celery wraps ``run`` for autoretry_for
    try:
        return inspect.signature(run, eval_str=True)
    except (NameError, TypeError):  # an annotation that does not resolve: keep it as text
        return inspect.signature(run)


def arguments_schema(name: str, signature: inspect.Signature) -> type[Schema]:
    """A schema naming each parameter, its type (from its annotation) and whether it is required."""
    declared: dict[str, fields.Field] = {}
    for parameter in signature.parameters.values():
        if parameter.kind not in NAMED_KINDS:
            continue
        field_class = FIELD_OF_ANNOTATION.get(parameter.annotation, fields.Raw)
        if field_class is fields.List:
            field: fields.Field = fields.List(fields.Raw(), required=parameter.default is parameter.empty)
        else:
            field = field_class(required=parameter.default is parameter.empty)
        declared[parameter.name] = field
    return Schema.from_dict(declared, name=f"{name}Arguments")


def tracked_job_type(task: Task, name: str, device_arg: str | None, policy: RetryPolicy | None) -> JobType:
    """The job type of ``task``; ValueError if ``device_arg`` is not one of its parameters."""
    signature = task_signature(task)
    named = [p.name for p in signature.parameters.values() if p.kind in NAMED_KINDS]
    if device_arg is not None and device_arg not in named:
        raise ValueError(
            f"task {task.name!r} has no parameter {device_arg!r} to take the device from; "
            f"its parameters: {', '.join(named) or 'none'} (device_arg=None records no device)"
        )
    positional = tuple(
        p.name
        for p in signature.parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    )
    return JobType(
        name=name,
        func=task.run,
        arguments=arguments_schema(name, signature),
        policy=policy or NO_RETRIES,
        device_arg=device_arg,
        time_limit=task.time_limit or task.app.conf.task_time_limit,
        description=first_line(task.__doc__),
        launch_roles=NOBODY,
        tracked_task=task.name,
        positional=positional,
    )


def apply_policy(task: Task, policy: RetryPolicy) -> None:
    """From now on, an attempt of ``task`` that raises is retried when ``policy`` says so.

    Only this task object changes (its ``run``, as Celery's own ``autoretry_for`` does), never
    its class or its app; the worker reads ``run`` when it starts, after the app's module ran."""
    run = task.run

    @functools.wraps(run)
    def run_by_policy(*args: Any, **kwargs: Any) -> Any:
        try:
            return run(*args, **kwargs)
        except Exception as error:
            retry_by_policy(task, policy, error)
            raise

    task.run = run_by_policy
