"""Where a tracked worker spends its time: py-spy samples of the worker's processes mid-run.

Publishes N tracked no-op jobs, starts one prefork worker (2 children, the recorder beside it),
and once it is busy samples the main process and each child for a few seconds with
``py-spy record --nonblocking`` (the processes are never paused). Prints, per process, the
share of samples in which each function was on the stack.

    .venv/bin/pip install py-spy   # a profiling tool, not a dependency of the project
    .venv/bin/python -m benchmarks.tracking_profile [--tasks 4000] [--seconds 6]

Needs PostgreSQL and Redis on 127.0.0.1 like benchmarks/tracking.py (scratch database, Redis
db 15, flushed).
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis

from benchmarks.scratch import bench_redis_url, scratch_database, start_worker, stop
from benchmarks.tracking_overhead import Mode, _env, _publish


def shares(raw: str, top: int) -> list[tuple[float, str]]:
    """py-spy's raw (collapsed) output as (share of samples with the function on the stack, name)."""
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        for frame in {re.sub(r":\d+\)", ")", frame) for frame in stack.split(";")}:
            inclusive[frame] += int(count)
    return [(n / total, name) for name, n in inclusive.most_common(top)] if total else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=4000)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    var_dir = Path(tempfile.gettempdir()) / f"netraven-profile-{uuid.uuid4().hex[:6]}"
    var_dir.mkdir(parents=True)
    client = redis.Redis.from_url(bench_redis_url())
    with scratch_database() as db_url:
        env = _env(db_url, "stream", var_dir, bench_redis_url())
        env["NETRAVEN_RECORDER_IN_WORKER"] = "1"
        client.flushdb()
        _publish(env, Mode("stream", "job", "stream"), args.tasks)
        with (var_dir / "worker.log").open("wb") as log:
            worker = start_worker(env, log, "profile")
            try:
                while int(client.get("bench:done") or 0) < min(300, args.tasks // 4):
                    if worker.poll() is not None:
                        raise SystemExit(f"the worker exited; see {var_dir / 'worker.log'}")
                    time.sleep(0.05)
                found = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True)
                pids = [str(worker.pid), *found.stdout.split()]
                outputs = {pid: var_dir / f"spy-{pid}.txt" for pid in pids}
                spies = [
                    subprocess.Popen(
                        [
                            spy,
                            "record",
                            "--nonblocking",
                            "-d",
                            str(args.seconds),
                            "-f",
                            "raw",
                            "-o",
                            str(path),
                            "-p",
                            pid,
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    for pid, path in outputs.items()
                ]
                for process in spies:
                    process.wait()
            finally:
                stop([worker])
                client.flushdb()
    for pid, path in outputs.items():
        role = "worker main process" if pid == str(worker.pid) else "child"
        print(f"\n== {role} {pid}")
        for share, name in shares(path.read_text() if path.exists() else "", args.top):
            print(f"{share:6.1%}  {name[:140]}")


if __name__ == "__main__":
    main()
