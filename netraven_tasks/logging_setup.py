"""Log lines: JSON (``NETRAVEN_LOG_FORMAT=json``, for containers) or readable text, with job context.

Every line written while a job runs, and every line Celery writes about a job's task, carries
the task id and the job-log id, so ``grep``/a log query on either finds the whole story of a run.
Celery sets up its handlers as usual; the Celery integration only swaps their formatter and adds
the context filter (``after_setup_logger`` / ``after_setup_task_logger``). The filter never asks
the database: a job's id is resolved once, before its first line (``JobLogIds``).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from celery import current_task
from sqlalchemy import select

from netraven_tasks.db import session_factory
from netraven_tasks.jobs.registry import TASK_PREFIX
from netraven_tasks.models import JobLog
from netraven_tasks.settings import Settings
from netraven_tasks.tracking.headers import job_log_id_of

TEXT_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s] %(name)s: %(message)s%(job_context)s"

# Celery's own lines about a task pass a dict with "id" and "name" (received, succeeded, retry,
# failed): their task is known even outside the task's execution, e.g. in the main process.
CELERY_TASK_LOGGERS = ("celery.app.trace", "celery.worker.strategy", "celery.worker.request")

JobLogIdResolver = Callable[[str, str | None], int | None]


def _task_of(record: logging.LogRecord) -> tuple[str | None, str | None, int | None]:
    """(task id, task name, job-log id if the message headers carry it) of the record's task."""
    args = record.args
    if isinstance(args, Mapping) and record.name.startswith(CELERY_TASK_LOGGERS) and args.get("id"):
        return str(args["id"]), (str(args["name"]) if args.get("name") else None), None
    # celery.current_task stands for None outside a task: then it has no request.
    request = getattr(current_task, "request", None)
    request_id = getattr(request, "id", None)
    if not request_id:
        return None, None, None
    # The headers carry the row's id (launch_job, or the worker's JobRequest): no query.
    return str(request_id), getattr(current_task, "name", None), job_log_id_of(request)


class JobLogIds:
    """task id -> job-log id of this process, for log lines that cannot read it from headers.

    Celery's own lines about a task (received, succeeded, retry) name the task only. Its id is
    resolved once per task and process before the first such line, outside logging: from the
    message headers, or for runs published without ``launch_job`` with one indexed SELECT (the
    row exists before the message is published). The filter then only reads this cache.
    Tasks that are not job types are skipped.
    """

    def __init__(self, settings: Settings, capacity: int = 4096):
        self._settings = settings
        self._capacity = capacity
        self._cache: OrderedDict[str, int | None] = OrderedDict()
        self._lock = threading.Lock()

    def known(self, task_id: str, task_name: str | None = None) -> int | None:
        """The id already resolved for ``task_id`` (None if not): what the log filter asks."""
        with self._lock:
            if task_id in self._cache:
                self._cache.move_to_end(task_id)
            return self._cache.get(task_id)

    def remember(self, task_id: str, job_log_id: int | None) -> None:
        with self._lock:
            self._cache[task_id] = job_log_id
            self._cache.move_to_end(task_id)
            while len(self._cache) > self._capacity:
                self._cache.popitem(last=False)

    def resolve(self, task_id: str, task_name: str | None, headers_id: int | None = None) -> int | None:
        """Remember and return the task's job-log id: ``headers_id`` if given, else looked up."""
        if headers_id is None:
            with self._lock:
                if task_id in self._cache:
                    return self._cache[task_id]
            if task_name is not None and not task_name.startswith(TASK_PREFIX):
                return None  # internal tasks (notifications, reaper) have no job-log row
            try:
                headers_id = self._lookup(task_id)
            except Exception:
                return None  # the database is away: lines go out with the task id only
        self.remember(task_id, headers_id)
        return headers_id

    def _lookup(self, task_id: str) -> int | None:
        with session_factory(self._settings)() as session:
            return session.scalar(select(JobLog.id).where(JobLog.task_id == task_id))


class JobContextFilter(logging.Filter):
    """Adds ``task_id``, ``task_name`` and ``job_log_id`` to every record; never drops one."""

    def __init__(self, resolve_job_log_id: JobLogIdResolver | None = None):
        super().__init__()
        self._resolve = resolve_job_log_id
        self._busy = threading.local()  # the lookup may log (SQLAlchemy): no recursion

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, "job_context"):
            return True  # another handler already did it
        task_id = task_name = None
        job_log_id = None
        try:
            task_id, task_name, job_log_id = _task_of(record)
            if (
                task_id
                and job_log_id is None
                and self._resolve is not None
                and not getattr(self._busy, "active", False)
            ):
                self._busy.active = True
                try:
                    job_log_id = self._resolve(task_id, task_name)
                finally:
                    self._busy.active = False
        except Exception:  # noqa: S110 - a log line must never break the job that writes it
            pass
        record.task_id = task_id
        record.task_name = task_name
        record.job_log_id = job_log_id
        record.job_context = f" [job_log={job_log_id or '-'} task={task_id}]" if task_id else ""
        return True


class TextFormatter(logging.Formatter):
    """``[time: LEVEL/Process] logger: message [job_log=12 task=…]`` for a terminal."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "job_context"):
            record.job_context = ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: what log shippers (Loki, Elasticsearch, CloudWatch) parse."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            "process_name": record.processName,
        }
        for key in ("task_id", "task_name", "job_log_id"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def make_formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def apply_to_handlers(logger: logging.Logger, log_format: str, context: JobContextFilter) -> None:
    """Give the handlers of ``logger`` our format and the job context (idempotent)."""
    formatter = make_formatter(log_format)
    for handler in logger.handlers:
        handler.setFormatter(formatter)
        if not any(isinstance(existing, JobContextFilter) for existing in handler.filters):
            handler.addFilter(context)


def configure_logging(settings: Settings, level: int | str = logging.INFO) -> None:
    """For processes Celery does not set up (the API, scripts): one stderr handler on the root."""
    root = logging.getLogger()
    if not any(getattr(handler, "netraven", False) for handler in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.netraven = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    apply_to_handlers(root, settings.log_format, JobContextFilter())
