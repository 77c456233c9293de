"""Reconnect delays: capped exponential backoff with full jitter. Pure."""

from __future__ import annotations

import random


def delay(attempt: int, base: float = 0.05, cap: float = 2.0, rand: float | None = None) -> float:
    """Seconds to wait before retry number `attempt` (0 for the first retry).

    Full jitter spreads reconnecting peers apart: a uniform draw in [0, min(cap, base * 2**n)],
    never below a tenth of base so a tight loop cannot spin. The 2 s cap bounds how long a
    healed link waits for its next attempt (1 s on average) while costing a dead peer only
    one connection attempt per second or so.
    """
    ceiling = min(cap, base * (2 ** min(attempt, 30)))
    draw = random.random() if rand is None else rand
    return max(base / 10, ceiling * draw)
