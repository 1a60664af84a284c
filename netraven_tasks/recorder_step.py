"""The worker bootstep that runs the recorder's duties beside a Celery worker.

With tracking through the Redis Stream (and NETRAVEN_RECORDER_IN_WORKER, the default) every
worker keeps a ``netraven-tasks recorder`` process beside it; one recorder per partition leads
at a time. Otherwise the worker runs the missed-run check of schedules itself. Either starts and
stops with the worker (``app.steps['worker']``), and the worker's own timer restarts a recorder
that died: no thread of ours watches it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from typing import Any

from celery import bootsteps

from netraven_tasks import pool_shutdown
from netraven_tasks.runtime import runtime_of
from netraven_tasks.schedules.watch import start_watch
from netraven_tasks.tracking.fallback import SpoolReplay

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0
STOP_SECONDS = 15.0  # a batch in flight is committed or left unacknowledged (read again) by then


class RecorderProcess:
    """A ``netraven-tasks recorder`` process beside this worker, started again if it exits.

    A process of its own, not a thread of the worker's main process: there the batch writer
    competed for the interpreter with message dispatch: no-op job throughput was 0.29x of
    untracked tasks that way, 0.77x this way (benchmarks/tracking_overhead.py). It stops by
    itself if the worker dies without stopping it (``--parent-pid``, e.g. after SIGKILL).
    """

    def __init__(self, name: str, parent_pid: int):
        self.command = [
            sys.executable, "-m", "netraven_tasks.cli", "recorder",
            "--name", name, "--parent-pid", str(parent_pid),
        ]  # fmt: skip
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        self._process = subprocess.Popen(self.command)

    def check(self) -> None:
        """Start the recorder again if it exited (the worker's timer calls this every second)."""
        if self._process is not None and self._process.poll() is not None:
            log.warning("recorder exited with %s; starting it again", self._process.returncode)
            self.start()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                log.warning("recorder %s did not stop within %.0f s; killing it", process.pid, STOP_SECONDS)
                process.kill()


class RecorderStep(bootsteps.StartStopStep):
    """Starts with the worker (after its timer), stops at its shutdown, warm or cold."""

    requires = ("celery.worker.components:Timer",)
    label = "NetRaven recorder"

    def __init__(self, worker: Any, **kwargs: Any):
        super().__init__(worker, **kwargs)
        self.recorder: RecorderProcess | None = None
        self._check: Any = None
        self._watch_stop = threading.Event()
        self._replay: Any = None

    def start(self, worker: Any) -> None:
        # SIGTERM to the whole process group must not hang the worker (pool_shutdown.py).
        pool_shutdown.install()
        runtime = runtime_of(worker.app)
        settings = runtime.settings
        log.info("%s", settings.tracking_mode())  # which mode, and why: the first thing to check
        # Tracking events the stream and the database could not take wait in the local spool:
        # delivered at start, then whenever the stream or the database answers again.
        spool_replay = SpoolReplay(runtime.replay_spool)
        spool_replay.tick()
        self._replay = worker.timer.call_repeatedly(CHECK_SECONDS, spool_replay.tick)
        if settings.tracking_via_stream and settings.recorder_in_worker:
            self.recorder = RecorderProcess(f"{worker.hostname}:recorder", os.getpid())
            self.recorder.start()
            self._check = worker.timer.call_repeatedly(CHECK_SECONDS, self.recorder.check)
        else:
            # Schedules: without a recorder beside the worker (the embedded default), the
            # worker itself runs the missed-run check; otherwise the recorder does.
            start_watch(settings, self._watch_stop, runtime.app)

    def stop(self, worker: Any) -> None:
        if self._replay is not None:
            self._replay.cancel()
            self._replay = None
        if self._check is not None:
            self._check.cancel()
            self._check = None
        if self.recorder is not None:
            self.recorder.stop()
        self._watch_stop.set()

    def terminate(self, worker: Any) -> None:
        self.stop(worker)
