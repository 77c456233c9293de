"""Retention holds: stream records a bootstrapping peer will still need are not trimmed.

A hold says "keep records of this table from this sequence number on" for a holder (a
region), until it is released or its time-to-live runs out (a holder that disappears does
not pin the stream forever). Holds live in memory: after a node restart the holder renews
them within its refresh interval, and if records were trimmed meanwhile, its link resyncs
instead of skipping them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RetentionHolds:
    _holds: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)

    def hold(self, holder: str, table: str, sequence: int, until: float) -> None:
        self._holds[(holder, table)] = (sequence, until)

    def release(self, holder: str) -> None:
        for key in [k for k in self._holds if k[0] == holder]:
            del self._holds[key]

    def floor(self, table: str, now: float) -> int | None:
        """The lowest held sequence number of a table, or None; expired holds are dropped."""
        for key in [k for k, (_, until) in self._holds.items() if until <= now]:
            del self._holds[key]
        held = [seq for (_, t), (seq, _) in self._holds.items() if t == table]
        return min(held) if held else None
