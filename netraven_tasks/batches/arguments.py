"""A fleet run's arguments: the job's own, less its device argument, which each device fills in."""

from __future__ import annotations

from typing import Any

from netraven_tasks.jobs.registry import JobType


def batch_argument_errors(declared: JobType, arguments: dict[str, Any]) -> dict[str, Any]:
    """The problems of ``arguments`` for a batch of ``declared`` (by field; empty when none): the
    job must take a device, and its device argument comes from the inventory, not the caller."""
    device_arg = declared.device_arg
    if device_arg is None:
        return {"job_type": [f"{declared.name} takes no device: it cannot run over targets"]}
    if device_arg in arguments:
        return {"arguments": {device_arg: ["set per device from the inventory; leave it out"]}}
    errors = declared.arguments().validate(arguments, partial=(device_arg,))
    return {"arguments": errors} if errors else {}
