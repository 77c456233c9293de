"""The messages that relay records as bytes read as the messages they stand for:
StreamRecordHead reads a stored StreamRecord's bytes as the full message would (the same
sequence number, creation time and version, whatever else the record holds), and an
ApplyReplicatedRelay is an ApplyReplicatedRequest on the wire."""

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


def test_a_relay_has_every_field_of_the_request_with_the_records_as_bytes() -> None:
    """A request field the relay lacked would be dropped by every replicator."""
    request, relay = pb.ApplyReplicatedRequest.DESCRIPTOR, pb.ApplyReplicatedRelay.DESCRIPTOR
    assert sorted(f.name for f in relay.fields) == sorted(f.name for f in request.fields)
    for field in request.fields:
        same = relay.fields_by_name[field.name]
        assert same.number == field.number, field.name
        if field.name == "records":
            assert (same.type, field.message_type) == (same.TYPE_BYTES, pb.StreamRecord.DESCRIPTOR)
        else:
            assert same.type == field.type, field.name


def test_a_relay_reads_as_the_request_with_its_records_parsed() -> None:
    records = [_full(), pb.StreamRecord(sequence_number=8, event_name=pb.REMOVE)]
    relay = pb.ApplyReplicatedRelay(
        origin="eu-west",
        table="orders",
        records=[r.SerializeToString() for r in records],
        source_sequence=9,
        origin_node_id="n1",
        complete_through_ms=5,
        incarnation="1:ab",
        after_checkpoint=6,
    )
    request = pb.ApplyReplicatedRequest.FromString(relay.SerializeToString())
    expected = pb.ApplyReplicatedRequest(
        origin="eu-west",
        table="orders",
        records=records,
        source_sequence=9,
        origin_node_id="n1",
        complete_through_ms=5,
        incarnation="1:ab",
        after_checkpoint=6,
    )
    assert request == expected
