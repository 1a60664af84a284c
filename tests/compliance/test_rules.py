"""The compliance rules file: every mistake named with the file, line and rule; read at start by the
settings (a bad file stops every process); read again by the job only when it changes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from netraven_tasks.compliance.rules import MAX_RULES, RulesFileError, current_rules, load_rules, parse_rules
from netraven_tasks.settings import Settings, SettingsError

RULES = r"""
- name: no-telnet
  description: VTY lines accept SSH only
  platforms: [cisco_ios, cisco_nxos]
  must_not_match: '^\s*transport input .*telnet'
- name: ntp-servers
  must_match: '^ntp server 10\.100\.0\.123'
- name: interface-descriptions
  section: '^interface '
  must_match: '^ description '
  must_not_match: '^ description .*TODO'
"""


def test_a_valid_file_gives_compiled_rules_with_their_lines():
    rules = parse_rules(RULES, Path("rules.yaml"))
    assert [(rule.name, rule.line) for rule in rules] == [
        ("no-telnet", 2),
        ("ntp-servers", 6),
        ("interface-descriptions", 8),
    ]
    telnet, ntp, descriptions = rules
    assert (
        telnet.platforms == {"cisco_ios", "cisco_nxos"} and telnet.description == "VTY lines accept SSH only"
    )
    assert telnet.applies_to("cisco_ios") and not telnet.applies_to("juniper_junos")
    assert ntp.platforms is None and ntp.applies_to("generic")
    assert descriptions.section is not None and descriptions.must_match and descriptions.must_not_match
    assert ntp.must_match is not None and ntp.must_match.search("hostname x\nntp server 10.100.0.123\n")


def test_an_empty_list_is_no_rules():
    assert parse_rules("[]\n", Path("rules.yaml")) == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [", r"rules\.yaml, line 1: not valid YAML"),
        ("", r"rules\.yaml: must be a YAML list of rules"),
        ("{name: a}", r"rules\.yaml: must be a YAML list of rules"),
        ("- just text\n", r"line 1, rule #1: a rule must be a mapping"),
        ("- must_match: x\n", r"line 1, rule #1: name is required"),
        ("- name: ok\n  must_match: x\n- must_match: y\n", r"line 3, rule #2: name is required"),
        ("- name: two words\n  must_match: x\n", r"line 1, rule #1: name 'two words' must be 1 to 64"),
        ("- name: a\n  must_match: x\n  colour: red\n", r"line 3, rule a: unknown key 'colour'"),
        ("- name: a\n  must_match: x\n  name: b\n", r"line 3, rule a: name is given twice"),
        ("- name: a\n", r"line 1, rule a: give must_match, must_not_match or both"),
        ("- name: a\n  must_match: '[x'\n", r"line 2, rule a: must_match is not a valid regex: unterminated"),
        (
            "- name: a\n  must_not_match: ok\n  section: '(x'\n",
            r"line 3, rule a: section is not a valid regex",
        ),
        ("- name: a\n  must_not_match: 'x*'\n", r"line 2, rule a: must_not_match matches the empty string"),
        ("- name: a\n  must_match: [x]\n", r"line 2, rule a: must_match must be text"),
        ("- name: a\n  must_match: x\n  platforms: [ios]\n", r"line 3, rule a: unknown platforms \['ios'\]"),
        ("- name: a\n  must_match: x\n  platforms: cisco_ios\n", r"line 3, rule a: platforms must be a list"),
        ("- name: a\n  must_match: x\n- name: a\n  must_match: y\n", r"line 3, rule a: .* earlier rule too"),
        (
            "- name: a\n  must_match: '" + "x" * 2001 + "'\n",
            r"line 2, rule a: must_match is longer than 2000",
        ),
    ],
)
def test_each_mistake_names_the_file_the_line_and_the_rule(text, message):
    with pytest.raises(RulesFileError, match=message):
        parse_rules(text, Path("/etc/netraven/rules.yaml"))


def test_a_file_with_too_many_rules_is_refused():
    text = "".join(f"- name: r{n}\n  must_match: x{n}\n" for n in range(MAX_RULES + 1))
    with pytest.raises(RulesFileError, match=f"has {MAX_RULES + 1} rules; at most {MAX_RULES}"):
        parse_rules(text, Path("rules.yaml"))


def test_a_missing_unreadable_or_huge_file_is_refused(tmp_path):
    with pytest.raises(RulesFileError, match=r"missing\.yaml: cannot be read: No such file"):
        load_rules(tmp_path / "missing.yaml")
    huge = tmp_path / "huge.yaml"
    huge.write_text("#" * (1024 * 1024 + 1))
    with pytest.raises(RulesFileError, match=r"huge\.yaml: is larger than 1024 KiB"):
        load_rules(huge)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"- name: \xff\n")
    with pytest.raises(RulesFileError, match=r"binary\.yaml: is not UTF-8 text"):
        load_rules(binary)


def _replace(path: Path, text: str) -> None:
    """Write by rename, as an editor or a deployment does: a new inode at once."""
    fresh = path.with_suffix(".new")
    fresh.write_text(text)
    os.replace(fresh, path)


def test_the_rules_are_read_again_only_when_the_file_changes(tmp_path):
    path = tmp_path / "rules.yaml"
    _replace(path, "- name: first\n  must_match: x\n")
    first = current_rules(path)
    assert current_rules(path) is first  # unchanged: the cached tuple itself, not a new read
    _replace(path, "- name: second\n  must_match: y\n")  # within the same clock tick, most likely
    assert [rule.name for rule in current_rules(path)] == ["second"]
    _replace(path, "- name: broken\n  must_match: '[y'\n")
    with pytest.raises(RulesFileError, match="rule broken: must_match is not a valid regex"):
        current_rules(path)


def test_the_settings_refuse_a_bad_rules_file_naming_the_variable_file_and_rule(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("- name: ntp\n  must_match: '^ntp server'\n- name: vty\n  must_not_match: '(telnet'\n")
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"NETRAVEN_VAR_DIR": str(tmp_path), "NETRAVEN_COMPLIANCE_RULES_FILE": str(path)})
    assert str(refused.value) == (
        f"NETRAVEN_COMPLIANCE_RULES_FILE: {path}, line 4, rule vty: must_not_match is not a valid regex: "
        "missing ), unterminated subpattern at position 0"
    )
    path.write_text("- name: ntp\n  must_match: '^ntp server'\n")
    settings = Settings.from_env(
        {"NETRAVEN_VAR_DIR": str(tmp_path), "NETRAVEN_COMPLIANCE_RULES_FILE": str(path)}
    )
    assert settings.compliance_rules_file == path
    assert Settings.from_env({"NETRAVEN_VAR_DIR": str(tmp_path)}).compliance_rules_file is None


@pytest.mark.parametrize(
    "command",
    # One path (the CLI reads the settings before any command): the fast lane starts one of them.
    [["worker"], *(pytest.param(c, marks=pytest.mark.slow) for c in (["beat"], ["api"], ["db", "upgrade"]))],
)
def test_the_processes_refuse_to_start_with_a_bad_rules_file(tmp_path, command):
    path = tmp_path / "rules.yaml"
    path.write_text("- must_match: x\n")
    env = {**os.environ, "NETRAVEN_VAR_DIR": str(tmp_path), "NETRAVEN_COMPLIANCE_RULES_FILE": str(path)}
    done = subprocess.run(
        [sys.executable, "-m", "netraven_tasks.cli", *command],
        env=env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        f"error: NETRAVEN_COMPLIANCE_RULES_FILE: {path}, line 1, rule #1: name is required"
    )
