"""The compliance rules file (NETRAVEN_COMPLIANCE_RULES_FILE): read, checked and compiled once.

The file is the operator's (trusted, but typed by hand), so every mistake is refused with the file,
the line and the rule named: bad YAML, a rule without a name, an unknown key, an unknown platform,
a regex that does not compile or that matches the empty string (it would match every config). The
settings read it at start, so a bad file stops the API, the worker and beat with that message; the
job reads it again only when the file changes (``current_rules``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from netraven_tasks.devices.platforms import PLATFORMS

MAX_FILE_BYTES = 1024 * 1024
MAX_RULES = 1000
MAX_PATTERN_CHARS = 2000
MAX_DESCRIPTION_CHARS = 500
RULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
NAME_RULE = "1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit"
PATTERN_KEYS = ("must_match", "must_not_match")
KEYS = ("name", "description", "platforms", "section", *PATTERN_KEYS)
_NULL_TAG = "tag:yaml.org,2002:null"


class RulesFileError(ValueError):
    """The rules file cannot be used; the message names the file, the line and the rule."""

    def __init__(self, path: Path, problem: str, line: int | None = None, rule: str | None = None):
        where = ", ".join(
            part
            for part in (str(path), f"line {line}" if line else "", f"rule {rule}" if rule else "")
            if part
        )
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class Rule:
    """One rule: ``must_match`` and/or ``must_not_match`` (multi-line regexes), checked in the
    whole configuration or, with ``section``, in each block that starts at a matching line."""

    name: str
    line: int  # where the rule starts in its file
    must_match: re.Pattern[str] | None = None
    must_not_match: re.Pattern[str] | None = None
    section: re.Pattern[str] | None = None
    platforms: frozenset[str] | None = None  # None: every platform
    description: str | None = None

    def applies_to(self, platform: str) -> bool:
        return self.platforms is None or platform in self.platforms


@dataclass(frozen=True)
class _Fields:
    """The raw text of one rule's keys, with the line of each (for the error messages)."""

    path: Path
    line: int
    position: int  # 1 for the file's first rule: names a rule that has no (valid) name
    values: dict[str, yaml.Node]

    @property
    def label(self) -> str:
        """The rule's name, or ``#N`` (its position) while it has no valid one."""
        name = self.text("name", checked=False)
        return name if name and RULE_NAME.fullmatch(name) else f"#{self.position}"

    def fail(self, problem: str, key: str | None = None) -> RulesFileError:
        line = self.values[key].start_mark.line + 1 if key in self.values else self.line
        return RulesFileError(self.path, problem, line, self.label)

    def text(self, key: str, *, required: bool = False, checked: bool = True) -> str | None:
        node = self.values.get(key)
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG):
            if required:
                raise self.fail(f"{key} is required")
            return None
        if not isinstance(node, yaml.ScalarNode):
            if not checked:
                return None
            raise self.fail(f"{key} must be text", key)
        return str(node.value)


def _pattern(fields: _Fields, key: str) -> re.Pattern[str] | None:
    source = fields.text(key)
    if source is None:
        return None
    if len(source) > MAX_PATTERN_CHARS:
        raise fields.fail(f"{key} is longer than {MAX_PATTERN_CHARS} characters", key)
    try:
        pattern = re.compile(source, re.MULTILINE)
    except re.error as error:
        raise fields.fail(f"{key} is not a valid regex: {error}", key) from None
    if pattern.fullmatch(""):
        raise fields.fail(f"{key} matches the empty string, so it would match any configuration", key)
    return pattern


def _platforms(fields: _Fields) -> frozenset[str] | None:
    node = fields.values.get("platforms")
    if node is None:
        return None
    items = node.value if isinstance(node, yaml.SequenceNode) else None
    if not items or not all(isinstance(item, yaml.ScalarNode) for item in items):
        raise fields.fail(f"platforms must be a list among {', '.join(PLATFORMS)}", "platforms")
    unknown = sorted({str(item.value) for item in items} - set(PLATFORMS))
    if unknown:
        raise fields.fail(f"unknown platforms {unknown}: known are {', '.join(PLATFORMS)}", "platforms")
    return frozenset(str(item.value) for item in items)


def _rule(path: Path, node: yaml.Node, position: int) -> Rule:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        raise RulesFileError(path, "a rule must be a mapping (name, must_match, …)", line, f"#{position}")
    values: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "?"
        if key in values:
            where = key_node.start_mark.line + 1
            raise RulesFileError(
                path, f"{key} is given twice", where, _Fields(path, line, position, values).label
            )
        values[key] = value_node
    fields = _Fields(path, line, position, values)
    name = str(fields.text("name", required=True))
    if not RULE_NAME.fullmatch(name):
        raise fields.fail(f"name {name[:80]!r} must be {NAME_RULE}", "name")
    unknown = sorted(set(values) - set(KEYS))
    if unknown:
        raise fields.fail(f"unknown key {unknown[0]!r}: a rule has {', '.join(KEYS)}", unknown[0])
    if not any(key in values for key in PATTERN_KEYS):
        raise fields.fail("give must_match, must_not_match or both")
    description = fields.text("description")
    if description is not None and len(description) > MAX_DESCRIPTION_CHARS:
        raise fields.fail(f"description is longer than {MAX_DESCRIPTION_CHARS} characters", "description")
    return Rule(
        name=name,
        line=line,
        must_match=_pattern(fields, "must_match"),
        must_not_match=_pattern(fields, "must_not_match"),
        section=_pattern(fields, "section"),
        platforms=_platforms(fields),
        description=description,
    )


def parse_rules(text: str, path: Path) -> tuple[Rule, ...]:
    """The rules of a file's ``text`` (``path`` names it in errors); raises RulesFileError."""
    try:
        # compose keeps each node's line; an alias is one shared node, never a copy (no blow-up).
        document = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = "; ".join(str(part) for part in (error.context, error.problem) if part)
        raise RulesFileError(
            path, f"not valid YAML: {problem[:300]}", mark.line + 1 if mark else None
        ) from None
    except yaml.YAMLError as error:
        raise RulesFileError(path, f"not valid YAML: {str(error)[:300]}") from None
    if not isinstance(document, yaml.SequenceNode):
        raise RulesFileError(path, "must be a YAML list of rules (name, must_match, …); [] for none")
    if len(document.value) > MAX_RULES:
        raise RulesFileError(path, f"has {len(document.value)} rules; at most {MAX_RULES} are allowed")
    rules = tuple(_rule(path, node, position) for position, node in enumerate(document.value, 1))
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            raise RulesFileError(path, "this name is given to an earlier rule too", rule.line, rule.name)
        seen.add(rule.name)
    return rules


def load_rules(path: Path) -> tuple[Rule, ...]:
    """The rules of the file at ``path``; raises RulesFileError (unreadable, too large, invalid)."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise RulesFileError(path, f"cannot be read: {error.strerror or error}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise RulesFileError(path, f"is larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RulesFileError(path, "is not UTF-8 text") from None
    return parse_rules(text, path)


# path -> (the file's stamp when read, its rules): one entry per rules file a process uses.
_CACHE: dict[Path, tuple[tuple[int, int, int], tuple[Rule, ...]]] = {}


def current_rules(path: Path) -> tuple[Rule, ...]:
    """The rules of ``path``, read again only when the file changed since the last read: its
    modification time, size or inode (a file replaced by rename is a new inode even within one
    tick of the file system's clock). Raises RulesFileError when the changed file is invalid."""
    try:
        status = os.stat(path)
    except OSError as error:
        raise RulesFileError(path, f"cannot be read: {error.strerror or error}") from None
    stamp = (status.st_mtime_ns, status.st_size, status.st_ino)
    cached = _CACHE.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    rules = load_rules(path)
    _CACHE[path] = (stamp, rules)
    return rules
