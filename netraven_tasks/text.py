"""The one truncation helper: long text cut to a limit, with a marker saying how much was left out.

Every caller keeps its own limit (a subject line, a stored error message, a JSON string); the
marker is always `` … [N more characters]`` and the result never exceeds the limit.
"""

from __future__ import annotations


def _marker(left_out: int) -> str:
    return f" … [{left_out} more characters]"


def truncate(text: str | None, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, saying how much was left out ("" for None)."""
    if text is None:
        return ""
    if len(text) <= limit:
        return text
    keep = limit
    for _ in range(3):  # the marker's own length changes how much is kept, and so the count in it
        keep = max(0, limit - len(_marker(len(text) - keep)))
    return (text[:keep] + _marker(len(text) - keep))[:limit]
