"""Entries of a peer's snapshot (bootstrap or resync), merged with last-writer-wins.

Copy what is newer, keep what is not; no stream records (a copy is not a change). Entries
given as stored bytes into a range that holds nothing are stored as they are
(`stored_copy`): the merge would apply every one of them. The progress (resume point) and
any checkpoints to install go in the same batch, so a crash resumes exactly where the
durable copy ends. With a removal range, keys the source shows deleted are noted, and
removed when the table's copy is done (`regionnode/removal.py`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from meridian.model import attribute_merge, collection, lww
from meridian.model.items import ItemError, check_item
from meridian.pb import node_pb2 as pb
from regionnode import attribute_writes, stored_copy
from regionnode.removal import Removal, held
from regionnode.replicated_apply import MAX_REPLICATED_HLC
from regionnode.stage import Context, Stage
from regionnode.store import META_BOOTSTRAP, Table, checkpoint_key

log = logging.getLogger(__name__)


@dataclass
class SnapshotOp:
    """The entries are used up: the newer ones are stored as they are."""

    table: Table
    entries: list[pb.StoredItem]
    keys: list[bytes]  # the storage key of each entry
    progress: pb.BootstrapState | None  # a bootstrap's resume point; None for a resync
    install: list[pb.Checkpoint]
    removal: Removal | None = None
    stored: list[bytes] | None = None  # the entries' bytes as the source stored them

    def apply(self, stage: Stage, ctx: Context) -> pb.ApplySnapshotResponse:
        response = pb.ApplySnapshotResponse()
        now = ctx.clock.wall()
        if self.stored is not None and self._into_empty(stage, ctx):
            response.applied = stored_copy.write(
                stage, ctx, self.keys, self.entries, self.stored, now
            )
        else:
            self._merge(stage, ctx, response, now)
        if self.removal is not None:
            self._note_absent(stage, ctx, self.removal)
        source = self.removal.source if self.removal is not None else ""
        for ckpt in self.install:
            install_checkpoint(stage, ctx, ckpt, now, source)
        if self.removal is not None and self.removal.to_end:
            response.removed = remove_absent(stage, ctx, self.table, self.removal, now)
        if self.progress is not None:
            stage.batch.put(META_BOOTSTRAP, self.progress.SerializeToString())
            stage.bootstrap = self.progress
        stage.empty = False
        return response

    def _into_empty(self, stage: Stage, ctx: Context) -> bool:
        """Whether the entries go where nothing is held (item merge mode only: an attribute
        mode entry is normalized by its merge even then)."""
        if attribute_writes.attribute_mode(self.table):
            return False
        if self.removal is not None:
            last = self.keys[-1] if self.keys else None
            bounds = self.removal.bounds(self.table.schema.prefix, last)
        else:
            bounds = (self.keys[0], self.keys[-1] + b"\x00") if self.keys else None
        return stored_copy.holds_nothing(stage, ctx, bounds)

    def _merge(
        self, stage: Stage, ctx: Context, response: pb.ApplySnapshotResponse, now: int
    ) -> None:
        """Last-writer-wins, entry by entry; entries given as stored bytes are first checked
        in full (their items, and that each key is its item's), before anything is staged."""
        if self.stored is not None:
            for index, (entry, key) in enumerate(zip(self.entries, self.keys, strict=True)):
                if entry_key(self.table, index, entry) != key:
                    raise ItemError(f"keys[{index}]: not the key of its entry's item")
        for entry, key in zip(self.entries, self.keys, strict=True):
            if attribute_writes.attribute_mode(self.table):
                self._merge_attributes(stage, ctx, entry, key, response, now)
                continue
            if collection.merge_outcome(entry, stage.current(key)) is not lww.Outcome.APPLY:
                response.kept += 1
                continue
            ctx.clock.observe(entry.version.hlc)
            entry.written_ms = now  # the entry itself is what is stored (a copy costs more)
            stage.put_item(key, entry)
            response.applied += 1

    def _merge_attributes(
        self,
        stage: Stage,
        ctx: Context,
        entry: pb.StoredItem,
        key: bytes,
        response: pb.ApplySnapshotResponse,
        now: int,
    ) -> None:
        """Attribute merge mode: merge the entry's state into the stored one."""
        if not attribute_writes.merge_entry(self.table, entry, stage.current(key), now):
            response.kept += 1
            return
        ctx.clock.observe(entry.version.hlc)
        stage.put_item(key, entry)
        response.applied += 1

    def _note_absent(self, stage: Stage, ctx: Context, removal: Removal) -> None:
        present = set(self.keys)
        bounds = removal.bounds(self.table.schema.prefix, self.keys[-1] if self.keys else None)
        found = [
            key
            for key in held(ctx.store, bounds)
            if key not in present
            and collection.removable(stage.current(key), removal.source, removal.coverage)
        ]
        ctx.candidates.add(removal.session, found)


def remove_absent(stage: Stage, ctx: Context, table: Table, removal: Removal, now: int) -> int:
    """Turn each candidate still covered into a tombstone of its own version, and adopt
    the source's rebuild horizons (what it no longer takes from a peer, neither does
    this region now that it holds the source's view)."""
    removed = 0
    names = table.schema.key_names
    for key in ctx.candidates.take(removal.session):
        stored = stage.current(key)
        if stored is None or not collection.removable(stored, removal.source, removal.coverage):
            continue
        gone = pb.StoredItem(tombstone=True, written_ms=now, version=stored.version)
        if attribute_writes.attribute_mode(table):  # every attribute held here is gone
            gone.attributes.deleted.CopyFrom(stored.version)
        for name in names:
            gone.item.attributes[name].CopyFrom(stored.item.attributes[name])
        stage.put_item(key, gone)
        removed += 1
    for horizon in removal.horizons:
        if horizon.peer != ctx.region:
            stage.raise_horizon(horizon.peer, horizon.horizon_ms, now)
    if removed:
        log.info(
            "table %s: removed %d items that %s shows deleted",
            table.description.spec.name,
            removed,
            removal.source,
        )
    return removed


def install_checkpoint(
    stage: Stage, ctx: Context, ckpt: pb.Checkpoint, now: int, source: str
) -> None:
    """Move a checkpoint forward to what a snapshot reflects; replace it outright when
    the source's own node changed (its sequence numbers started over). Positions of
    other origins only move forward on the same node, never this region's own."""
    if ckpt.origin == ctx.region:
        return
    ckpt_id = (ckpt.origin, ckpt.table)
    current = stage.checkpoints.get(ckpt_id) or ctx.store.checkpoint(*ckpt_id)
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


def entry_key(table: Table, index: int, entry: pb.StoredItem) -> bytes:
    """The storage key of a snapshot entry, whose item is checked and normalized; ItemError
    when the entry is malformed."""
    try:
        key = table.schema.storage_key(entry.item)
        if not entry.tombstone:
            check_item(entry.item)
        if attribute_writes.attribute_mode(table):
            image = None if entry.tombstone else entry.item
            attribute_merge.check(entry.attributes, image, table.schema.key_names, entry.version)
    except ItemError as exc:
        raise ItemError(f"entries[{index}]: {exc}") from None
    if entry.version.hlc >= MAX_REPLICATED_HLC or not entry.version.region:
        raise ItemError(f"entries[{index}]: implausible version")
    return key


def snapshot_removal(
    region: str, table: Table, req: pb.ApplySnapshotRequest, keys: list[bytes]
) -> Removal | None:
    """The removal side of a snapshot message, checked: the entries must be in ascending key
    order after the range's start, or keys they skip would be taken for deleted ones."""
    if not req.HasField("range"):
        return None
    rng = req.range
    if not rng.source or rng.source == region or not rng.session:
        raise ItemError(f"range: needs the source region and a session, got {rng.source!r}")
    try:
        after = table.schema.storage_key(rng.after) if rng.HasField("after") else None
    except ItemError as exc:
        raise ItemError(f"range.after: {exc}") from None
    previous = after
    for index, key in enumerate(keys):
        if previous is not None and key <= previous:
            raise ItemError(f"entries[{index}]: not in ascending key order after the range start")
        previous = key
    return Removal.of(rng, after)
