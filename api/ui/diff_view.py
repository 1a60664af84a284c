"""A unified diff as rows a page can show: each line with its kind and its number on the old and
the new side (read from the hunk headers), so the template only lays them out."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")
KINDS = {"+": "added", "-": "removed", " ": "context"}


@dataclass(frozen=True)
class DiffRow:
    kind: str  # hunk, added, removed, context, or note ("\ No newline at end of file")
    old: int | None  # the line's number in the old text (removed and context lines)
    new: int | None  # in the new text (added and context lines)
    text: str  # without the +/-/space marker


def diff_rows(lines: Iterable[str]) -> list[DiffRow]:
    """The rows of a unified diff. The ``---``/``+++`` file names before the first hunk are left
    out; inside a hunk the first character alone says what a line is, so a removed line that
    reads ``-- x`` (``--- x`` in the diff) stays a removed line."""
    rows: list[DiffRow] = []
    old = new = 0
    in_hunk = False
    for line in lines:
        text = line.rstrip("\r\n")
        hunk = HUNK.match(text)
        if hunk:
            in_hunk = True
            old, new = int(hunk[1]), int(hunk[2])
            rows.append(DiffRow("hunk", None, None, text))
        elif not in_hunk:
            continue
        elif text.startswith("\\"):
            rows.append(DiffRow("note", None, None, text))
        else:
            kind = KINDS.get(text[:1], "context")
            rows.append(
                DiffRow(kind, old if kind != "added" else None, new if kind != "removed" else None, text[1:])
            )
            old += kind != "added"
            new += kind != "removed"
    return rows
