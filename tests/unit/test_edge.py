"""The server edge: naming a decoding problem, rate-limited warnings, and the nesting
DynamoDB allows decoding in every message that carries items."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from google.protobuf.message import DecodeError, Message

from meridian.model.items import MAX_DEPTH
from meridian.pb import node_pb2 as pb
from meridian.pb import replicator_pb2 as rpb
from meridian.wire.edge import Throttled, decode_problem
from tests.protowire import nested_list, nested_map, put_request, string


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "Error parsing message with type 'meridian.node.v1.PutItemRequest': "
            "Exceeded upb_DecodeOptions_MaxDepth",
            "attribute values nest deeper than 32 levels (DynamoDB's limit)",
        ),
        (
            "Error parsing message with type 'meridian.node.v1.PutItemRequest': "
            "String field had bad UTF-8",
            "a string field is not valid UTF-8",
        ),
        (
            "Error parsing message with type 'meridian.node.v1.PutItemRequest': "
            "Wire format was corrupt",
            "not a protobuf message of the request's type (Wire format was corrupt)",
        ),
        (
            "Error parsing message",
            "not a protobuf message of the request's type (Error parsing message)",
        ),
    ],
    ids=["depth", "utf8", "corrupt", "unknown"],
)
def test_decode_problems_are_named_in_a_users_terms(text: str, problem: str) -> None:
    assert decode_problem(DecodeError(text)) == problem


@pytest.mark.parametrize(
    ("request_bytes", "problem"),
    [
        (put_request(nested_map(33)), "nest deeper than 32 levels"),
        (put_request(nested_list(60)), "nest deeper than 32 levels"),
        (put_request(string(b"caf\xc3")), "not valid UTF-8"),
        (put_request(string(b"x"), table=b"\xff"), "not valid UTF-8"),
        (b"\x0a\xff\xff\xff\xff\x0f", "Wire format was corrupt"),
    ],
    ids=["map-depth", "list-depth", "utf8-value", "utf8-table", "corrupt"],
)
def test_the_decoding_errors_of_this_protobuf_are_recognised(
    request_bytes: bytes, problem: str
) -> None:
    """Should a protobuf upgrade reword its errors, this fails, not the messages going vague."""
    with pytest.raises(DecodeError) as info:
        pb.PutItemRequest.FromString(request_bytes)
    assert problem in decode_problem(info.value)


def test_hand_encoding_matches_protobuf() -> None:
    request = pb.PutItemRequest.FromString(put_request(nested_map(2)))
    assert request.table == "orders"
    assert request.item.attributes["deep"].m.fields["a"].m.fields["a"].s == "bottom"
    assert request.item.attributes["sk"].n == "1"


def _deep_item() -> pb.Item:
    value = pb.AttributeValue.FromString(nested_map(MAX_DEPTH))
    return pb.Item(attributes={"deep": value})


CARRIERS: list[tuple[type[Message], Callable[[pb.Item], Message]]] = [
    (pb.PutItemRequest, lambda i: pb.PutItemRequest(item=i)),
    (pb.BatchWriteItemRequest, lambda i: pb.BatchWriteItemRequest(writes=[pb.WriteRequest(put=i)])),
    (pb.WriteResult, lambda i: pb.WriteResult(attributes=i)),
    (pb.GetItemResponse, lambda i: pb.GetItemResponse(item=i)),
    (pb.QueryResponse, lambda i: pb.QueryResponse(items=[i])),
    (
        pb.GetRecordsResponse,
        lambda i: pb.GetRecordsResponse(records=[pb.StreamRecord(new_image=i)]),
    ),
    (pb.SubscribeBatch, lambda i: pb.SubscribeBatch(records=[pb.StreamRecord(old_image=i)])),
    (
        rpb.PullBatch,
        lambda i: rpb.PullBatch(records=[pb.StreamRecord(new_image=i).SerializeToString()]),
    ),
    (
        pb.ApplyReplicatedRequest,
        lambda i: pb.ApplyReplicatedRequest(records=[pb.StreamRecord(new_image=i)]),
    ),
    (pb.SnapshotBatch, lambda i: pb.SnapshotBatch(entries=[pb.StoredItem(item=i)])),
    (pb.ApplySnapshotRequest, lambda i: pb.ApplySnapshotRequest(entries=[pb.StoredItem(item=i)])),
]


@pytest.mark.parametrize(("kind", "build"), CARRIERS, ids=[c[0].__name__ for c in CARRIERS])
def test_an_item_nested_as_deep_as_dynamodb_allows_decodes_in_every_message(
    kind: type[Message], build: Callable[[pb.Item], Message]
) -> None:
    """Items nested 32 levels (DynamoDB's limit) must cross every hop of replication."""
    decoded = kind.FromString(build(_deep_item()).SerializeToString())
    assert decoded.ByteSize() > 32


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_warnings_are_limited_to_one_per_interval_and_count_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    throttled = Throttled(logging.getLogger("test.edge"), 10.0, clock)
    with caplog.at_level(logging.WARNING, logger="test.edge"):
        for _ in range(923):
            throttled.warning("bad request")
        clock.now += 9.9
        throttled.warning("bad request")
        clock.now += 0.1
        throttled.warning("bad again")
        clock.now += 10
        throttled.warning("once more")
    assert [r.getMessage() for r in caplog.records] == [
        "bad request",
        "bad again (923 more like it not logged)",
        "once more",
    ]
