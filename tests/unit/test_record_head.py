"""StreamRecordHead reads a stored StreamRecord's bytes as the full message would: the same
sequence number, creation time and version, whatever else the record holds (relaying and
filtering replicated records rely on it without parsing the images)."""

from __future__ import annotations

import pytest

from meridian.model import ttl
from meridian.model.items import from_plain
from meridian.pb import node_pb2 as pb


def _full() -> pb.StreamRecord:
    record = pb.StreamRecord(
        event_id="abc.orders.7",
        event_name=pb.MODIFY,
        sequence_number=7,
        creation_time_ms=1_700_000_000_123,
        size_bytes=300,
        table="orders",
        view_type=pb.NEW_AND_OLD_IMAGES,
        version=pb.Version(hlc=(1_700_000_000_000 << 16) | 5, region="eu-west"),
    )
    record.keys.CopyFrom(from_plain({"pk": "k"}))
    record.new_image.CopyFrom(from_plain({"pk": "k", "v": 2, "region": "us-east"}))
    record.old_image.CopyFrom(from_plain({"pk": "k", "v": 1}))
    record.user_identity.CopyFrom(ttl.service_identity())
    record.attributes.clock["v"].CopyFrom(pb.Version(hlc=3, region="ap"))
    return record


def _merged_versions() -> bytes:
    """A record whose version comes in two parts: protobuf merges them."""
    first = pb.StreamRecord(sequence_number=1, version=pb.Version(hlc=9, region="eu"))
    second = pb.StreamRecord(sequence_number=2, version=pb.Version(hlc=11))
    return first.SerializeToString() + second.SerializeToString()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_full().SerializeToString(), (7, 1_700_000_000_123, _full().version.hlc, "eu-west")),
        (pb.StreamRecord().SerializeToString(), (0, 0, 0, "")),
        (pb.StreamRecord(sequence_number=2**64 - 1).SerializeToString(), (2**64 - 1, 0, 0, "")),
        (_merged_versions(), (2, 0, 11, "eu")),
    ],
    ids=["full", "empty", "largest-sequence", "merged-version"],
)
def test_the_head_of_a_record_is_read_as_the_record_reads(
    data: bytes, expected: tuple[int, int, int, str]
) -> None:
    head = pb.StreamRecordHead.FromString(data)
    got = (head.sequence_number, head.creation_time_ms, head.version.hlc, head.version.region)
    assert got == expected
    record = pb.StreamRecord.FromString(data)
    full = (record.sequence_number, record.creation_time_ms, record.version.hlc)
    assert (*full, record.version.region) == expected


def test_the_head_fields_keep_the_record_fields_numbers_and_types() -> None:
    """Renumbering a StreamRecord field without its head would misread every relayed record."""
    record, head = pb.StreamRecord.DESCRIPTOR, pb.StreamRecordHead.DESCRIPTOR
    for field in head.fields:
        same = record.fields_by_name[field.name]
        assert (same.number, same.type) == (field.number, field.type), field.name
    assert (
        head.fields_by_name["version"].message_type is record.fields_by_name["version"].message_type
    )
