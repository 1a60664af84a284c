"""Checking a configuration against the rules: pure, no database, no Celery.

A configuration is device output (hostile): it is only ever searched with the operator's patterns,
compiled once, never evaluated, and the caller refuses one larger than ``MAX_CONFIG_BYTES`` before
it gets here. What a result quotes of it is cut to ``QUOTE_CHARS`` per finding and ``MAX_FINDINGS``
findings per rule, so a hostile configuration cannot blow up a result row or a message.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from netraven_tasks.compliance.rules import Rule
from netraven_tasks.text import truncate

MAX_CONFIG_BYTES = 16 * 1024 * 1024
MAX_FINDINGS = 50  # per rule; the rest are counted
QUOTE_CHARS = 200
SUMMARY_RULES = 5  # failing rules named in the one-line summary; the rest are counted


class RuleStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_APPLICABLE = "not_applicable"  # the rule names other platforms


@dataclass(frozen=True)
class Finding:
    """Why a rule failed at one place: a line ``must_not_match`` matched (``forbidden``), or a
    section ``must_match`` found nothing in (``missing``; no line when it is the whole config)."""

    kind: str  # "forbidden" | "missing"
    line: int | None  # 1-based line of the configuration
    text: str | None  # the matched line(s), or the section's first line

    def describe(self) -> str:
        """``line 12: transport input telnet``, on one line (the lines of a quote joined by |);
        without the quote when it is withheld."""
        text = " | ".join(line.strip() for line in self.text.split("\n")) if self.text else None
        if self.kind == "forbidden":
            return f"line {self.line}: {text}" if text else f"line {self.line}"
        if self.line is None:
            return "no line matches"
        return f"line {self.line}: no line matches under {text or 'the section starting there'}"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "line": self.line, "text": self.text}

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> Finding:
        return cls(stored["kind"], stored.get("line"), stored.get("text"))


@dataclass(frozen=True)
class RuleResult:
    name: str
    description: str | None
    status: RuleStatus
    findings: tuple[Finding, ...] = ()
    findings_omitted: int = 0
    sections: int | None = None  # blocks checked, for a rule with a section

    def describe(self) -> str:
        """``no-telnet (line 12: transport input telnet; +2 more)``."""
        more = len(self.findings) - 1 + self.findings_omitted
        first = self.findings[0].describe() if self.findings else "failed"
        return f"{self.name} ({first}{f'; +{more} more' if more else ''})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "status": self.status.value,
            "findings": [finding.as_dict() for finding in self.findings],
            "findings_omitted": self.findings_omitted,
            "sections": self.sections,
        }

    @classmethod
    def from_dict(cls, stored: dict[str, Any]) -> RuleResult:
        return cls(
            stored["name"],
            stored.get("description"),
            RuleStatus(stored["status"]),
            tuple(Finding.from_dict(finding) for finding in stored.get("findings") or ()),
            int(stored.get("findings_omitted") or 0),
            stored.get("sections"),
        )

    def without_quotes(self) -> RuleResult:
        """The same result without the configuration's text (line numbers stay)."""
        findings = tuple(replace(finding, text=None) for finding in self.findings)
        return replace(self, findings=findings)


@dataclass(frozen=True)
class ComplianceReport:
    platform: str
    rules: tuple[RuleResult, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> list[RuleResult]:
        return [rule for rule in self.rules if rule.status is RuleStatus.FAILED]

    @property
    def checked(self) -> int:
        return sum(rule.status is not RuleStatus.NOT_APPLICABLE for rule in self.rules)

    @property
    def passed(self) -> bool:
        return not self.failed

    def without_quotes(self) -> ComplianceReport:
        """For a reader who may not see the configuration that was checked."""
        return replace(self, rules=tuple(rule.without_quotes() for rule in self.rules))

    def summary(self) -> str:
        """One line, fit for a mail's subject or summary: ``2 of 5 rules failed: no-telnet (line 12:
        transport input telnet), ntp-servers (no line matches)``."""
        failed = self.failed
        if not self.checked:
            return f"no rule applies to {self.platform}"
        if not failed:
            return f"all {self.checked} rules passed" if self.checked != 1 else "the 1 rule passed"
        named = ", ".join(rule.describe() for rule in failed[:SUMMARY_RULES])
        rest = f" and {len(failed) - SUMMARY_RULES} more" if len(failed) > SUMMARY_RULES else ""
        return f"{len(failed)} of {self.checked} rules failed: {named}{rest}"


class _Region:
    """Consecutive lines of the configuration searched as one text (``^``/``$`` at each line)."""

    def __init__(self, lines: Sequence[str], first: int, end: int):
        self.lines, self.first = lines, first
        self.text = "\n".join(lines[first:end])
        self._starts = [0]
        for line in lines[first : end - 1]:
            self._starts.append(self._starts[-1] + len(line) + 1)

    def index_of(self, offset: int) -> int:
        """The configuration's line index (0-based) holding ``offset`` of this region's text."""
        return self.first + bisect.bisect_right(self._starts, offset) - 1

    def quote(self, start: int, end: int) -> str:
        """The whole lines from offset ``start`` to ``end``, fit to show (see ``quote``)."""
        first, last = self.index_of(start), self.index_of(max(start, end - 1))
        return quote("\n".join(self.lines[first : last + 1]))


def quote(text: str) -> str:
    """Device text fit to show: cut to QUOTE_CHARS, control characters (an escape sequence for a
    terminal, a NUL for the database) replaced."""
    cut = truncate(text, QUOTE_CHARS)
    if cut.isprintable():
        return cut
    return "".join(ch if ch.isprintable() or ch == "\n" else "\N{REPLACEMENT CHARACTER}" for ch in cut)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _sections(rule: Rule, lines: Sequence[str]) -> Iterator[_Region]:
    """Each block of ``rule.section``: a matching line and the lines after it indented deeper
    (for a top-level ``interface …`` line, every indented line that follows it)."""
    assert rule.section is not None
    for start, line in enumerate(lines):
        if not rule.section.search(line):
            continue
        depth, end = _indent(line), start + 1
        while end < len(lines) and lines[end].strip() and _indent(lines[end]) > depth:
            end += 1
        yield _Region(lines, start, end)


def _forbidden(rule: Rule, region: _Region, seen: set[int]) -> Iterator[Finding]:
    """One finding per configuration line where ``must_not_match`` matches (first match of a line)."""
    assert rule.must_not_match is not None
    for match in rule.must_not_match.finditer(region.text):
        index = region.index_of(match.start())
        if index not in seen:
            seen.add(index)
            yield Finding("forbidden", index + 1, region.quote(match.start(), match.end()))


def _missing(rule: Rule, region: _Region, scoped: bool) -> Iterator[Finding]:
    assert rule.must_match is not None
    if rule.must_match.search(region.text) is None:
        header = quote(region.lines[region.first]) if scoped else None
        yield Finding("missing", region.first + 1 if scoped else None, header)


@dataclass
class _Tally:
    """A rule's findings as they are found: the first MAX_FINDINGS kept, the rest counted (a
    million matching lines of a hostile configuration make 50 findings and a number)."""

    kept: list[Finding] = field(default_factory=list)
    omitted: int = 0
    sections: int = 0

    def add(self, findings: Iterable[Finding]) -> None:
        for finding in findings:
            if len(self.kept) < MAX_FINDINGS:
                self.kept.append(finding)
            else:
                self.omitted += 1

    def result(self, rule: Rule) -> RuleResult:
        return RuleResult(
            rule.name,
            rule.description,
            RuleStatus.FAILED if self.kept else RuleStatus.PASSED,
            tuple(sorted(self.kept, key=lambda finding: finding.line or 0)),
            self.omitted,
            self.sections if rule.section else None,
        )


def _check_rule(rule: Rule, lines: Sequence[str], platform: str) -> RuleResult:
    if not rule.applies_to(platform):
        return RuleResult(rule.name, rule.description, RuleStatus.NOT_APPLICABLE)
    tally, seen = _Tally(), set[int]()
    regions = _sections(rule, lines) if rule.section else iter([_Region(lines, 0, len(lines))])
    # One region at a time: nested sections (a section pattern that matches indented lines) never
    # hold every block's text at once.
    for region in regions:
        tally.sections += 1
        if rule.must_match is not None:
            tally.add(_missing(rule, region, scoped=rule.section is not None))
        if rule.must_not_match is not None:
            tally.add(_forbidden(rule, region, seen))
    return tally.result(rule)


def config_lines(config: str) -> list[str]:
    """The configuration's lines as the patterns see them: split at ``\\n`` only (never at the other
    characters ``str.splitlines`` breaks at, so line numbers are the device's), without ``\\r``."""
    return [line.removesuffix("\r") for line in config.split("\n")]


def check_config(rules: Sequence[Rule], config: str, platform: str) -> ComplianceReport:
    """Every rule's result for ``config`` (text) of a device of ``platform``."""
    lines = config_lines(config)
    return ComplianceReport(platform, tuple(_check_rule(rule, lines, platform) for rule in rules))
