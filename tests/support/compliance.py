"""Compliance results kept directly, as the job keeps them (API and CLI tests read them back)."""

from __future__ import annotations

from pathlib import Path

from netraven_tasks.settings import Settings

CONFIG = "hostname r1\nline vty 0 4\n transport input telnet\nntp server 10.0.0.1\n"
RULES = """
- name: no-telnet
  must_not_match: 'transport input .*telnet'
- name: ntp
  must_match: '^ntp server '
"""


def keep_result(
    settings: Settings,
    device: str,
    owner: int | None = None,
    config: str = CONFIG,
    task_id: str | None = None,
) -> int:
    """The id of a new result of ``config`` against RULES for ``device`` in a history."""
    from netraven_tasks.compliance.checking import check_config
    from netraven_tasks.compliance.results import record_result
    from netraven_tasks.compliance.rules import parse_rules
    from netraven_tasks.db import session_factory

    report = check_config(parse_rules(RULES, Path("rules.yaml")), config, "cisco_ios")
    with session_factory(settings).begin() as session:
        row = record_result(
            session,
            device=device,
            namespace_owner_id=owner,
            task_id=task_id,
            backup_sha256="ab" * 32,
            report=report,
            keep_days=90,
        )
        return row.id
