"""``netraven-tasks compliance show DEVICE``: the latest result, rule by rule; exit 0 when it passed,
1 when a rule failed, 2 when there is no result."""

from __future__ import annotations

import json

import pytest

from tests.fleet.test_batch_commands import cli
from tests.support.compliance import CONFIG, keep_result


def test_show_prints_every_rule_and_exits_1_when_one_failed(settings, clean_db):
    keep_result(settings, "core-1")
    code, out, _ = cli("compliance", "show", "core-1")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == (
        "core-1 (cisco_ios, shared history): NOT compliant: "
        "1 of 2 rules failed: no-telnet (line 3: transport input telnet)"
    )
    assert lines[1].startswith("checked ") and "backup abababababab" in lines[1]
    assert lines[2:] == [
        "  FAILED  no-telnet  line 3: transport input telnet",
        "  passed  ntp",
    ]


def test_show_exits_0_for_a_compliant_device_and_prints_json_on_request(settings, clean_db):
    keep_result(settings, "core-1", config=CONFIG.replace("telnet", "ssh"))
    code, out, _ = cli("compliance", "show", "core-1", "--json")
    assert code == 0
    body = json.loads(out)
    assert (body["device"], body["passed"], body["summary"]) == ("core-1", True, "all 2 rules passed")


def test_show_without_a_result_is_an_error_naming_the_device(settings, clean_db):
    from netraven_tasks.cli import CommandError

    with pytest.raises(CommandError, match=r"^no compliance result of core-9 in the shared history$"):
        cli("compliance", "show", "core-9")
