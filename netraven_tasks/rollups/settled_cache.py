"""The per-process cache of rolled figures (``rollups.figures``), and how it is emptied.

Its keys hold the rollup watermark, which every rollup run moves, so another process's run is
seen at the next read. What rewrites rollups without a new watermark in this process (a run at
the same instant, the retention purge) empties it here; in another process, ``CACHE_SECONDS``
bounds how long such a change stays unseen.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

CACHE_ENTRIES = 64  # windows x narrowings a process keeps: a few dashboards' worth
CACHE_SECONDS = 60.0


class SettledCache:
    """Least recently used values, each kept at most ``seconds``."""

    def __init__(self, entries: int, seconds: float):
        self._entries = entries
        self._seconds = seconds
        self._lock = threading.Lock()
        self._kept: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            kept = self._kept.get(key)
            if kept is None or time.monotonic() - kept[0] > self._seconds:
                return None
            self._kept.move_to_end(key)
            return kept[1]

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._kept[key] = (time.monotonic(), value)
            self._kept.move_to_end(key)
            while len(self._kept) > self._entries:
                self._kept.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


settled_cache = SettledCache(CACHE_ENTRIES, CACHE_SECONDS)
