"""Normalisation and masking on realistic configurations of each platform (no server needed).

The sample configurations in tests/support/configs/ are what docs/changes.md shows; each test
here says what one rule does to them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netraven_tasks.backups.diffs import config_diff
from netraven_tasks.backups.normalise import (
    BUILTIN_PLATFORMS,
    IGNORE,
    MASK,
    MASKS,
    IgnoreFileError,
    build_rules,
    load_ignore_file,
    masked,
    normalised,
)
from netraven_tasks.settings import Settings, SettingsError

CONFIGS = Path(__file__).resolve().parent.parent / "support" / "configs"
RULES = build_rules()

# What changes by itself between two backups of an unchanged device, per sample: (old, new).
TICKS = {
    "cisco_ios": [
        ("4312 bytes", "4318 bytes"),
        ("09:12:44 UTC Fri Dec 4 2026 by admin", "17:40:02 UTC Sat Dec 5 2026 by netops"),
        ("09:13:02 UTC", "17:41:10 UTC"),
        ("ntp clock-period 17180157", "ntp clock-period 17180161"),
    ],
    "cisco_nxos": [
        ("done at: Fri Dec  4 09:12:44 2026", "done at: Sat Dec  5 17:40:02 2026"),
        ("!Time: Fri Dec  4 09:20:01 2026", "!Time: Sat Dec  5 17:45:00 2026"),
        ("ntp clock-period 17179983", "ntp clock-period 17179990"),
    ],
    "arista_eos": [("modified at  Fri Dec  4 09:12:44 2026", "modified at  Sat Dec  5 17:40:02 2026")],
    "juniper_junos": [("2026-12-04 09:12:44 UTC by admin", "2026-12-05 17:40:02 UTC by netops")],
    "generic": [
        ("2026-12-04 09:12:44", "2026-12-05 17:40:02"),
        ("2026-12-04 09:20:01", "2026-12-05 17:45:00"),
    ],
}

# Every secret each sample holds: none may survive masking.
SECRETS = {
    "cisco_ios": ["$9$nhEmQVczB7dqsO", "$9$4H9mJ2pQ8yKxTe", "0822455D0A16", "045802150C2E", "Sup3rS3cretPSK",
                  "1511021F0725", "n0tPublic"],
    "cisco_nxos": ["$5$KLPFHB", "fewhg123", "0x5d4a5c1bd3c5e6", "n0tPublic", "5b5ea3b7f3a4a6c1"],
    "arista_eos": ["$6$Cs7mWOBqkqUQLp2X", "$6$QpV7uP2Z", "070C285F4D06", "q+VNViP5i4rVjW1cxFv2wA==",
                   "n0tPublic"],
    "juniper_junos": ["$6$zJ1UJ7Yi", "$6$kP2Q9s", "n0tPublic", "$9$H.fz9A0hSe36Cu1RhrvWLx", "$9$dkb2aJGjqmT3",
                      "$9$7A-b2oJDk.5F"],
    "generic": ["n0tPublic", "0822455D0A16", "Sup3rS3cretPSK"],
}  # fmt: skip


def sample(platform: str) -> str:
    return (CONFIGS / f"{platform}.cfg").read_text()


def ticked(platform: str) -> str:
    text = sample(platform)
    for old, new in TICKS[platform]:
        assert old in text, (platform, old)
        text = text.replace(old, new)
    return text


@pytest.mark.parametrize("platform", BUILTIN_PLATFORMS)
def test_a_backup_that_only_ticked_is_not_a_change(platform):
    before, after = sample(platform), ticked(platform)
    assert before != after
    assert normalised(before, platform, RULES) == normalised(after, platform, RULES)
    diff = config_diff(before.encode(), after.encode(), platform=platform, rules=RULES)
    assert not diff.changed and diff.lines == ()


@pytest.mark.parametrize("platform", BUILTIN_PLATFORMS)
def test_a_real_change_is_one_added_line(platform):
    after = ticked(platform) + "ntp server 192.0.2.124\n"
    diff = config_diff(sample(platform).encode(), after.encode(), platform=platform, rules=RULES)
    assert (diff.added, diff.removed) == (1, 0)
    assert "+ntp server 192.0.2.124\n" in diff.lines


@pytest.mark.parametrize("rule", IGNORE, ids=lambda rule: f"{rule.platform}:{rule.sample[:30]}")
def test_each_builtin_rule_drops_its_sample_line_and_keeps_real_lines(rule):
    text = f"hostname r1\n{rule.sample}\ninterface Gi0/0\n"
    assert normalised(text, rule.platform, RULES) == "hostname r1\ninterface Gi0/0\n"
    if rule.platform != "generic":  # a platform's own rule is not applied to the others
        other = "juniper_junos" if rule.platform != "juniper_junos" else "cisco_ios"
        assert rule.sample in normalised(text, other, RULES) or any(
            r.platform == "generic" and re.search(r.pattern, rule.sample) for r in IGNORE
        )


@pytest.mark.parametrize("platform", BUILTIN_PLATFORMS)
def test_every_secret_of_a_sample_is_masked_and_the_rest_is_kept(platform):
    text = sample(platform)
    shown = masked(text, platform, RULES)
    for secret in SECRETS[platform]:
        assert secret in text, (platform, secret)
        assert secret not in shown, (platform, secret)
    assert MASK in shown
    unchanged = [line for line in text.split("\n") if not any(s in line for s in SECRETS[platform])]
    assert all(line in shown.split("\n") for line in unchanged)


@pytest.mark.parametrize("rule", MASKS, ids=lambda rule: f"{rule.platform}:{rule.sample[:30]}")
def test_each_mask_rule_masks_its_sample_and_keeps_the_keyword(rule):
    shown = masked(rule.sample, rule.platform, RULES)
    assert MASK in shown and shown != rule.sample
    assert shown.split()[0] == rule.sample.split()[0]


def test_a_changed_secret_shows_as_a_changed_line_without_its_value():
    before = sample("cisco_ios").encode()
    after = before.replace(b"n0tPublic RO", b"An0therSecret RO")
    diff = config_diff(before, after, platform="cisco_ios", rules=RULES)
    assert (diff.added, diff.removed) == (1, 1)
    assert "-snmp-server community <masked> RO 10\n" in diff.lines
    assert "+snmp-server community <masked> RO 10\n" in diff.lines
    assert "An0therSecret" not in diff.text and "n0tPublic" not in diff.text
    unmasked = config_diff(before, after, platform="cisco_ios", rules=RULES, mask=False)
    assert "+snmp-server community An0therSecret RO 10\n" in unmasked.lines


def test_a_long_diff_is_trimmed_and_says_how_much_was_left_out():
    before = b"hostname r1\n"
    after = before + b"".join(b"ntp server 192.0.2.%d\n" % i for i in range(1, 101))
    diff = config_diff(before, after, platform="generic", rules=RULES, max_lines=20)
    assert len(diff.lines) == 20 and diff.added == 100
    assert diff.omitted == 3 + 1 + 100 - 20  # headers, hunk, the context line, the added lines


def test_the_operators_rules_add_to_the_builtin_ones(tmp_path):
    rules_file = tmp_path / "ignore.yaml"
    rules_file.write_text("cisco_ios:\n  - '^\\s*! uptime is '\nall:\n  - '^# generated '\n")
    rules = build_rules(load_ignore_file(rules_file))
    text = "hostname r1\n! uptime is 3 days\n# generated by tool at 09:00\nntp clock-period 1\n"
    assert normalised(text, "cisco_ios", rules) == "hostname r1\n"
    assert normalised(text, "juniper_junos", rules) == "hostname r1\n! uptime is 3 days\nntp clock-period 1\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "cisco_ios:\n  - 'ok'\n  - '(unclosed'\n",
            r"ignore\.yaml line 3: cisco_ios: bad regex '\(unclosed'",
        ),
        ("- just a list\n", r"ignore\.yaml line 1: must map platforms to lists of regexes"),
        ("cisco_ios: '^x'\n", r"ignore\.yaml line 1: cisco_ios must have a list of regexes"),
        ("Cisco IOS:\n  - x\n", r"ignore\.yaml line 1: 'Cisco IOS' is not a platform \(one of arista_eos, "),
        ("cisco_ios: [\n", r"ignore\.yaml: not valid YAML"),
    ],
)
def test_a_bad_ignore_file_names_the_file_and_line(tmp_path, content, message):
    rules_file = tmp_path / "ignore.yaml"
    rules_file.write_text(content)
    with pytest.raises(IgnoreFileError, match=message):
        load_ignore_file(rules_file)
    with pytest.raises(SettingsError, match="NETRAVEN_CONFIG_IGNORE_FILE: .*" + message):
        Settings.from_env({"NETRAVEN_VAR_DIR": str(tmp_path), "NETRAVEN_CONFIG_IGNORE_FILE": str(rules_file)})


def test_the_docs_show_every_builtin_rule_with_its_sample():
    docs = (CONFIGS.parent.parent.parent / "docs" / "changes.md").read_text()
    for rule in IGNORE:
        assert f"`{rule.sample}`" in docs, rule
    for mask in MASKS:
        assert f"`{mask.sample.strip()}`" in docs, mask


def test_lines_that_look_like_diff_headers_are_counted_and_masked_as_lines():
    before = b"hostname r1\n-- snmp-server community s3cr3t RO\n"
    after = b"hostname r1\n++ added\n"
    diff = config_diff(before, after, platform="generic", rules=RULES)
    assert (diff.added, diff.removed) == (1, 1)
    assert "+++ added\n" in diff.lines and "--- before\n" in diff.lines
