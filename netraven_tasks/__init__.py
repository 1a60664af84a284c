"""NetRaven Tasks: job tracking, retries, statistics and notifications for Celery automation.

``celery -A netraven_tasks worker`` finds the Celery app here as ``app`` (imported lazily, so
importing a submodule does not build the app).
"""

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in {"app", "celery"}:
        # lazy: importing a submodule must not build the Celery app (see the docstring).
        from netraven_tasks.celery_app import app

        return app
    raise AttributeError(f"module 'netraven_tasks' has no attribute {name!r}")
