"""The node's single writer: every change to the store goes through here.

Client writes and replicated batches are queued, and one task turns whatever is queued into
one RocksDB WriteBatch (group commit): each operation reads the current item (seeing earlier
operations of the same batch), checks its conditions or the last-writer-wins rule, stamps a
version from the hybrid logical clock and stages the item, its stream record and, for
replicated batches, the per-origin checkpoint. The clock high-water mark rides in every batch.
A failed operation is refused alone; the others of its batch still commit. Callers are
answered only after the batch is durable, so an acknowledged write survives a crash.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from meridian.model import collection, hlc, lww
from meridian.model.items import ItemError, check_item, items_equal
from meridian.model.updates import ConditionFailed, apply_updates, check_conditions
from meridian.pb import node_pb2 as pb
from meridian.wire.errors import ResyncNeeded
from regionnode.removal import Candidates, Removal, held
from regionnode.store import (
    META_BOOTSTRAP,
    Store,
    Table,
    checkpoint_key,
    horizon_key,
    peer_key,
    stream_key,
    table_of,
    tombstone_key,
)

log = logging.getLogger(__name__)

NO_CHANGE = pb.WriteResult(changed=False)


@dataclass
class PutOp:
    table: Table
    key: bytes
    keys: pb.Item
    item: pb.Item
    conditions: list[pb.Condition] = field(default_factory=list)
    return_values: int = pb.RETURN_VALUES_NONE


@dataclass
class DeleteOp:
    table: Table
    key: bytes
    keys: pb.Item
    conditions: list[pb.Condition] = field(default_factory=list)
    return_values: int = pb.RETURN_VALUES_NONE


@dataclass
class UpdateOp:
    table: Table
    key: bytes
    keys: pb.Item
    actions: list[pb.UpdateAction]
    conditions: list[pb.Condition] = field(default_factory=list)
    return_values: int = pb.RETURN_VALUES_NONE


@dataclass
class BatchOp:
    """Unconditional puts (item) and deletes (item None, keys given) on one table."""

    table: Table
    writes: list[tuple[bytes, pb.Item, pb.Item | None]]


@dataclass
class CollectOp:
    """Tombstones that may have outlived their lifetime: (index key, item key), and the
    rule that decides, against what is stored when the batch is written."""

    candidates: list[tuple[bytes, bytes]]
    rule: collection.Rule


@dataclass
class Collected:
    dropped: int = 0
    forced: int = 0  # of which without every peer's confirmation
    horizons: dict[str, int] = field(default_factory=dict)  # peer -> horizon raised to


@dataclass
class ProgressOp:
    """A peer's reported progress, to store."""

    report: pb.PeerProgress


@dataclass
class ApplyOp:
    """Records from one origin region's stream, to apply with last-writer-wins. The records
    are used up: each winner becomes this region's stream record of its write."""

    table: Table
    origin: str
    records: list[pb.StreamRecord]
    keys: list[bytes]  # the storage key of each record
    max_clock_offset_ms: int
    source_sequence: int
    origin_node_id: str = ""
    complete_through_ms: int = 0


@dataclass
class SnapshotOp:
    """Entries of a peer's snapshot (bootstrap or resync), merged with last-writer-wins.
    The entries are used up: the newer ones are stored as they are."""

    table: Table
    entries: list[pb.StoredItem]
    keys: list[bytes]  # the storage key of each entry
    progress: pb.BootstrapState | None  # a bootstrap's resume point; None for a resync
    install: list[pb.Checkpoint]
    removal: Removal | None = None


Op = PutOp | DeleteOp | UpdateOp | BatchOp | ApplyOp | CollectOp | SnapshotOp | ProgressOp
Result = (
    pb.WriteResult
    | pb.BatchWriteItemResponse
    | pb.ApplyReplicatedResponse
    | pb.ApplySnapshotResponse
    | Collected
    | None
)


class Stage:
    """What one group-commit batch will write, readable before it is committed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.batch = store.new_batch()
        self.overlay: dict[bytes, pb.StoredItem | None] = {}
        self.heads: dict[str, tuple[Table, int]] = {}
        self.checkpoints: dict[tuple[str, str], pb.Checkpoint] = {}
        self.bootstrap: pb.BootstrapState | None = None
        self.horizons: dict[str, pb.RebuildHorizon] = {}
        self.peers: dict[str, pb.PeerProgress] = {}
        self.empty = True

    def raise_horizon(self, peer: str, horizon_ms: int, now: int, tombstones: int = 0) -> bool:
        """Move a peer's rebuild horizon up (never down), counting the tombstones collected
        without its confirmation; True when the horizon moved."""
        current = self.horizons.get(peer) or self.store.horizons.get(peer)
        current = current or pb.RebuildHorizon(peer=peer)
        moved = horizon_ms > current.horizon_ms
        if not moved and not tombstones:
            return False
        self.horizons[peer] = new = pb.RebuildHorizon(
            peer=peer,
            horizon_ms=max(horizon_ms, current.horizon_ms),
            tombstones=current.tombstones + tombstones,
            updated_ms=now if moved else current.updated_ms,
        )
        self.batch.put(horizon_key(peer), new.SerializeToString())
        self.empty = False
        return moved

    def current(self, key: bytes) -> pb.StoredItem | None:
        if key in self.overlay:
            return self.overlay[key]
        stored = self.store.get_item(key)
        self.overlay[key] = stored
        return stored

    def put_item(self, key: bytes, stored: pb.StoredItem) -> None:
        self.overlay[key] = stored
        self.batch.put(key, stored.SerializeToString())
        if stored.tombstone:
            self.batch.put(tombstone_key(stored.written_ms, key), b"")
        self.empty = False

    def delete_item(self, key: bytes) -> None:
        self.overlay[key] = None
        self.batch.delete(key)
        self.empty = False

    def emit(self, table: Table, record: pb.StreamRecord, event_prefix: str) -> None:
        """Give the record the table's next sequence number and stage it."""
        name = table.description.spec.name
        self.heads.setdefault(name, (table, table.head))
        table.head += 1
        record.sequence_number = table.head
        record.event_id = f"{event_prefix}.{name}.{table.head}"
        record.size_bytes = record.ByteSize()
        self.batch.put(stream_key(name, table.head), record.SerializeToString())

    def rollback(self) -> None:
        """Undo in-memory sequence counters after a failed commit."""
        for table, head in self.heads.values():
            table.head = head


def live(stored: pb.StoredItem | None) -> pb.Item | None:
    return stored.item if stored is not None and not stored.tombstone else None


def returned(return_values: int, old: pb.Item | None, new: pb.Item | None) -> pb.Item | None:
    if return_values == pb.ALL_OLD:
        return old
    if return_values == pb.ALL_NEW:
        return new
    return None


class Writer:
    def __init__(
        self,
        store: Store,
        clock: hlc.HybridClock,
        region: str,
        on_commit: Callable[[set[str]], None],
        on_conflicts: Callable[[list[pb.Conflict]], None],
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.region = region
        self._on_commit = on_commit
        self._on_conflicts = on_conflicts
        self._on_batch = on_batch
        self._pending: list[tuple[Op, asyncio.Future[Result]]] = []
        self._wake = asyncio.Event()
        self._event_prefix = store.node_id[:12]
        self.batch_sizes: collections.Counter[int] = collections.Counter()
        self._candidates = Candidates()
        self._closed = False

    async def submit(self, op: Op) -> Result:
        if self._closed:
            raise ConnectionAbortedError("node is shutting down")
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((op, future))
        self._wake.set()
        return await future

    async def run(self) -> None:
        """Commit queued operations until cancelled; queued and in-flight callers are failed
        on exit (also when a bug makes the loop crash), so no caller waits forever."""
        work: list[tuple[Op, asyncio.Future[Result]]] = []
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._pending:
                    work, self._pending = self._pending, []
                    await self._commit(work)
                    work = []
        finally:
            self._closed = True
            for _, future in [*work, *self._pending]:
                if not future.done():
                    future.set_exception(ConnectionAbortedError("node is shutting down"))

    async def _commit(self, work: list[tuple[Op, asyncio.Future[Result]]]) -> None:
        stage = Stage(self.store)
        results: list[Result | BaseException] = []
        conflicts: list[pb.Conflict] = []
        for op, _ in work:
            try:
                results.append(self._apply(stage, op, conflicts))
            except (ConditionFailed, ItemError, ResyncNeeded) as exc:
                results.append(exc)
        try:
            if not stage.empty or stage.checkpoints:
                stage.batch.put(b"m:hlc", self.clock.last.to_bytes(8, "big"))
                if self.store.sync:
                    await asyncio.to_thread(self.store.write, stage.batch)
                else:
                    self.store.write(stage.batch)
            if stage.bootstrap is not None:
                self.store.bootstrap = stage.bootstrap
            self.store.horizons.update(stage.horizons)
            self.store.peers.update(stage.peers)
        except Exception as exc:
            stage.rollback()
            log.exception("write batch of %d operations failed", len(work))
            results = [exc] * len(work)
        self.batch_sizes[min(len(work), 1024).bit_length()] += 1
        if self._on_batch is not None:
            self._on_batch(len(work))
        for (_, future), result in zip(work, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
        if stage.heads:
            self._on_commit(set(stage.heads))
        if conflicts:
            self._on_conflicts(conflicts)

    def _apply(self, stage: Stage, op: Op, conflicts: list[pb.Conflict]) -> Result:
        if isinstance(op, PutOp):
            return self._put(stage, op)
        if isinstance(op, DeleteOp):
            return self._delete(stage, op)
        if isinstance(op, UpdateOp):
            return self._update(stage, op)
        if isinstance(op, BatchOp):
            return self._batch(stage, op)
        if isinstance(op, CollectOp):
            return self._collect(stage, op)
        if isinstance(op, SnapshotOp):
            return self._merge_snapshot(stage, op)
        if isinstance(op, ProgressOp):
            self._record_progress(stage, op)
            return None
        return self._apply_replicated(stage, op, conflicts)

    def _collect(self, stage: Stage, op: CollectOp) -> Collected:
        """Drop tombstones the rule lets go (`regionnode/collection.py`).

        Checked here, against the current state, so a write that replaced the tombstone
        since the candidates were chosen is never touched; stale index entries just go. A
        forced collection raises the rebuild horizon of every peer that had not confirmed
        the tombstone, in the same WriteBatch.
        """
        result = Collected()
        forced: dict[str, tuple[int, int]] = {}  # peer -> (horizon, tombstones)
        for index_key, key in op.candidates:
            stored = stage.current(key)
            written_ms = int.from_bytes(index_key[1:9], "big")
            if stored is None or not stored.tombstone or stored.written_ms != written_ms:
                stage.batch.delete(index_key)
                stage.empty = False
                continue
            verdict = op.rule.verdict(table_of(key), stored)
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
            if stage.raise_horizon(peer, horizon, op.rule.now_ms, count):
                result.horizons[peer] = stage.horizons[peer].horizon_ms
        return result

    def _record_progress(self, stage: Stage, op: ProgressOp) -> None:
        op.report.received_ms = self.clock.wall()
        stage.peers[op.report.region] = op.report
        stage.batch.put(peer_key(op.report.region), op.report.SerializeToString())
        stage.empty = False

    # ------------------------------------------------------------ local writes

    def _stage_write(
        self, stage: Stage, table: Table, key: bytes, record: pb.StreamRecord, old: pb.Item | None
    ) -> None:
        """Stage the item (or tombstone) that `record` writes, with the record made this
        region's: event name from the local state, local time, the local old image."""
        removed = record.event_name == pb.REMOVE
        if removed:
            record.ClearField("new_image")
        else:
            record.event_name = pb.INSERT if old is None else pb.MODIFY
        if old is None:
            record.ClearField("old_image")
        else:
            record.old_image.CopyFrom(old)
        spec = table.description.spec
        record.table, record.view_type = spec.name, spec.view_type
        record.creation_time_ms = self.clock.wall()
        stored = pb.StoredItem(tombstone=removed, written_ms=record.creation_time_ms)
        stored.version.CopyFrom(record.version)
        stored.item.CopyFrom(record.keys if removed else record.new_image)
        stage.put_item(key, stored)
        stage.emit(table, record, self._event_prefix)

    def _write_local(
        self,
        stage: Stage,
        table: Table,
        key: bytes,
        keys: pb.Item,
        new: pb.Item | None,
        old: pb.Item | None,
    ) -> pb.Version:
        """Stamp a new version and stage the item (or tombstone) with its stream record."""
        record = pb.StreamRecord(event_name=pb.REMOVE if new is None else pb.INSERT)
        record.keys.CopyFrom(keys)
        if new is not None:
            record.new_image.CopyFrom(new)
        record.version.hlc, record.version.region = self.clock.now(), self.region
        self._stage_write(stage, table, key, record, old)
        return record.version

    def _put(self, stage: Stage, op: PutOp) -> pb.WriteResult:
        stored = stage.current(op.key)
        old = live(stored)
        check_conditions(op.conditions, old, stored.version if old is not None and stored else None)
        if old is not None and items_equal(old, op.item):
            return self._unchanged(stored, op.return_values, old)
        version = self._write_local(stage, op.table, op.key, op.keys, op.item, old)
        return self._written(version, op.return_values, old, op.item)

    def _delete(self, stage: Stage, op: DeleteOp) -> pb.WriteResult:
        stored = stage.current(op.key)
        old = live(stored)
        check_conditions(op.conditions, old, stored.version if old is not None and stored else None)
        if old is None:
            return pb.WriteResult(changed=False)
        version = self._write_local(stage, op.table, op.key, op.keys, None, old)
        return self._written(version, op.return_values, old, None)

    def _update(self, stage: Stage, op: UpdateOp) -> pb.WriteResult:
        stored = stage.current(op.key)
        old = live(stored)
        check_conditions(op.conditions, old, stored.version if old is not None and stored else None)
        new = apply_updates(old, op.keys, op.actions, op.table.schema.key_names)
        check_item(new)
        if old is not None and items_equal(old, new):
            return self._unchanged(stored, op.return_values, old)
        version = self._write_local(stage, op.table, op.key, op.keys, new, old)
        return self._written(version, op.return_values, old, new)

    def _batch(self, stage: Stage, op: BatchOp) -> pb.BatchWriteItemResponse:
        response = pb.BatchWriteItemResponse()
        for key, keys, item in op.writes:
            old = live(stage.current(key))
            if (item is None and old is None) or (
                item is not None and old is not None and items_equal(old, item)
            ):
                response.versions.add()
                continue
            version = self._write_local(stage, op.table, key, keys, item, old)
            response.versions.add(hlc=version.hlc, region=version.region)
        return response

    @staticmethod
    def _unchanged(
        stored: pb.StoredItem | None, return_values: int, old: pb.Item
    ) -> pb.WriteResult:
        result = pb.WriteResult(changed=False)
        if stored is not None:
            result.version.CopyFrom(stored.version)
        attributes = returned(return_values, old, old)
        if attributes is not None:
            result.attributes.CopyFrom(attributes)
        return result

    @staticmethod
    def _written(
        version: pb.Version, return_values: int, old: pb.Item | None, new: pb.Item | None
    ) -> pb.WriteResult:
        result = pb.WriteResult(changed=True, version=version)
        attributes = returned(return_values, old, new)
        if attributes is not None:
            result.attributes.CopyFrom(attributes)
        return result

    # ------------------------------------------------------------ snapshots

    def _merge_snapshot(self, stage: Stage, op: SnapshotOp) -> pb.ApplySnapshotResponse:
        """Copy what is newer, keep what is not; no stream records (a copy is not a change).

        The progress (resume point) and any checkpoints to install go in the same batch, so
        a crash resumes exactly where the durable copy ends. With a removal range, keys the
        source shows deleted are noted, and removed when the table's copy is done
        (`regionnode/removal.py`).
        """
        response = pb.ApplySnapshotResponse()
        now = self.clock.wall()
        for entry, key in zip(op.entries, op.keys, strict=True):
            if collection.merge_outcome(entry, stage.current(key)) is not lww.Outcome.APPLY:
                response.kept += 1
                continue
            self.clock.observe(entry.version.hlc)
            entry.written_ms = now  # the entry itself is what is stored (a copy costs more)
            stage.put_item(key, entry)
            response.applied += 1
        if op.removal is not None:
            self._note_absent(stage, op, op.removal)
        source = op.removal.source if op.removal is not None else ""
        for ckpt in op.install:
            self._install_checkpoint(stage, ckpt, now, source)
        if op.removal is not None and op.removal.to_end:
            response.removed = self._remove_absent(stage, op.table, op.removal, now)
        if op.progress is not None:
            stage.batch.put(META_BOOTSTRAP, op.progress.SerializeToString())
            stage.bootstrap = op.progress
        stage.empty = False
        return response

    def _note_absent(self, stage: Stage, op: SnapshotOp, removal: Removal) -> None:
        present = set(op.keys)
        bounds = removal.bounds(op.table.schema.prefix, op.keys[-1] if op.keys else None)
        found = [
            key
            for key in held(self.store, bounds)
            if key not in present
            and collection.removable(stage.current(key), removal.source, removal.coverage)
        ]
        self._candidates.add(removal.session, found)

    def _remove_absent(self, stage: Stage, table: Table, removal: Removal, now: int) -> int:
        """Turn each candidate still covered into a tombstone of its own version, and adopt
        the source's rebuild horizons (what it no longer takes from a peer, neither does
        this region now that it holds the source's view)."""
        removed = 0
        names = table.schema.key_names
        for key in self._candidates.take(removal.session):
            stored = stage.current(key)
            if stored is None or not collection.removable(stored, removal.source, removal.coverage):
                continue
            gone = pb.StoredItem(tombstone=True, written_ms=now, version=stored.version)
            for name in names:
                gone.item.attributes[name].CopyFrom(stored.item.attributes[name])
            stage.put_item(key, gone)
            removed += 1
        for horizon in removal.horizons:
            if horizon.peer != self.region:
                stage.raise_horizon(horizon.peer, horizon.horizon_ms, now)
        if removed:
            log.info(
                "table %s: removed %d items that %s shows deleted",
                table.description.spec.name,
                removed,
                removal.source,
            )
        return removed

    def _install_checkpoint(self, stage: Stage, ckpt: pb.Checkpoint, now: int, source: str) -> None:
        """Move a checkpoint forward to what a snapshot reflects; replace it outright when
        the source's own node changed (its sequence numbers started over). Positions of
        other origins only move forward on the same node, never this region's own."""
        if ckpt.origin == self.region:
            return
        ckpt_id = (ckpt.origin, ckpt.table)
        current = stage.checkpoints.get(ckpt_id) or self.store.checkpoint(*ckpt_id)
        same_node = current is not None and current.origin_node_id == ckpt.origin_node_id
        if source and ckpt.origin != source and current is not None and not same_node:
            return
        if same_node and current is not None and current.sequence_number >= ckpt.sequence_number:
            return
        new = pb.Checkpoint()
        new.CopyFrom(ckpt)
        new.updated_ms = now
        if same_node and current is not None:
            new.complete_through_ms = max(new.complete_through_ms, current.complete_through_ms)
        stage.checkpoints[ckpt_id] = new
        stage.batch.put(checkpoint_key(ckpt.origin, ckpt.table), new.SerializeToString())

    # ------------------------------------------------------------ replicated writes

    def _apply_replicated(
        self, stage: Stage, op: ApplyOp, conflicts: list[pb.Conflict]
    ) -> pb.ApplyReplicatedResponse:
        name = op.table.description.spec.name
        ckpt_id = (op.origin, name)
        ckpt = stage.checkpoints.get(ckpt_id) or self.store.checkpoint(op.origin, name)
        if (
            ckpt is not None
            and op.origin_node_id
            and ckpt.origin_node_id not in ("", op.origin_node_id)
        ):
            raise ResyncNeeded(
                f"{op.origin} is now served by node {op.origin_node_id}; table {name!r} was "
                f"replicated from node {ckpt.origin_node_id}"
            )
        position = ckpt.sequence_number if ckpt else 0
        response = pb.ApplyReplicatedResponse()
        now = self.clock.wall()
        rejected = False
        for record, key in zip(op.records, op.keys, strict=True):
            sequence = record.sequence_number  # the origin's; a winner gets a local one
            admitted = lww.admit(
                sequence, position, record.version.hlc, now, op.max_clock_offset_ms
            )
            if admitted is lww.Outcome.STALE_SEQUENCE:
                response.stale_sequence += 1
                continue
            if admitted is lww.Outcome.CLOCK_REJECTED:
                response.clock_rejected += 1
                rejected = True
                break
            self.clock.observe(record.version.hlc)
            self._apply_record(stage, op.table, record, key, response, conflicts, now)
            position = sequence
        if not rejected:
            position = max(position, op.source_sequence)
        response.checkpoint = position
        complete = 0 if rejected else op.complete_through_ms
        before = ckpt or pb.Checkpoint()
        if (
            ckpt is None
            or position > before.sequence_number
            or complete > before.complete_through_ms
        ):
            new_ckpt = pb.Checkpoint(
                origin=op.origin,
                table=name,
                sequence_number=position,
                updated_ms=now,
                origin_node_id=op.origin_node_id or before.origin_node_id,
                complete_through_ms=max(complete, before.complete_through_ms),
            )
            stage.checkpoints[ckpt_id] = new_ckpt
            stage.batch.put(checkpoint_key(op.origin, name), new_ckpt.SerializeToString())
        return response

    def _apply_record(
        self,
        stage: Stage,
        table: Table,
        record: pb.StreamRecord,
        key: bytes,
        response: pb.ApplyReplicatedResponse,
        conflicts: list[pb.Conflict],
        now: int,
    ) -> None:
        stored = stage.current(key)
        incoming = (record.version.hlc, record.version.region)
        current = (stored.version.hlc, stored.version.region) if stored is not None else None
        outcome = lww.decide(incoming, current)
        if outcome is lww.Outcome.DUPLICATE:
            response.duplicate += 1
            return
        if outcome is lww.Outcome.LOST_TO_NEWER:
            response.lost_to_newer += 1
            assert stored is not None and current is not None
            conflicts.append(
                pb.Conflict(
                    table=table.description.spec.name,
                    keys=record.keys,
                    winner=stored.version,
                    loser=record.version,
                    rule=lww.rule(incoming, current),
                    at_ms=now,
                )
            )
            return
        response.applied += 1
        response.max_latency_ms = max(
            response.max_latency_ms, max(0, now - record.creation_time_ms)
        )
        self._stage_write(stage, table, key, record, live(stored))  # the record is reused
