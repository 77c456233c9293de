"""Keys a snapshot copy shows deleted at its source, remembered until the copy is done.

A snapshot arrives in key order, so each message covers a known key range: after the
previous message's last key, through its own last key (the last message: to the table's
end). Keys held here in that range but absent from the message, with a version the source
covers, are candidates. They are removed only when the copy of the table is done, in the
WriteBatch that also installs the copy's stream positions: from then on no record the
source had applied can reach this region any more, so nothing covered can come back; a
candidate overwritten meanwhile by a write the source had not seen is kept (re-checked).
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from dataclasses import dataclass, field

from meridian.pb import node_pb2 as pb
from regionnode import query
from regionnode.store import Store

MAX_SESSIONS = 16  # copies in progress at once; an abandoned one is forgotten after that


@dataclass
class Removal:
    """The removal side of one snapshot message."""

    source: str
    session: str
    after: bytes | None  # storage key the range starts after; None: the table's start
    to_end: bool
    coverage: dict[str, int]  # origin -> the source's complete_through_ms
    horizons: list[pb.RebuildHorizon] = field(default_factory=list)

    @classmethod
    def of(cls, rng: pb.SnapshotRange, after: bytes | None) -> Removal:
        coverage = {c.origin: c.complete_through_ms for c in rng.coverage}
        return cls(rng.source, rng.session, after, rng.to_end, coverage, list(rng.horizons))

    def bounds(self, prefix: bytes, last: bytes | None) -> tuple[bytes, bytes] | None:
        """[low, high) of the keys this message covers, or None for an empty range."""
        low = prefix if self.after is None else self.after + b"\x00"
        if self.to_end:
            return low, query.successor(prefix)
        if last is None:
            return None
        return low, last + b"\x00"


def held(store: Store, bounds: tuple[bytes, bytes] | None) -> Iterator[bytes]:
    """Keys stored in a range (committed state)."""
    if bounds is not None:
        for key, _ in store.scan_range(*bounds):
            yield key


class Candidates:
    """Candidate keys per copy session (in memory: a copy that breaks starts over)."""

    def __init__(self) -> None:
        self._sessions: collections.OrderedDict[str, list[bytes]] = collections.OrderedDict()

    def add(self, session: str, keys: list[bytes]) -> None:
        self._sessions.setdefault(session, []).extend(keys)
        self._sessions.move_to_end(session)
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)

    def take(self, session: str) -> list[bytes]:
        return self._sessions.pop(session, [])
