"""NetRaven Tasks: job tracking, retries, statistics and notifications for Celery automation.

``celery -A netraven_tasks worker`` finds the Celery app here as ``app`` (imported lazily, so
importing a submodule does not build the app). ``netraven_tasks.track(app, tasks=...)`` tracks
the tasks of another Celery app (docs/integrating.md); it does not build ours either.
"""

from typing import Any

# The one place of the version: setup.cfg reads it (version = attr:), `netraven-tasks --version`
# prints it; CHANGELOG.md says what each version changed.
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in {"app", "celery"}:
        # lazy: importing a submodule must not build the Celery app (see the docstring).
        from netraven_tasks.celery_app import app

        return app
    if name == "track":
        # lazy: another app's module imports only what tracking needs, never NetRaven's own app.
        from netraven_tasks.tracked_apps import track

        return track
    raise AttributeError(f"module 'netraven_tasks' has no attribute {name!r}")
