"""Job types for the queries benchmark (loaded through NETRAVEN_JOB_MODULES)."""

from __future__ import annotations

import time
from typing import Any

from marshmallow import Schema, fields

from netraven_tasks.jobs import job_type


class SleepArguments(Schema):
    host = fields.String(load_default="bench")
    seconds = fields.Float(load_default=1.0)


@job_type("bench_sleep", arguments=SleepArguments, time_limit=60)
def bench_sleep(host: str, seconds: float) -> dict[str, Any]:
    """Stay running a moment, so the benchmark can see it in the active list."""
    time.sleep(min(seconds, 10.0))
    return {"slept": seconds}
