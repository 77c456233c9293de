"""Operations of tombstone collection: dropping tombstones the rule lets go, and storing the
progress peers report, which the rule decides on (`meridian/model/collection.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from meridian.model import collection
from meridian.pb import node_pb2 as pb
from regionnode.stage import Context, Stage
from regionnode.store import peer_key, table_of


@dataclass
class Collected:
    dropped: int = 0
    forced: int = 0  # of which without every peer's confirmation
    horizons: dict[str, int] = field(default_factory=dict)  # peer -> horizon raised to


@dataclass
class CollectOp:
    """Tombstones that may have outlived their lifetime: (index key, item key), and the
    rule that decides, against what is stored when the batch is written."""

    candidates: list[tuple[bytes, bytes]]
    rule: collection.Rule

    def apply(self, stage: Stage, ctx: Context) -> Collected:
        """Checked here, against the current state, so a write that replaced the tombstone
        since the candidates were chosen is never touched; stale index entries just go. A
        forced collection raises the rebuild horizon of every peer that had not confirmed
        the tombstone, in the same WriteBatch."""
        result = Collected()
        forced: dict[str, tuple[int, int]] = {}  # peer -> (horizon, tombstones)
        for index_key, key in self.candidates:
            stored = stage.current(key)
            written_ms = int.from_bytes(index_key[1:9], "big")
            if stored is None or not stored.tombstone or stored.written_ms != written_ms:
                stage.batch.delete(index_key)
                stage.empty = False
                continue
            verdict = self.rule.verdict(table_of(key), stored)
            if not verdict.collect:
                continue
            stage.delete_item(key)
            stage.batch.delete(index_key)
            result.dropped += 1
            if verdict.forced:
                result.forced += 1
                for peer in verdict.lagging:
                    horizon, count = forced.get(peer, (0, 0))
                    forced[peer] = (max(horizon, collection.horizon_of(stored)), count + 1)
        for peer, (horizon, count) in sorted(forced.items()):
            if stage.raise_horizon(peer, horizon, self.rule.now_ms, count):
                result.horizons[peer] = stage.horizons[peer].horizon_ms
        return result


@dataclass
class ProgressOp:
    """A peer's reported progress, to store."""

    report: pb.PeerProgress

    def apply(self, stage: Stage, ctx: Context) -> None:
        self.report.received_ms = ctx.clock.wall()
        stage.peers[self.report.region] = self.report
        stage.batch.put(peer_key(self.report.region), self.report.SerializeToString())
        stage.empty = False
