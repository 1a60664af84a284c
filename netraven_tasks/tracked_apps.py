"""``netraven_tasks.track(app, tasks=...)``: NetRaven Tasks on an existing Celery app's tasks.

The tasks stay as they are and their app keeps launching them (``delay()``, ``apply_async()``,
``send_task``): each named task becomes a job type, its runs get a job-log row at publish time and
their attempts, retries and outcome are recorded and notified as for NetRaven's own job types.
docs/integrating.md is the walk-through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TypeVar

from celery import Celery, Task

from netraven_tasks.celery_integration import install_tracking
from netraven_tasks.jobs.registry import JobType, register_tracked
from netraven_tasks.jobs.retry_policy import RetryPolicy
from netraven_tasks.jobs.tracked import apply_policy, tracked_job_type
from netraven_tasks.settings import Settings, get_settings
from netraven_tasks.tracking.storable import JOB_TYPE_LIMIT

TaskNames = Iterable[str] | Mapping[str, str]
T = TypeVar("T")
# A job type's name is a path segment of the API (/jobs/{job_type}/runs) and a column of job_logs.
JOB_TYPE_NAME = re.compile(rf"[A-Za-z0-9_.:-]{{1,{JOB_TYPE_LIMIT}}}")


def track(
    app: Celery,
    tasks: TaskNames,
    *,
    device_arg: str | Mapping[str, str] | None = "host",
    retry: RetryPolicy | Mapping[str, RetryPolicy] | None = None,
    settings: Settings | None = None,
) -> list[JobType]:
    """Track the runs of ``tasks`` of ``app``; return their job types.

    - ``tasks``: task names (each is its job type's name), or a mapping task name → job type name.
      Only these tasks are tracked; the app's other tasks are left alone.
    - ``device_arg``: the parameter whose value is the run's device (default ``host``), one for
      every task or a mapping task name → parameter (a task left out of it: no device).
    - ``retry``: a ``RetryPolicy`` (for every task, or a mapping task name → policy) that decides
      retries as for NetRaven's own job types; None leaves the tasks' own retry behaviour alone.
    - ``settings``: default, the ``NETRAVEN_*`` environment.

    Call it in the app's module, after the tasks are defined: the worker of the app reads the
    tasks as that module left them. Calling it again with the same tasks changes nothing.
    ValueError names what is wrong: an unknown task, a device parameter it lacks, a name taken.
    """
    names = dict(tasks) if isinstance(tasks, Mapping) else {task: task for task in tasks}
    found = {task_name: _task_of(app, task_name) for task_name in names}
    candidates = [
        tracked_job_type(
            task,
            _job_type_name(names[task_name]),
            _per_task(device_arg, task_name),
            _per_task(retry, task_name),
        )
        for task_name, task in found.items()
    ]
    declared = register_tracked(candidates)  # all checked before any is declared
    for task, candidate, registered in zip(found.values(), candidates, declared, strict=True):
        if registered is candidate and candidate.policy.max_attempts > 1:
            apply_policy(task, candidate.policy)  # a task tracked before is never wrapped twice
    # The caller is the app's own module, an entry point of its processes: the environment is read here.
    install_tracking(app, settings or get_settings(), set(names))
    return declared


def _task_of(app: Celery, task_name: str) -> Task:
    if task_name.startswith("netraven."):
        raise ValueError(f"{task_name!r} is one of NetRaven's own tasks, tracked already")
    try:
        return app.tasks[task_name]
    except KeyError:
        raise ValueError(
            f"the Celery app {app.main!r} has no task {task_name!r}; call track() after its tasks are "
            "defined, with their full names (task.name)"
        ) from None


def _job_type_name(name: str) -> str:
    if not JOB_TYPE_NAME.fullmatch(name):
        raise ValueError(
            f"job type name {name!r} must be 1 to {JOB_TYPE_LIMIT} letters, digits or '_.:-'; "
            "give track() a mapping task name -> job type name"
        )
    return name


def _per_task(value: T | Mapping[str, T] | None, task_name: str) -> T | None:
    """A value given for every task, or per task name in a mapping."""
    if isinstance(value, Mapping):
        return value.get(task_name)
    return value
