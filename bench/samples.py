"""Realistic protobuf values for the raw limits: a stored item and its stream record."""

from __future__ import annotations

from bench.workload import TABLE, item, key
from meridian.model import hlc
from meridian.pb import node_pb2 as pb


def stored_item(n: int) -> pb.StoredItem:
    version = pb.Version(hlc=hlc.pack(hlc.wall_ms(), n & 0xFFFF), region="us-east")
    return pb.StoredItem(version=version, item=item(n, n), written_ms=hlc.wall_ms())


def stream_record(n: int) -> pb.StreamRecord:
    """An INSERT record as the node stores it (new image, version, sizes)."""
    stored = stored_item(n)
    record = pb.StreamRecord(
        event_id=f"0123456789ab.{TABLE}.{n}",
        event_name=pb.INSERT,
        sequence_number=n + 1,
        creation_time_ms=stored.written_ms,
        keys=key(n),
        new_image=stored.item,
        version=stored.version,
        table=TABLE,
        view_type=pb.NEW_AND_OLD_IMAGES,
    )
    record.size_bytes = record.ByteSize()
    return record


def subscribe_batch(records: int) -> pb.SubscribeBatch:
    batch = pb.SubscribeBatch(head_sequence_number=records, scanned_through=records)
    for n in range(records):
        batch.records.append(stream_record(n))
    return batch
