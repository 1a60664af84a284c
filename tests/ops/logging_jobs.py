"""A job type that writes log lines three ways, for the log-format tests (its own worker and queue)."""

from __future__ import annotations

import logging
from typing import Any

from celery.utils.log import get_task_logger
from marshmallow import Schema, fields

from netraven_tasks.jobs import job_type

QUEUE = "netraven-ops-logging"

module_log = logging.getLogger(__name__)
task_log = get_task_logger(__name__)


class ChattyArguments(Schema):
    host = fields.String(load_default="lab-sw-09")
    marker = fields.String(required=True)


@job_type("ops_chatty", arguments=ChattyArguments, time_limit=30)
def chatty(host: str, marker: str) -> dict[str, Any]:
    """Logs through a module logger, Celery's task logger and a warning, then succeeds."""
    module_log.info("module logger line %s for %s", marker, host)
    task_log.info("task logger line %s", marker)
    module_log.warning("warning line %s", marker)
    return {"marker": marker}
