"""``compliance show DEVICE``: the latest compliance result of a device, rule by rule.

The CLI runs as the operator, who may read every history, so the findings quote the configuration.
Exit status 0 when the device passed, 1 when a rule failed, 2 when it has no result.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from netraven_tasks.cli.common import CommandError
from netraven_tasks.compliance.checking import Finding
from netraven_tasks.compliance.results import compliance_view, latest_compliance
from netraven_tasks.db import session_factory
from netraven_tasks.settings import Settings

STATUS_WORDS = {"passed": "passed", "failed": "FAILED", "not_applicable": "n/a"}


def result_lines(view: dict[str, Any]) -> list[str]:
    """The result as a terminal shows it: a headline, when and what was checked, one line per
    rule (and one per further finding of a failed rule)."""
    verdict = "compliant" if view["passed"] else "NOT compliant"
    run = f", job log {view['job_log_id']}" if view["job_log_id"] else ""
    lines = [
        f"{view['device']} ({view['platform']}, {view['history']} history): {verdict}: {view['summary']}",
        f"checked {view['checked_at']:%Y-%m-%d %H:%M:%S} UTC, backup {view['backup_sha256'][:12]}{run}",
    ]
    width = max((len(rule["name"]) for rule in view["rules"]), default=0)
    for rule in view["rules"]:
        findings = [Finding.from_dict(finding).describe() for finding in rule["findings"]]
        if rule["findings_omitted"]:
            findings.append(f"… and {rule['findings_omitted']} more")
        first = findings[0] if findings else ""
        lines.append(f"  {STATUS_WORDS[rule['status']]:<7} {rule['name']:<{width}}  {first}".rstrip())
        lines += [f"  {'':<7} {'':<{width}}  {more}" for more in findings[1:]]
    return lines


def cmd_show(settings: Settings, args: argparse.Namespace) -> None:
    with session_factory(settings)() as session:
        result = latest_compliance(session, args.device, args.owner)
        if result is None:
            history = "the shared history" if args.owner is None else f"user {args.owner}'s history"
            raise CommandError(f"no compliance result of {args.device} in {history}")
        view = compliance_view(session, result, quotes=True)
    if args.json:
        print(json.dumps(view, indent=2, default=str))
    else:
        print("\n".join(result_lines(view)))
    if not view["passed"]:
        raise SystemExit(1)


def add_commands(commands: Any) -> None:
    """``compliance show DEVICE [--owner ID] [--json]``."""
    compliance = commands.add_parser("compliance", help="compliance results of devices")
    sub = compliance.add_subparsers(dest="compliance_command", required=True, metavar="ACTION")
    show = sub.add_parser("show", help="the latest result of a device (exit 1 if a rule failed)")
    show.add_argument("device", help="the device's inventory name")
    show.add_argument("--owner", type=int, help="a user's own history instead of the shared one")
    show.add_argument("--json", action="store_true", help="the API's JSON instead of text")
    show.set_defaults(func=cmd_show)
