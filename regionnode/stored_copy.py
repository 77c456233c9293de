"""Snapshot entries sent as the source stored them: storage keys and StoredItem bytes.

Into a key range that holds nothing here (an empty region's bootstrap, or the part of a
resumed copy not copied yet), last-writer-wins has nothing to compare with: it would apply
every entry as it is. So the bytes are stored as they came, without item checks or encoding
them again: the source checked each item when it was written, and the peer is authenticated.
Only a tombstone is rewritten (its `written_ms` becomes this node's clock, the age its
collection counts from) and indexed; an item with a time to live is indexed. What the checks
here keep out is what would break the store: a key outside the table or out of order, bytes
that are not a stored item, an implausible version. A range that holds anything, or a table
in attribute merge mode, takes the merge instead (`snapshot_merge`), after the full checks.
"""

from __future__ import annotations

from google.protobuf.message import DecodeError

from meridian.model.items import ItemError
from meridian.pb import node_pb2 as pb
from regionnode.removal import held
from regionnode.replicated_apply import MAX_REPLICATED_HLC
from regionnode.stage import Context, Stage
from regionnode.store import Table


def decode(table: Table, keys: list[bytes], stored: list[bytes]) -> list[pb.StoredItem]:
    """The entries of stored bytes, checked as far as storing the bytes as they are needs;
    ItemError naming the first wrong one."""
    if len(keys) != len(stored):
        raise ItemError(f"keys: {len(keys)} keys for {len(stored)} stored entries")
    prefix = table.schema.prefix
    previous = prefix
    entries = []
    for index, (key, raw) in enumerate(zip(keys, stored, strict=True)):
        if key <= previous or not key.startswith(prefix):
            raise ItemError(
                f"keys[{index}]: not a key of table {table.schema.name!r} in ascending order"
            )
        previous = key
        try:
            entry = pb.StoredItem.FromString(raw)
        except DecodeError:
            raise ItemError(f"stored[{index}]: not a stored item") from None
        if entry.version.hlc >= MAX_REPLICATED_HLC or not entry.version.region:
            raise ItemError(f"stored[{index}]: implausible version")
        entries.append(entry)
    return entries


def holds_nothing(stage: Stage, ctx: Context, bounds: tuple[bytes, bytes] | None) -> bool:
    """True when no key in [low, high) is stored here, nor staged by an earlier operation of
    the same batch."""
    if bounds is None:
        return True
    low, high = bounds
    if any(low <= key < high for key in stage.overlay):
        return False
    return next(held(ctx.store, bounds), None) is None


def write(
    stage: Stage,
    ctx: Context,
    keys: list[bytes],
    entries: list[pb.StoredItem],
    stored: list[bytes],
    now: int,
) -> int:
    """Stage every entry into a range that holds nothing; returns how many."""
    newest = 0
    for key, entry, raw in zip(keys, entries, stored, strict=True):
        newest = max(newest, entry.version.hlc)
        if entry.tombstone:
            entry.written_ms = now
            stage.put_item(key, entry)
        else:
            stage.put_stored(key, entry, raw)
    if newest:
        ctx.clock.observe(newest)
    return len(entries)
