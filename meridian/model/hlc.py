"""Hybrid logical clock: 48-bit wall-clock milliseconds and a 16-bit logical counter.

A timestamp is one 64-bit integer, so versions compare as plain integers. The clock never
goes backwards: not when the wall clock steps back, and not across restarts, because every
write batch persists the latest timestamp (the high-water mark) and the node resumes from it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

LOGICAL_BITS = 16
LOGICAL_MASK = (1 << LOGICAL_BITS) - 1
MAX_MS = (1 << 48) - 1
# Test only (chaos suite, chaos/README.md): skew this process's wall clock by this many ms.
_TEST_OFFSET_MS = int(os.environ.get("MERIDIAN_TEST_CLOCK_OFFSET_MS") or 0)


def pack(ms: int, logical: int = 0) -> int:
    return (ms << LOGICAL_BITS) | logical


def physical_ms(ts: int) -> int:
    return ts >> LOGICAL_BITS


def logical(ts: int) -> int:
    return ts & LOGICAL_MASK


def wall_ms() -> int:
    return time.time_ns() // 1_000_000 + _TEST_OFFSET_MS


def tick(last: int, now_ms: int) -> int:
    """The next timestamp after `last` for a local event at wall time `now_ms`.

    When the counter is full, incrementing carries into the millisecond part, which keeps the
    order total at the cost of running a millisecond ahead of the wall clock.
    """
    return max(last + 1, pack(now_ms))


def merge(last: int, remote: int, now_ms: int) -> int:
    """The clock after observing a remote timestamp: never below either side."""
    return max(last, remote, pack(now_ms))


def ahead_ms(remote: int, now_ms: int) -> int:
    """How far a remote timestamp is ahead of the local wall clock (negative when behind)."""
    return physical_ms(remote) - now_ms


class HybridClock:
    """The node's clock. Not thread-safe: the node's single writer task owns it."""

    def __init__(self, last: int = 0, wall: Callable[[], int] = wall_ms) -> None:
        self.last = last
        self._wall = wall

    def now(self) -> int:
        self.last = tick(self.last, self._wall())
        return self.last

    def observe(self, remote: int) -> None:
        self.last = merge(self.last, remote, self._wall())

    def wall(self) -> int:
        return self._wall()
