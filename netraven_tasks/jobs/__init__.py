"""Job types: the automation work NetRaven runs on Celery workers, and how to declare more."""

from netraven_tasks.jobs.registry import JobType, all_job_types, get_job_type, job_type
from netraven_tasks.jobs.retry_policy import RetryPolicy

BUILTIN_JOB_MODULES = (
    "netraven_tasks.jobs.reachability",
    "netraven_tasks.jobs.config_backup",
    "netraven_tasks.jobs.compliance_check",
)

__all__ = [
    "BUILTIN_JOB_MODULES",
    "JobType",
    "RetryPolicy",
    "all_job_types",
    "get_job_type",
    "job_type",
]
