"""The stored item and this region's stream record of a replicated record that won (item
merge mode), built from its bytes, as `local_stage` builds a local write's.

`stage_record` builds both as messages from a parsed record: the image copied into the stored
item, the stored item's image copied into the record as its old image, both serialized.
Here the record arrives as the fields and bytes of its scan (`replicated_bytes.Scanned`) and
the stored state as bytes (`Stage.current_bytes`): `replicated_bytes.entries` (compiled, or
its Python twin) writes both encodings in one call, the images copied in as bytes. No
attribute of an image becomes a Python object; the TTL index alone parses the new image, and
only in a table with a TTL attribute. tests/integration/test_replicated_stage.py compares
what this writes with `stage_record`.
"""

from __future__ import annotations

from meridian.model import replicated_bytes, ttl
from meridian.model.replicated_bytes import Scanned
from meridian.pb import node_pb2 as pb
from regionnode.stage import Context, Stage
from regionnode.store import Table


def stage_replicated(
    stage: Stage,
    ctx: Context,
    table: Table,
    record: Scanned,
    stored: pb.StoredItemBytes | None,
) -> None:
    """Stage the item (or tombstone) a winning replicated `record` writes over `stored`, with
    the record made this region's, as `stage_record` does: event name from the local state,
    local time, the local old image; version, keys, image and user identity kept."""
    spec = table.description.spec
    written = ctx.clock.wall()
    removed = record.event_name == pb.REMOVE
    old = stored.item if stored is not None and not stored.tombstone else None
    sequence = stage.next_sequence(table, record.region)
    stored_raw, record_raw = replicated_bytes.entries(
        record.version,
        removed,
        written,
        record.keys,
        record.new_image,
        old,
        record.user_identity,
        record.attributes,
        pb.REMOVE if removed else pb.MODIFY if old is not None else pb.INSERT,
        sequence,
        f"{ctx.event_prefix}.{spec.name}.{sequence}",
        spec.name,
        spec.view_type,
    )
    expiry = None
    if spec.ttl_attribute and not removed:
        expiry = ttl.expiry_of(pb.Item.FromString(record.new_image), spec.ttl_attribute)
    stage.put_serialized(record.key, stored_raw, written if removed else None, expiry)
    stage.put_record(table, sequence, record_raw)
