"""What one group-commit batch will write (`Stage`), and what every operation applied to it
may use (`Context`). Operations read through the stage, so each sees the writes of the
operations before it in the same batch."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from meridian.model import hlc, ttl
from meridian.model.replicated_bytes import varint
from meridian.pb import node_pb2 as pb
from regionnode.removal import Candidates
from regionnode.store import (
    Store,
    Table,
    expiry_key,
    horizon_key,
    stream_key,
    table_of,
    tombstone_key,
)


@dataclass
class Context:
    """The writer's long-lived state that operations use."""

    store: Store
    clock: hlc.HybridClock
    region: str
    event_prefix: str  # of this node's stream event ids
    candidates: Candidates = field(default_factory=Candidates)  # snapshot removals in progress
    # Epoch seconds that decide which items' time to live has passed (tests set their own).
    ttl_clock: Callable[[], float] = time.time


class Stage:
    """What one group-commit batch will write, readable before it is committed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.batch = store.new_batch()
        # What the batch holds for each key it read or wrote: an item, None (nothing), or
        # the bytes of a StoredItem, parsed when an operation asks for it (`current`).
        self.overlay: dict[bytes, pb.StoredItem | bytes | None] = {}
        self.heads: dict[str, tuple[Table, int]] = {}
        self.origins: dict[str, set[str]] = {}  # per table, the regions of its staged records
        self.checkpoints: dict[tuple[str, str], pb.Checkpoint] = {}
        self.bootstrap: pb.BootstrapState | None = None
        self.horizons: dict[str, pb.RebuildHorizon] = {}
        self.peers: dict[str, pb.PeerProgress] = {}
        self.conflicts: list[pb.Conflict] = []  # last-writer-wins losses of this batch
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
            stored = self.overlay[key]
            if isinstance(stored, bytes):
                stored = self.overlay[key] = pb.StoredItem.FromString(stored)
            return stored
        stored = self.store.get_item(key)
        self.overlay[key] = stored
        return stored

    def current_bytes(self, key: bytes) -> pb.StoredItemBytes | None:
        """current() with the item left serialized (its version, tombstone flag and the
        item's bytes), parsed without building the item's attributes."""
        if key in self.overlay:
            stored = self.overlay[key]
        else:
            stored = self.overlay[key] = self.store.get(key)
        if stored is None:
            return None
        if not isinstance(stored, bytes):  # an item an earlier operation staged
            stored = stored.SerializeToString()
        return pb.StoredItemBytes.FromString(stored)

    def put_item(self, key: bytes, stored: pb.StoredItem, raw: bytes | None = None) -> None:
        """Stage an item or tombstone; `raw`, when given, is its encoding already."""
        self.overlay[key] = stored
        self.batch.put(key, stored.SerializeToString() if raw is None else raw)
        if stored.tombstone:
            self.batch.put(tombstone_key(stored.written_ms, key), b"")
        else:
            self._index_expiry(key, stored.item)
        self.empty = False

    def put_local(self, key: bytes, raw: bytes, item: pb.Item | None, written_ms: int) -> None:
        """put_serialized of a local write, whose item (None: a tombstone) is at hand: few
        operations of a batch read the key again."""
        if item is None:
            self.put_serialized(key, raw, written_ms, None)
        else:
            self.put_serialized(key, raw, None, self._expiry(key, item))

    def put_serialized(
        self, key: bytes, raw: bytes, tombstone_ms: int | None, expiry: int | None
    ) -> None:
        """put_item of a StoredItem given only as its bytes `raw` (parsed if an operation
        reads it): `tombstone_ms`, its written time when it is a tombstone; `expiry`, the
        time its TTL attribute gives (ttl.expiry_of), which a tombstone has not."""
        self.overlay[key] = raw
        self.batch.put(key, raw)
        if tombstone_ms is not None:
            self.batch.put(tombstone_key(tombstone_ms, key), b"")
        elif expiry is not None:
            self.batch.put(expiry_key(table_of(key), expiry, key), b"")
        self.empty = False

    def put_stored(self, key: bytes, stored: pb.StoredItem, raw: bytes) -> None:
        """put_item of a live item given with its serialized bytes (a snapshot copy), which
        are stored as they are."""
        self.overlay[key] = stored
        self.batch.put(key, raw)
        self._index_expiry(key, stored.item)
        self.empty = False

    def _index_expiry(self, key: bytes, item: pb.Item) -> None:
        """Note an item with a TTL in the expiry index, in the batch that writes it (every
        path stores items through here: local writes, replicated applies, snapshot merges).
        The entry of an older version stays; the sweeper drops it when it finds it stale."""
        expiry = self._expiry(key, item)
        if expiry is not None:
            self.batch.put(expiry_key(table_of(key), expiry, key), b"")

    def _expiry(self, key: bytes, item: pb.Item) -> int | None:
        """The time the TTL attribute of its table gives the item stored at `key`."""
        table = self.store.tables.get(table_of(key))
        attribute = table.description.spec.ttl_attribute if table is not None else ""
        return ttl.expiry_of(item, attribute)

    def delete_item(self, key: bytes) -> None:
        self.overlay[key] = None
        self.batch.delete(key)
        self.empty = False

    def emit(self, table: Table, record: pb.StreamRecord, event_prefix: str) -> None:
        """Give the record the table's next sequence number and stage it."""
        name = self._next_sequence(table, record, event_prefix)
        record.size_bytes = record.ByteSize()
        self.batch.put(stream_key(name, table.head), record.SerializeToString())

    def emit_serialized(
        self, table: Table, head: pb.StreamRecord, images: bytes, event_prefix: str
    ) -> None:
        """emit() of a record given as `head` (its fields but the images and size) and
        `images`, the encoding of its image fields: the record's encoding is the two joined,
        then its size (the size of what comes before it, as emit's ByteSize)."""
        name = self._next_sequence(table, head, event_prefix)
        data = head.SerializeToString() + images
        self.batch.put(stream_key(name, table.head), data + _SIZE_BYTES + varint(len(data)))

    def _next_sequence(self, table: Table, record: pb.StreamRecord, event_prefix: str) -> str:
        """Give `record` the table's next sequence number and event id (next_sequence)."""
        name = table.description.spec.name
        record.sequence_number = self.next_sequence(table, record.version.region)
        record.event_id = f"{event_prefix}.{name}.{table.head}"
        return name

    def next_sequence(self, table: Table, origin: str) -> int:
        """The table's next sequence number, for a record of region `origin`, noting the
        table's head before this stage (for rollback) and the origin (for wake-ups)."""
        name = table.description.spec.name
        self.heads.setdefault(name, (table, table.head))
        self.origins.setdefault(name, set()).add(origin)
        table.head += 1
        return table.head

    def put_record(self, table: Table, sequence: int, raw: bytes) -> None:
        """Stage a stream record given as its bytes, under the sequence number it got from
        next_sequence."""
        self.batch.put(stream_key(table.description.spec.name, sequence), raw)

    def rollback(self) -> None:
        """Undo in-memory sequence counters after a failed commit."""
        for table, head in self.heads.values():
            table.head = head


_SIZE_BYTES = b"\x40"  # the tag of StreamRecord.size_bytes (field 8, varint)

# Tags (field number << 3 | wire type) of the length-delimited fields that the serialized
# staging paths (local_stage, replicated_stage) append as bytes.
STORED_ITEM = b"\x1a"  # StoredItem.item = 3
STORED_ATTRIBUTES = b"\x2a"  # StoredItem.attributes = 5
RECORD_KEYS = b"\x2a"  # StreamRecord.keys = 5
RECORD_NEW = b"\x32"  # StreamRecord.new_image = 6
RECORD_OLD = b"\x3a"  # StreamRecord.old_image = 7
RECORD_ATTRIBUTES = b"\x6a"  # StreamRecord.attributes = 13


def live(stored: pb.StoredItem | None) -> pb.Item | None:
    return stored.item if stored is not None and not stored.tombstone else None


def stage_record(
    stage: Stage,
    ctx: Context,
    table: Table,
    key: bytes,
    record: pb.StreamRecord,
    old: pb.Item | None,
    newest: pb.Version | None = None,
) -> None:
    """Stage the item (or tombstone) that `record` writes, with the record made this
    region's: event name from the local state, local time, the local old image. In attribute
    merge mode the item's version is `newest`, of all its attributes (default: the record's)."""
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
    record.creation_time_ms = ctx.clock.wall()
    stored = pb.StoredItem(tombstone=removed, written_ms=record.creation_time_ms)
    stored.version.CopyFrom(newest if newest is not None else record.version)
    if record.HasField("attributes"):
        stored.attributes.CopyFrom(record.attributes)
    stored.item.CopyFrom(record.keys if removed else record.new_image)
    stage.put_item(key, stored)
    stage.emit(table, record, ctx.event_prefix)
