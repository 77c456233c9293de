"""Which tombstones may go, and which absent keys a snapshot proves deleted. Pure functions.

Progress maps say how far a region has applied each origin's stream: origin -> table ->
`complete_through_ms` (every write of that origin stamped before that clock time is
applied). A region knows its own from its checkpoints and each peer's from the peer's last
report. docs/architecture.md ("Deletes and tombstones") explains why these rules are safe.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from meridian.model import lww
from meridian.model.hlc import MAX_MS, physical_ms
from meridian.pb import node_pb2 as pb

Progress = Mapping[str, Mapping[str, int]]  # origin -> table -> complete_through_ms


def progress_of(checkpoints: Iterable[pb.Checkpoint]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for c in checkpoints:
        out.setdefault(c.origin, {})[c.table] = c.complete_through_ms
    return out


def through(progress: Progress | None, origin: str, table: str) -> int:
    return 0 if progress is None else progress.get(origin, {}).get(table, 0)


@dataclass(frozen=True)
class Verdict:
    collect: bool
    forced: bool = False
    lagging: frozenset[str] = frozenset()  # peers that had not confirmed the tombstone


KEEP = Verdict(False)


@dataclass(frozen=True)
class Rule:
    """The collection rule of one region at one moment."""

    region: str
    peers: frozenset[str]
    own: Progress  # this region's checkpoints
    reports: Mapping[str, Progress]  # peer -> that peer's checkpoints, as last reported
    now_ms: int
    lifetime_ms: int
    max_lifetime_ms: int

    def lagging(self, table: str, clock_ms: int, origin: str) -> frozenset[str]:
        """The peers that keep a tombstone stamped at `clock_ms` by `origin` alive.

        A peer whose stream this region has not applied past the tombstone may still send
        an older write of the key; a peer not known to have applied the origin's stream past
        it may still hold the item (and serve it in a snapshot, or never learn the delete).
        """
        confirms = origin == self.region or origin in self.peers  # a member's delete
        return frozenset(
            peer
            for peer in self.peers
            if through(self.own, peer, table) <= clock_ms
            or (
                confirms
                and peer != origin
                and through(self.reports.get(peer), origin, table) <= clock_ms
            )
        )

    def verdict(self, table: str, tombstone: pb.StoredItem) -> Verdict:
        """Collect once the lifetime has passed and no peer keeps the tombstone alive;
        after the maximum lifetime collect anyway, naming the peers that had not confirmed."""
        age = self.now_ms - tombstone.written_ms
        if age < self.lifetime_ms:
            return KEEP
        lagging = frozenset[str]().union(
            *(self.lagging(table, physical_ms(v.hlc), v.region) for v in _versions(tombstone))
        )
        if not lagging:
            return Verdict(True)
        if age >= self.max_lifetime_ms:
            return Verdict(True, forced=True, lagging=lagging)
        return Verdict(False, lagging=lagging)


def _versions(tombstone: pb.StoredItem) -> list[pb.Version]:
    """The writes a tombstone stands for: its version and, in attribute merge mode, the
    item's deletion and attribute removals (each from its own origin)."""
    state = tombstone.attributes
    extra = [state.deleted] if state.HasField("deleted") else []
    return [tombstone.version, *extra, *state.removed.values()]


def clock_text(ms: int) -> str:
    """A clock time for people (UTC, milliseconds)."""
    when = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def horizon_of(tombstone: pb.StoredItem) -> int:
    """The rebuild horizon a forced collection of this tombstone sets: just after its clock."""
    return physical_ms(tombstone.version.hlc) + 1


def settled_through(
    report: Progress | None, peer: str, origins: Iterable[str], tables: Iterable[str]
) -> int:
    """The clock time through which `peer` has applied every other origin's stream in every
    table (0 where it reports nothing): it then holds every delete stamped before that."""
    lows = [through(report, o, t) for o in origins if o != peer for t in tables]
    return min(lows) if lows else MAX_MS


def behind(positions: Mapping[str, int], tables: Iterable[str], horizon_ms: int) -> bool:
    """Whether streaming from a peer would apply its records older than `horizon_ms`: this
    region's `complete_through_ms` for that peer is below it in some table."""
    return horizon_ms > 0 and any(positions.get(t, 0) < horizon_ms for t in tables)


# --------------------------------------------------------------------------- snapshots


def covered(version: pb.Version, source: str, coverage: Mapping[str, int]) -> bool:
    """Whether a snapshot of `source` reflects this version: it is the source's own write,
    or the source applied its origin's stream through a later clock time."""
    return version.region == source or physical_ms(version.hlc) < coverage.get(version.region, 0)


def removable(stored: pb.StoredItem | None, source: str, coverage: Mapping[str, int]) -> bool:
    """A key held here but absent from the source's snapshot was deleted at the source (and
    its tombstone collected) when the source covers the held version. Tombstones stay as
    they are; items the source has not seen yet (maybe newer writes) are kept."""
    return stored is not None and not stored.tombstone and covered(stored.version, source, coverage)


def merge_outcome(entry: pb.StoredItem, stored: pb.StoredItem | None) -> lww.Outcome:
    """Last-writer-wins for a snapshot entry. A version names one write, so an item and a
    tombstone with the same version can only be an item and its removal: the removal wins."""
    current = (stored.version.hlc, stored.version.region) if stored is not None else None
    outcome = lww.decide((entry.version.hlc, entry.version.region), current)
    if outcome is lww.Outcome.DUPLICATE and entry.tombstone and stored and not stored.tombstone:
        return lww.Outcome.APPLY
    return outcome
