"""The stored item and the stream record of a local write (item merge mode), built from one
serialized image each.

`stage_record` builds both as messages: the image is copied into the record, copied again
into the stored item, and each is serialized (the record twice, to learn its size). Here each
image is serialized once and its bytes are placed into both: a message's encoding followed by
the encoding of further fields is the encoding of the message with those fields set, so a
head of scalar fields plus length-delimited image fields parses to the same StoredItem and
StreamRecord `stage_record` writes (tests/integration/test_local_stage.py compares them).
"""

from __future__ import annotations

from meridian.model.replicated_bytes import length_delimited as _field
from meridian.pb import node_pb2 as pb
from regionnode.stage import RECORD_KEYS, RECORD_NEW, RECORD_OLD, STORED_ITEM, Context, Stage
from regionnode.store import Table


def stage_local(
    stage: Stage,
    ctx: Context,
    table: Table,
    key: bytes,
    keys: pb.Item,
    new: pb.Item | None,
    old: pb.Item | None,
    version: pb.Version,
    new_raw: bytes | None = None,
) -> None:
    """Stage a local write at `version`: the item `new` (None: a tombstone of `keys`) and its
    stream record (INSERT, MODIFY or REMOVE, the old image when there was one), as
    `stage_record` stages them; `new_raw`, if given, is `new` serialized."""
    spec = table.description.spec
    written = ctx.clock.wall()
    keys_raw = keys.SerializeToString()
    image = new_raw or (keys_raw if new is None else new.SerializeToString())
    head = pb.StoredItem(version=version, tombstone=new is None, written_ms=written)
    stored_raw = head.SerializeToString() + _field(STORED_ITEM, image)
    stage.put_local(key, stored_raw, new, written)
    if new is None:
        event, images = pb.REMOVE, _field(RECORD_KEYS, keys_raw)
    else:
        event = pb.INSERT if old is None else pb.MODIFY
        images = _field(RECORD_KEYS, keys_raw) + _field(RECORD_NEW, image)
    if old is not None:
        images += _field(RECORD_OLD, old.SerializeToString())
    record = pb.StreamRecord(
        event_name=event,
        creation_time_ms=written,
        version=version,
        table=spec.name,
        view_type=spec.view_type,
    )
    stage.emit_serialized(table, record, images, ctx.event_prefix)
