"""The event a function receives, and the example group that uses it."""

from __future__ import annotations

import json
import pathlib

import pytest

from meridian.config import load
from meridian.model import items, ttl
from meridian.pb import node_pb2 as pb
from triggers import worker
from triggers.events import key_hash, make_record, payload, source_arn
from triggers.filters import compile_pattern, matches

REPO = pathlib.Path(__file__).resolve().parents[2]


def stream_record() -> pb.StreamRecord:
    return pb.StreamRecord(
        event_id="abc.orders.7",
        event_name=pb.MODIFY,
        sequence_number=7,
        creation_time_ms=1_795_350_140_956,
        keys=items.from_plain({"pk": "order-1"}),
        new_image=items.from_plain({"pk": "order-1", "total": 42, "tags": {"$set": ["a"]}}),
        old_image=items.from_plain({"pk": "order-1", "total": 41}),
        size_bytes=99,
        version=pb.Version(hlc=123, region="eu-west"),
        table="orders",
        view_type=pb.NEW_AND_OLD_IMAGES,
    )


def test_event_record_has_the_dynamodb_streams_shape() -> None:
    arn = source_arn("demo", "us-east", "orders", "s1")
    record = make_record(stream_record(), "us-east", arn)
    assert record.data == {
        "eventID": "abc.orders.7",
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "meridian:stream",
        "awsRegion": "us-east",
        "dynamodb": {
            "ApproximateCreationDateTime": 1795350140,
            "Keys": {"pk": {"S": "order-1"}},
            "NewImage": {"pk": {"S": "order-1"}, "tags": {"SS": ["a"]}, "total": {"N": "42"}},
            "OldImage": {"pk": {"S": "order-1"}, "total": {"N": "41"}},
            "SequenceNumber": "000000000000000000007",
            "SizeBytes": 99,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": "meridian:demo:us-east:table/orders/stream/s1",
        "meridian": {
            "origin": "eu-west",
            "version": {"hlc": 123, "region": "eu-west"},
            "table": "orders",
        },
    }
    assert json.loads(record.text) == record.data
    assert record.size == len(record.text)
    assert record.identifier == "000000000000000000007"
    event = json.loads(payload([record, record]))
    assert event == {"Records": [record.data, record.data]}


def test_key_hash_is_stable_whatever_the_attribute_order() -> None:
    one = pb.Item()
    one.attributes["a"].s = "x"
    one.attributes["b"].n = "1"
    two = pb.Item()
    two.attributes["b"].n = "1"
    two.attributes["a"].s = "x"
    assert key_hash(one) == key_hash(two)
    assert key_hash(one) != key_hash(items.from_plain({"a": "y", "b": 1}))


def test_example_group_loads_and_its_functions_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO))
    config = load(REPO / "examples" / "group.yaml")
    assert {t.name for t in config.triggers} == {
        "count-tasks",
        "index-docs",
        "archive-removed",
        "archive-expired",
    }
    for trigger in config.triggers:
        assert trigger.function.kind == "python"
        assert callable(worker.load(trigger.function.target[0]))


def test_an_expiry_carries_the_service_identity_that_filters_match() -> None:
    expiry = stream_record()
    expiry.event_name = pb.REMOVE
    expiry.ClearField("new_image")
    expiry.user_identity.CopyFrom(ttl.service_identity())
    arn = source_arn("demo", "us-east", "orders", "s1")
    event = make_record(expiry, "us-east", arn).data
    assert event["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert "userIdentity" not in make_record(stream_record(), "us-east", arn).data
    only_expiries = compile_pattern(
        {"userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]}}
    )
    assert matches(only_expiries, event)
    assert not matches(only_expiries, make_record(stream_record(), "us-east", arn).data)
    no_expiries = compile_pattern({"userIdentity": {"type": [{"exists": False}]}})
    assert not matches(no_expiries, event)
    assert matches(no_expiries, make_record(stream_record(), "us-east", arn).data)
