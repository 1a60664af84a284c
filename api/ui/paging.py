"""Pages of a dashboard table: a page number to LIMIT/OFFSET, and the pager's links."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.pagination import page_window

MAX_PAGE = 100_000  # keeps every page inside ``page_window``'s range


def window(number: int, size: int) -> tuple[int, int]:
    """LIMIT and OFFSET of page ``number`` (1 to ``MAX_PAGE``)."""
    return page_window(number, size) or (size, 0)


def pager(number: int, total: int, size: int, link: Callable[[int], str]) -> dict[str, Any]:
    """What the ``pager`` macro shows: this page, the last, the total, the previous and next links."""
    last = max(1, -(-total // size))
    return {
        "number": number,
        "last": last,
        "total": total,
        "previous": link(number - 1) if number > 1 else None,
        "next": link(number + 1) if number < last else None,
    }
