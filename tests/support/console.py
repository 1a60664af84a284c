"""A ``netraven-tasks`` command run in this process (a console script start costs seconds)."""

from __future__ import annotations

import contextlib
import io
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def in_process(*args: str) -> Outcome:
    """What ``main`` does but the process-wide umask, with CommandError as its exit status 2."""
    from netraven_tasks.cli import CommandError, build_parser
    from netraven_tasks.settings import get_settings

    parsed = build_parser().parse_args(list(args))
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            parsed.func(get_settings(), parsed)
        except CommandError as error:
            print(f"error: {error}", file=sys.stderr)
            code = 2
    return Outcome(code, out.getvalue(), err.getvalue())
