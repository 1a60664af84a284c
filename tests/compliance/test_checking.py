"""The rule engine on a realistic IOS running-config: forbidden lines, missing lines, sections,
platforms, and the bounds on what a hostile configuration can make a result hold."""

from __future__ import annotations

from pathlib import Path

from netraven_tasks.compliance.checking import MAX_FINDINGS, QUOTE_CHARS, RuleStatus, check_config
from netraven_tasks.compliance.rules import parse_rules

CONFIGS = Path(__file__).resolve().parent.parent / "support" / "configs"
CORE = (CONFIGS / "cisco_ios_core.cfg").read_text()


def rules(text: str):  # type: ignore[no-untyped-def]
    return parse_rules(text, Path("rules.yaml"))


def line_of(config: str, text: str) -> int:
    return config.split("\n").index(text) + 1


def test_a_forbidden_line_fails_its_rule_with_the_line_and_a_present_line_passes():
    report = check_config(
        rules(
            r"""
- name: no-telnet
  must_not_match: '^ transport input .*telnet'
- name: ntp-servers
  must_match: '^ntp server 10\.100\.0\.123'
"""
        ),
        CORE,
        "cisco_ios",
    )
    telnet, ntp = report.rules
    assert telnet.status is RuleStatus.FAILED and ntp.status is RuleStatus.PASSED
    line = line_of(CORE, " transport input telnet ssh")
    assert [(f.kind, f.line, f.text) for f in telnet.findings] == [
        ("forbidden", line, " transport input telnet ssh")
    ]
    assert not report.passed and report.checked == 2
    assert report.summary() == f"1 of 2 rules failed: no-telnet (line {line}: transport input telnet ssh)"


def test_an_interface_without_a_description_fails_a_section_rule_by_its_section():
    report = check_config(
        rules(
            """
- name: interface-descriptions
  section: '^interface '
  must_match: '^ description '
"""
        ),
        CORE,
        "cisco_ios",
    )
    [result] = report.rules
    assert result.status is RuleStatus.FAILED
    assert result.sections == CORE.count("\ninterface ")  # every interface block was checked
    # Gi0/4 has no description; its neighbours' descriptions do not count for it.
    line = line_of(CORE, "interface GigabitEthernet0/4")
    assert [(f.kind, f.line, f.text) for f in result.findings] == [
        ("missing", line, "interface GigabitEthernet0/4")
    ]
    assert report.summary() == (
        f"1 of 1 rules failed: interface-descriptions (line {line}: no line matches under "
        "interface GigabitEthernet0/4)"
    )
    fixed = CORE.replace(
        "interface GigabitEthernet0/4\n", "interface GigabitEthernet0/4\n description SPARE\n"
    )
    assert check_config(
        rules("- {name: d, section: '^interface ', must_match: '^ description '}"), fixed, "cisco_ios"
    ).passed


def test_a_section_is_its_line_and_the_deeper_indented_lines_after_it():
    config = "\n".join(
        [
            "router bgp 65000",
            " address-family ipv4",
            "  neighbor 10.0.0.2 activate",
            " exit-address-family",
            " address-family ipv6",
            "  neighbor 2001:db8::2 activate",
            " exit-address-family",
            "interface Gi0/1",
            " neighbor is not in a bgp section",
        ]
    )
    scoped = rules("- {name: af, section: '^ address-family', must_match: '^  neighbor .* activate'}")
    assert check_config(scoped, config, "generic").passed
    forbidden = rules("- {name: v6, section: '^ address-family ipv6', must_not_match: 'activate'}")
    [result] = check_config(forbidden, config, "generic").rules
    assert [(f.line, f.text) for f in result.findings] == [(6, "  neighbor 2001:db8::2 activate")]
    assert result.sections == 1


def test_a_must_match_without_any_matching_line_says_so_and_multi_line_patterns_quote_every_line():
    report = check_config(
        rules(
            r"""
- name: syslog-server
  must_match: '^logging host 10\.9\.9\.9$'
- name: vty-ssh-only
  must_not_match: '^line vty 0 4\n(?: .*\n)*? transport input telnet'
"""
        ),
        CORE,
        "cisco_ios",
    )
    missing, vty = report.rules
    assert [(f.kind, f.line, f.text) for f in missing.findings] == [("missing", None, None)]
    assert vty.findings[0].line == line_of(CORE, "line vty 0 4")
    assert vty.findings[0].text is not None and vty.findings[0].text.endswith(" transport input telnet ssh")
    assert report.summary().startswith(
        "2 of 2 rules failed: syslog-server (no line matches), vty-ssh-only (line "
    )
    assert "\n" not in report.summary()


def test_a_rule_for_other_platforms_is_not_applicable_and_not_counted():
    report = check_config(
        rules("- {name: junos-ssh, platforms: [juniper_junos], must_match: 'set system services ssh'}"),
        CORE,
        "cisco_ios",
    )
    assert report.rules[0].status is RuleStatus.NOT_APPLICABLE and report.passed
    assert report.summary() == "no rule applies to cisco_ios"


def test_a_rule_with_both_patterns_fails_on_either():
    both = rules(
        "- {name: snmp, must_match: '^snmp-server group ', must_not_match: '^snmp-server community '}"
    )
    assert check_config(both, CORE, "cisco_ios").passed
    weak = CORE + "snmp-server community public RO\n"
    [result] = check_config(both, weak, "cisco_ios").rules
    assert [(f.kind, f.text) for f in result.findings] == [("forbidden", "snmp-server community public RO")]


def test_a_hostile_configuration_makes_a_bounded_result():
    config = "hostname \x1b[2Jevil\x00\n" + "".join(f"bad line {n} {'x' * 1000}\n" for n in range(10_000))
    report = check_config(rules("- {name: no-bad, must_not_match: '^(bad|hostname)'}"), config, "generic")
    [result] = report.rules
    assert len(result.findings) == MAX_FINDINGS and result.findings_omitted == 10_001 - MAX_FINDINGS
    assert all(len(f.text or "") <= QUOTE_CHARS for f in result.findings)
    assert result.findings[0].text == "hostname \N{REPLACEMENT CHARACTER}[2Jevil\N{REPLACEMENT CHARACTER}"
    assert result.describe().endswith(f"; +{10_000} more)")


def test_line_numbers_are_the_devices_whatever_the_line_ends():
    config = "a\r\nb\x0bstill line two\r\nbad\n"  # \x0b splits a line for str.splitlines, not for a device
    [result] = check_config(rules("- {name: x, must_not_match: '^bad$'}"), config, "generic").rules
    assert [(f.line, f.text) for f in result.findings] == [(3, "bad")]
