"""Who may launch what: each job type declares the roles that may launch it, per its arguments.

Two roles: ``admin`` and ``user`` (any other signed-in account). Runs launched with no owner
(the CLI without ``--owner``, beat) act as the operator, that is as ``admin``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from netraven_tasks.settings import Settings

ADMIN = "admin"
USER = "user"
EVERYONE = frozenset({ADMIN, USER})
ADMINS_ONLY = frozenset({ADMIN})
# Job types NetRaven tracks but never launches: another Celery app's tasks (``track``).
NOBODY: frozenset[str] = frozenset()

# A fixed set, or a function of the validated arguments and the settings (e.g. per driver).
LaunchRoles = frozenset[str] | Callable[[dict[str, Any], Settings], frozenset[str]]


class LaunchForbidden(PermissionError):
    """The caller's role may not launch this job type with these arguments."""


class OwnerDeactivated(LaunchForbidden):
    """The run's owner is deactivated (or gone): nothing is launched as them, from anywhere."""


def role_of(is_admin: bool | None) -> str:
    return ADMIN if is_admin else USER


def roles_allowed(launch_roles: LaunchRoles, kwargs: dict[str, Any], settings: Settings) -> frozenset[str]:
    return launch_roles(kwargs, settings) if callable(launch_roles) else launch_roles


def ensure_may_launch(
    job_type: str, launch_roles: LaunchRoles, kwargs: dict[str, Any], is_admin: bool, settings: Settings
) -> None:
    """Raise LaunchForbidden (message fit for a 403) unless the role may launch the job."""
    allowed = roles_allowed(launch_roles, kwargs, settings)
    if not allowed:
        raise LaunchForbidden(
            f"{job_type} is launched by its own Celery app, not through NetRaven, which only tracks it"
        )
    if role_of(is_admin) not in allowed:
        raise LaunchForbidden(
            f"only {' or '.join(sorted(allowed)) or 'nobody'} may launch {job_type} with these arguments"
        )
