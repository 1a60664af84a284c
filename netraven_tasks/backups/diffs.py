"""Diffs of configurations as people read them: normalised (no line that changes by itself) and,
by default, with secrets masked line by line (a changed secret shows as a changed line, never
its value). ``changed`` and the +/- counts come from the same normalised lines.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from netraven_tasks.backups.normalise import Rules, build_rules, load_ignore_file, masked, normalised
from netraven_tasks.settings import Settings


@dataclass(frozen=True)
class ConfigDiff:
    added: int
    removed: int
    lines: tuple[str, ...]  # the unified diff, trimmed to the asked number of lines
    omitted: int  # diff lines left out by the trim

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)

    @property
    def text(self) -> str:
        return "".join(self.lines)


@lru_cache(maxsize=8)
def _rules(path: Path | None, mtime: float) -> Rules:
    return build_rules(load_ignore_file(path) if path is not None else ())


def rules_for(settings: Settings) -> Rules:
    """The built-in rules and the operator's file (read again when it changes; checked at start)."""
    path = settings.config_ignore_file
    mtime = path.stat().st_mtime if path is not None and path.exists() else 0.0
    return _rules(path, mtime)


def config_diff(
    old: bytes,
    new: bytes,
    *,
    platform: str,
    rules: Rules,
    names: tuple[str, str] = ("before", "after"),
    mask: bool = True,
    max_lines: int | None = None,
) -> ConfigDiff:
    """The unified diff of the normalised texts (masked unless ``mask`` is false), with its
    counts; ``max_lines`` keeps its head."""
    before = normalised(old.decode("utf-8", "replace"), platform, rules).splitlines(keepends=True)
    after = normalised(new.decode("utf-8", "replace"), platform, rules).splitlines(keepends=True)
    lines = list(difflib.unified_diff(before, after, fromfile=names[0], tofile=names[1]))
    # The first two lines name the files; hunk headers start with "@@" (a body line starts with
    # " ", "+" or "-", so a configuration line "-- x" removed is "--- x", and still a body line).
    body = [(i, line) for i, line in enumerate(lines) if i >= 2 and not line.startswith("@@")]
    added = sum(1 for _, line in body if line.startswith("+"))
    removed = sum(1 for _, line in body if line.startswith("-"))
    if mask:
        for i, line in body:
            lines[i] = line[0] + masked(line[1:], platform, rules)
    kept = lines if max_lines is None else lines[:max_lines]
    return ConfigDiff(added, removed, tuple(kept), len(lines) - len(kept))
