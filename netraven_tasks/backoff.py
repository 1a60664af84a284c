"""The one exponential backoff: ``base * factor ** (attempt - 1)``, capped, with optional jitter.

Used by job retries (``jobs.retry_policy``), the notification outbox (a message's next try and
the retry of a bookkeeping transaction) and the tracking recorder's reconnect loop; each caller
keeps its own numbers.
"""

from __future__ import annotations

import random


def delay(
    attempt: int,
    base: float,
    cap: float,
    *,
    factor: float = 2.0,
    jitter: float = 0.0,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after the ``attempt``-th failure (1 = first): ``base``, ``base * factor``, …
    never above ``cap``; ``jitter`` spreads it by +/- that fraction, still within 0 … ``cap``."""
    try:
        raw = min(cap, base * factor ** max(0, attempt - 1))
    except OverflowError:  # a huge attempt number: the cap long ago
        raw = cap
    if jitter:
        spread = raw * jitter
        raw += (rng or random).uniform(-spread, spread)
    return max(0.0, min(raw, cap))
