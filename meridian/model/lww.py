"""Last-writer-wins decisions for replicated records. Pure functions, no I/O.

A version is (hybrid logical clock, origin region). The higher clock wins; equal clocks are
broken by the region name, so every region picks the same winner without coordination.
"""

from __future__ import annotations

import enum

from meridian.model import hlc


class Outcome(enum.Enum):
    APPLY = "applied"
    LOST_TO_NEWER = "lost_to_newer"
    DUPLICATE = "duplicate"
    STALE_SEQUENCE = "stale_sequence"
    CLOCK_REJECTED = "clock_rejected"


Version = tuple[int, str]


def compare(a: Version, b: Version) -> int:
    """-1, 0 or 1 as version a is older than, equal to or newer than b."""
    return (a > b) - (a < b)


def decide(incoming: Version, stored: Version | None) -> Outcome:
    """Whether an incoming write replaces what is stored (item or tombstone)."""
    if stored is None:
        return Outcome.APPLY
    order = compare(incoming, stored)
    if order > 0:
        return Outcome.APPLY
    if order == 0:
        return Outcome.DUPLICATE
    return Outcome.LOST_TO_NEWER


def admit(sequence: int, checkpoint: int, clock: int, now_ms: int, max_offset_ms: int) -> Outcome:
    """Checks made before looking at the stored item: per-origin sequence, then clock skew."""
    if sequence <= checkpoint:
        return Outcome.STALE_SEQUENCE
    if max_offset_ms and hlc.ahead_ms(clock, now_ms) > max_offset_ms:
        return Outcome.CLOCK_REJECTED
    return Outcome.APPLY


def rule(incoming: Version, stored: Version) -> str:
    """Human explanation of why the stored version beat the incoming one."""
    if incoming[0] != stored[0]:
        return "higher clock wins"
    return "equal clocks: higher region name wins"
