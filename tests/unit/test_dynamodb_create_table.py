"""CreateTable's parameters on the DynamoDB door (regionnode.dynamodb.create_params)."""

from __future__ import annotations

from typing import Any

import pytest

from meridian.pb import node_pb2 as pb
from regionnode.dynamodb.create_params import create_table, stream_specification, tags
from regionnode.dynamodb.errors import DynamoError

BASE: dict[str, Any] = {
    "TableName": "carts",
    "AttributeDefinitions": [
        {"AttributeName": "id", "AttributeType": "S"},
        {"AttributeName": "at", "AttributeType": "N"},
    ],
    "KeySchema": [
        {"AttributeName": "id", "KeyType": "HASH"},
        {"AttributeName": "at", "KeyType": "RANGE"},
    ],
    "BillingMode": "PAY_PER_REQUEST",
}


def test_a_valid_request_becomes_a_table_spec() -> None:
    body = dict(
        BASE,
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
        Tags=[{"Key": "team", "Value": "carts"}],
    )
    new = create_table(body)
    assert new.spec.name == "carts"
    assert (new.spec.partition_key.name, new.spec.partition_key.type) == ("id", pb.KEY_TYPE_S)
    assert (new.spec.sort_key.name, new.spec.sort_key.type) == ("at", pb.KEY_TYPE_N)
    assert new.spec.view_type == pb.KEYS_ONLY
    assert new.tags == {"team": "carts"} and new.stream_enabled


def test_deletion_protection_off_is_accepted() -> None:
    assert create_table(dict(BASE, DeletionProtectionEnabled=False)).spec.name == BASE["TableName"]


def test_provisioned_throughput_is_accepted() -> None:
    body = dict(BASE, ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5})
    del body["BillingMode"]
    assert create_table(body).spec.view_type == pb.NEW_AND_OLD_IMAGES


def _without(name: str) -> dict[str, Any]:
    return {k: v for k, v in BASE.items() if k != name}


ONE_KEY = [{"AttributeName": "id", "KeyType": "HASH"}]
ID_ONLY = [{"AttributeName": "id", "AttributeType": "S"}]


@pytest.mark.parametrize(
    ("case", "body", "message"),
    [
        ("no key schema", _without("KeySchema"), "Value null at 'keySchema'"),
        ("no definitions", _without("AttributeDefinitions"), "'attributeDefinitions'"),
        (
            "undefined key",
            dict(BASE, AttributeDefinitions=ID_ONLY),
            "Some index key attributes are not defined in AttributeDefinitions. Keys: [at]",
        ),
        (
            "unused definition",
            dict(BASE, KeySchema=ONE_KEY),
            "Number of attributes in KeySchema does not exactly match",
        ),
        (
            "range first",
            dict(BASE, KeySchema=list(reversed(BASE["KeySchema"]))),
            "The first KeySchemaElement is not a HASH key type",
        ),
        (
            "two hash keys",
            dict(BASE, KeySchema=[ONE_KEY[0], {"AttributeName": "at", "KeyType": "HASH"}]),
            "Too many hash keys specified",
        ),
        (
            "same name twice",
            dict(
                BASE,
                AttributeDefinitions=ID_ONLY,
                KeySchema=[ONE_KEY[0], {"AttributeName": "id", "KeyType": "RANGE"}],
            ),
            "have the same name",
        ),
        ("empty key schema", dict(BASE, KeySchema=[]), "length greater than or equal to 1"),
        (
            "bad attribute type",
            dict(BASE, AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "X"}]),
            "Member must satisfy enum value set: [B, N, S]",
        ),
        (
            "pay per request with throughput",
            dict(BASE, ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}),
            "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified",
        ),
        ("provisioned without throughput", _without("BillingMode"), "ProvisionedThroughput"),
        (
            "global secondary index",
            dict(BASE, GlobalSecondaryIndexes=[{"IndexName": "by_at"}]),
            "secondary indexes are not supported yet",
        ),
        (
            "local secondary index",
            dict(BASE, LocalSecondaryIndexes=[{"IndexName": "by_at"}]),
            "secondary indexes are not supported yet",
        ),
        ("bad table name", dict(BASE, TableName="a"), "'tableName' failed to satisfy"),
        (
            "deletion protection",
            dict(BASE, DeletionProtectionEnabled=True),
            "DeletionProtectionEnabled is not supported yet",
        ),
        (
            "stream without view type",
            dict(BASE, StreamSpecification={"StreamEnabled": True}),
            "You must specify a StreamViewType when enabling a stream",
        ),
    ],
)
def test_create_table_is_refused_as_dynamodb_refuses(
    case: str, body: dict[str, Any], message: str
) -> None:
    with pytest.raises(DynamoError) as info:
        create_table(body)
    assert info.value.code == "ValidationException", case
    assert message in info.value.message, (case, info.value.message)


def test_stream_specification_off_and_tags_limits() -> None:
    assert stream_specification({"StreamSpecification": {"StreamEnabled": False}}) == (
        False,
        pb.STREAM_VIEW_TYPE_UNSPECIFIED,
    )
    with pytest.raises(DynamoError):
        tags({"Tags": [{"Key": "", "Value": "x"}]}, "Tags")
    with pytest.raises(DynamoError):
        tags({"Tags": [{"Key": f"k{i}", "Value": ""} for i in range(51)]}, "Tags")
