"""What a configuration says, as opposed to what the device printed: normalisation and masking.

Devices print lines that change by themselves (a timestamp in a comment, NTP's clock-period, the
byte count of the running configuration). Comparing raw text would call every backup "changed",
so ``changed`` and diffs compare the **normalised** text: line endings unified, trailing blanks
cut, and every line an ignore rule matches dropped. The stored backup is always the raw text.

Ignore rules are the built-in ones of the device's platform (``IGNORE``), the ``generic`` ones
(comment lines of that kind on any platform), and the operator's (``NETRAVEN_CONFIG_IGNORE_FILE``:
YAML, platform -> list of regexes, ``all`` for every platform), each matched with ``re.search``
against one line.

Masking hides secrets (hashed or clear passwords, SNMP communities, pre-shared and protocol keys)
in what people are shown (diffs, messages), keeping the keyword so a changed secret still shows as
a changed line: ``enable secret 5 <masked>``. It never touches the stored backup.

This module imports nothing of ours but the platform list: the settings use it to check the
operator's file at start.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from netraven_tasks.devices.platforms import PLATFORMS

EVERY_PLATFORM = "all"  # an operator's rule for every platform
MASK = "<masked>"
MAX_RULES = 500  # per ignore file: each rule costs a search per line of every backup


@dataclass(frozen=True)
class BuiltinRule:
    """A line that changes by itself on ``platform``, and one it drops (the docs and tests use it)."""

    platform: str
    pattern: str
    sample: str
    why: str


IGNORE: tuple[BuiltinRule, ...] = (
    # Any platform: the comment lines devices stamp with the time of the last change or save.
    BuiltinRule(
        "generic",
        r"^\s*[!#]+\s*(Last configuration change|NVRAM config last updated)\b",
        "! Last configuration change at 09:12:44 UTC Fri Dec 4 2026 by admin",
        "written on every change, by whoever made it",
    ),
    BuiltinRule(
        "generic",
        r"^\s*[!#]+\s*Time:\s",
        "!Time: Fri Dec  4 09:12:44 2026",
        "the time the configuration was printed",
    ),
    BuiltinRule(
        "cisco_ios",
        r"^\s*ntp clock-period\s+\d+",
        "ntp clock-period 17180157",
        "IOS adjusts and saves the clock drift correction",
    ),
    BuiltinRule(
        "cisco_ios",
        r"^Current configuration\s*:\s*\d+ bytes",
        "Current configuration : 8423 bytes",
        "the size changes with every other line",
    ),
    BuiltinRule(
        "cisco_ios",
        r"^\s*!\s*No configuration change since last restart",
        "! No configuration change since last restart",
        "replaces the last-change line after a reload",
    ),
    BuiltinRule(
        "cisco_ios",
        r"^Building configuration\.\.\.",
        "Building configuration...",
        "printed before the configuration",
    ),
    BuiltinRule(
        "cisco_nxos",
        r"^\s*!\s*Running configuration last done at:",
        "!Running configuration last done at: Fri Dec  4 09:12:44 2026",
        "the time of the last change",
    ),
    BuiltinRule(
        "cisco_nxos",
        r"^\s*ntp clock-period\s+\d+",
        "ntp clock-period 17179983",
        "the saved clock drift correction",
    ),
    BuiltinRule(
        "arista_eos",
        r"^\s*!\s*Startup-config last modified at",
        "! Startup-config last modified at  Fri Dec  4 09:12:44 2026 by admin",
        "the time of the last save",
    ),
    BuiltinRule(
        "arista_eos",
        r"^\s*!\s*(Time|Last change):",
        "! Time: Fri Dec  4 09:12:44 2026",
        "the time the configuration was printed",
    ),
    BuiltinRule(
        "juniper_junos",
        r"^\s*##\s*Last (commit|changed):",
        "## Last commit: 2026-12-04 09:12:44 UTC by admin",
        "written on every commit",
    ),
    BuiltinRule(
        "juniper_junos",
        r"^\s*/\*\s*Last (commit|changed):",
        "/* Last changed: 2026-12-04 09:12:44 UTC */",
        "the same stamp in the C-style comment of `show configuration | display set`",
    ),
)


@dataclass(frozen=True)
class MaskRule:
    """A secret on ``platform``: ``pattern``'s group ``keep`` stays, the rest of the match is masked."""

    platform: str
    pattern: str
    sample: str


MASKS: tuple[MaskRule, ...] = (
    # Cisco IOS (also the shape of many other CLIs, so ``generic`` repeats the common ones).
    MaskRule(
        "cisco_ios",
        r"^(?P<keep>\s*enable (?:secret|password)(?: level \d+)?(?: \d+)?) \S+",
        "enable secret 5 $1$mERr$hx5rVt7rPNoS4wqbXKX7m0",
    ),
    MaskRule(
        "cisco_ios",
        r"^(?P<keep>\s*username \S+(?: privilege \d+)? (?:secret|password)(?: \d+)?) \S+",
        "username admin privilege 15 secret 9 $9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM",
    ),
    MaskRule("cisco_ios", r"^(?P<keep>\s*snmp-server community) \S+", "snmp-server community s3cr3t RO 10"),
    MaskRule(
        "cisco_ios",
        r"^(?P<keep>\s*(?:crypto isakmp key|pre-shared-key(?: local| remote)?)(?: \d+)?) \S+",
        "crypto isakmp key 0 Sup3rS3cret address 192.0.2.1",
    ),
    MaskRule(
        "cisco_ios",
        r"^(?P<keep>\s*(?:tacacs-server|radius-server) key(?: \d+)?) \S+",
        "tacacs-server key 7 0822455D0A16",
    ),
    MaskRule("cisco_ios", r"^(?P<keep>\s*key \d) \S+$", " key 7 0822455D0A16"),
    MaskRule("cisco_ios", r"^(?P<keep>\s*key-string(?: \d+)?) \S+", " key-string 7 045802150C2E"),
    MaskRule(
        "cisco_ios",
        r"^(?P<keep>\s*neighbor \S+ password(?: \d+)?) \S+",
        " neighbor 192.0.2.9 password 7 1511021F0725",
    ),
    MaskRule(
        "cisco_ios",
        r"^(?P<keep>\s*ip ospf (?:authentication-key|message-digest-key \d+ md5)(?: \d+)?) \S+",
        " ip ospf message-digest-key 1 md5 7 0822455D0A16",
    ),
    MaskRule(
        "cisco_ios",
        r"^(?P<keep>\s*standby \d+ authentication(?: md5 key-string)?(?: \d+)?) \S+",
        " standby 1 authentication md5 key-string 7 0822455D0A16",
    ),
    # Cisco NX-OS
    MaskRule(
        "cisco_nxos",
        r"^(?P<keep>\s*username \S+ password(?: \d+)?) \S+",
        "username admin password 5 $5$KLPFHB$Y2b5Ip8S1lX6rQZpQ2Gr2N2v8m7wYd0lY8Fkq7V1Ul.  role network-admin",
    ),
    MaskRule(
        "cisco_nxos",
        r"^(?P<keep>\s*snmp-server user \S+ \S+ auth \S+) \S+(?P<tail> priv(?: aes-128)?) \S+",
        "snmp-server user admin network-admin auth md5 0x5d4a5c1bd3c5e6 priv 0x5d4a5c1bd3c5e6 localizedkey",
    ),
    MaskRule(
        "cisco_nxos",
        r"^(?P<keep>\s*snmp-server community) \S+",
        "snmp-server community s3cr3t group network-operator",
    ),
    MaskRule(
        "cisco_nxos",
        r'^(?P<keep>\s*(?:tacacs-server|radius-server) key(?: \d+)?) (?:"[^"]*"|\S+)',
        'tacacs-server key 7 "fewhg123"',
    ),
    # Arista EOS
    MaskRule(
        "arista_eos",
        r"^(?P<keep>\s*(?:username \S+(?: privilege \d+)?(?: role \S+)?|enable)"
        r" secret(?: sha512| 5| 0)?) \S+",
        "username admin privilege 15 role network-admin secret sha512 $6$Cs7mWOBqkqUQLp2X$Bd6/...",
    ),
    MaskRule("arista_eos", r"^(?P<keep>\s*snmp-server community) \S+", "snmp-server community s3cr3t ro"),
    MaskRule(
        "arista_eos",
        r"^(?P<keep>\s*(?:tacacs-server|radius-server)(?: host \S+)? key(?: \d+)?) \S+",
        "tacacs-server key 7 070C285F4D06",
    ),
    MaskRule(
        "arista_eos",
        r"^(?P<keep>\s*neighbor \S+ password(?: \d+)?) \S+",
        "   neighbor 192.0.2.9 password 7 q+VNViP5i4rVjW1cxFv2wA==",
    ),
    # Juniper Junos (curly-brace and set forms)
    MaskRule(
        "juniper_junos",
        r"(?P<keep>\b(?:encrypted-password|secret|authentication-key|simple-password"
        r'|pre-shared-key (?:ascii-text|hexadecimal))) (?:"[^"]*"|\S+?)(?=;|\s|$)',
        'encrypted-password "$6$zJ1UJ7Yi$V3lIsG9Hx2vG5B3Rq7vN0"; ## SECRET-DATA',
    ),
    MaskRule(
        "juniper_junos", r'(?P<keep>\bmd5 \d+ key) (?:"[^"]*"|\S+?)(?=;|\s|$)', 'md5 1 key "$9$dkb2aJGjqmT3";'
    ),
    MaskRule("juniper_junos", r"(?P<keep>\bcommunity) (?!\{)\S+?(?=\s*[;{]|\s|$)", "community s3cr3t {"),
    # Any platform: the common shapes.
    MaskRule(
        "generic",
        r"^(?P<keep>\s*(?:enable )?(?:secret|password)(?: \d+)?) \S+",
        "enable password 7 0822455D0A16",
    ),
    MaskRule("generic", r"^(?P<keep>\s*snmp-server community) \S+", "snmp-server community s3cr3t RO"),
    MaskRule(
        "generic",
        r"^(?P<keep>.*\b(?:pre-shared-key|key-string|authentication-key)(?: \d+)?) \S+",
        "pre-shared-key 0 s3cr3t",
    ),
)


# The platforms with built-in rules of their own (any other platform gets the generic ones).
BUILTIN_PLATFORMS = tuple(sorted({rule.platform for rule in IGNORE}))


class IgnoreFileError(ValueError):
    """The operator's ignore file cannot be used: the message names the file and the line."""


@dataclass(frozen=True)
class Rules:
    """The compiled rules: each platform's ignore patterns (built-in, generic, operator's) and masks."""

    ignore: Mapping[str, tuple[re.Pattern[str], ...]]
    masks: Mapping[str, tuple[re.Pattern[str], ...]]

    def ignored(self, platform: str) -> tuple[re.Pattern[str], ...]:
        return self.ignore.get(platform) or self.ignore["generic"]

    def masked(self, platform: str) -> tuple[re.Pattern[str], ...]:
        return self.masks.get(platform) or self.masks["generic"]


def _by_platform(pairs: Iterable[tuple[str, str]]) -> dict[str, tuple[re.Pattern[str], ...]]:
    """Per platform: its own patterns, then the ``generic`` and ``all`` ones (which are also what a
    platform with no rules of its own gets)."""
    compiled = [(platform, re.compile(pattern)) for platform, pattern in pairs]
    shared_names = ("generic", EVERY_PLATFORM)
    shared = tuple(pattern for platform, pattern in compiled if platform in shared_names)
    names = {platform for platform, _ in compiled} - {EVERY_PLATFORM}
    return {
        name: tuple(p for platform, p in compiled if platform == name and name not in shared_names) + shared
        for name in names
    }


def build_rules(operator_rules: Iterable[tuple[str, str]] = ()) -> Rules:
    """The built-in rules plus the operator's (platform, regex) pairs."""
    ignore = [(rule.platform, rule.pattern) for rule in IGNORE] + list(operator_rules)
    return Rules(
        ignore=_by_platform(ignore),
        masks=_by_platform((rule.platform, rule.pattern) for rule in MASKS),
    )


def load_ignore_file(path: Path) -> tuple[tuple[str, str], ...]:
    """The operator's rules as (platform, regex) pairs; IgnoreFileError names the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise IgnoreFileError(f"{path}: cannot be read: {error}") from None
    try:
        document = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise IgnoreFileError(f"{path}: not valid YAML: {error}") from None
    if document is None:
        return ()
    if not isinstance(document, yaml.MappingNode):
        raise IgnoreFileError(
            f"{path} line {document.start_mark.line + 1}: must map platforms to lists of regexes"
        )
    pairs: list[tuple[str, str]] = []
    for key, value in document.value:
        platform = key.value if isinstance(key, yaml.ScalarNode) else None
        where = f"{path} line {key.start_mark.line + 1}"
        if platform not in (*PLATFORMS, EVERY_PLATFORM):
            known = ", ".join((*PLATFORMS, EVERY_PLATFORM))
            raise IgnoreFileError(f"{where}: {platform!r} is not a platform (one of {known})")
        if not isinstance(value, yaml.SequenceNode):
            raise IgnoreFileError(f"{where}: {platform} must have a list of regexes")
        for item in value.value:
            line = f"{path} line {item.start_mark.line + 1}"
            if not isinstance(item, yaml.ScalarNode) or not item.value:
                raise IgnoreFileError(f"{line}: {platform}: each rule must be a regex string")
            try:
                re.compile(item.value)
            except re.error as error:
                raise IgnoreFileError(f"{line}: {platform}: bad regex {item.value!r}: {error}") from None
            pairs.append((platform, item.value))
    if len(pairs) > MAX_RULES:
        raise IgnoreFileError(f"{path}: {len(pairs)} rules, at most {MAX_RULES}")
    return tuple(pairs)


def normalised(text: str, platform: str, rules: Rules) -> str:
    """The configuration without the lines that change by themselves (compare and diff this)."""
    patterns = rules.ignored(platform)
    lines = (line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    kept = [line for line in lines if not any(pattern.search(line) for pattern in patterns)]
    while kept and not kept[-1]:
        kept.pop()
    return "\n".join(kept) + "\n" if kept else ""


def _mask_line(line: str, patterns: tuple[re.Pattern[str], ...]) -> str:
    for pattern in patterns:
        match = pattern.search(line)
        if match is None:
            continue
        tail = match.groupdict().get("tail")
        replacement = f"{match.group('keep')} {MASK}" + (f"{tail} {MASK}" if tail else "")
        return line[: match.start()] + replacement + line[match.end() :]
    return line


def masked(text: str, platform: str, rules: Rules) -> str:
    """``text`` with every secret a mask rule knows replaced by ``<masked>`` (for people's eyes)."""
    patterns = rules.masked(platform)
    return "\n".join(_mask_line(line, patterns) for line in text.split("\n"))
