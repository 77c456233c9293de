"""The stored item and this region's stream record of a replicated record that won (item
merge mode), built from serialized images, as `local_stage` builds a local write's.

`stage_record` builds both as messages from a parsed record: the image copied into the stored
item, the stored item's image copied into the record as its old image, both serialized.
Here the record's images arrive as bytes (`pb.ReplicatedRecord`, read so by the peer door)
and the stored state as bytes (`Stage.current_bytes`): each message is a head of its other
fields followed by the image fields as bytes (the encoding of a message followed by further
fields is the message with those fields set). No attribute of an image becomes a Python
object; the TTL index alone parses the new image, and only in a table with a TTL attribute.
tests/integration/test_replicated_stage.py compares what this writes with `stage_record`.
"""

from __future__ import annotations

from meridian.model import ttl
from meridian.pb import node_pb2 as pb
from regionnode.stage import (
    RECORD_ATTRIBUTES,
    RECORD_KEYS,
    RECORD_NEW,
    RECORD_OLD,
    STORED_ATTRIBUTES,
    STORED_ITEM,
    Context,
    Stage,
)
from regionnode.stage import length_delimited as _field
from regionnode.store import Table


def stage_replicated(
    stage: Stage,
    ctx: Context,
    table: Table,
    key: bytes,
    record: pb.ReplicatedRecord,
    stored: pb.StoredItemBytes | None,
) -> None:
    """Stage the item (or tombstone) a winning replicated `record` writes over `stored`, with
    the record made this region's, as `stage_record` does: event name from the local state,
    local time, the local old image; version, keys, image and user identity kept."""
    spec = table.description.spec
    written = ctx.clock.wall()
    removed = record.event_name == pb.REMOVE
    keys_raw = record.keys.SerializeToString()
    image = keys_raw if removed else record.new_image
    head = pb.StoredItem(version=record.version, tombstone=removed, written_ms=written)
    stored_raw = head.SerializeToString() + _field(STORED_ITEM, image)
    images = _field(RECORD_KEYS, keys_raw)
    if not removed:
        images += _field(RECORD_NEW, image)
    old = stored is not None and not stored.tombstone
    if old:
        assert stored is not None
        images += _field(RECORD_OLD, stored.item)
    if record.HasField("attributes"):  # kept as stage_record keeps them (item mode has none)
        attributes = record.attributes.SerializeToString()
        stored_raw += _field(STORED_ATTRIBUTES, attributes)
        images += _field(RECORD_ATTRIBUTES, attributes)
    expiry = None
    if spec.ttl_attribute and not removed:
        expiry = ttl.expiry_of(pb.Item.FromString(image), spec.ttl_attribute)
    stage.put_serialized(key, stored_raw, written if removed else None, expiry)
    out = pb.StreamRecord(
        event_name=pb.REMOVE if removed else pb.MODIFY if old else pb.INSERT,
        creation_time_ms=written,
        version=record.version,
        table=spec.name,
        view_type=spec.view_type,
    )
    if record.HasField("user_identity"):
        out.user_identity.CopyFrom(record.user_identity)
    stage.emit_serialized(table, out, images, ctx.event_prefix)
