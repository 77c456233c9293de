"""UpdateTimeToLive and DescribeTimeToLive on the DynamoDB door, and the expiry's REMOVE
record in DynamoDB Streams with its userIdentity, driven with boto3. The node's TTL clock is
injected."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.dynamodb_support import ServedNode, post, serving_node
from tests.integration.test_node import spec

SERVICE = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}  # botocore's names


@pytest.fixture
def served(tmp_path) -> Iterator[ServedNode]:
    with serving_node(tmp_path, tables=[spec("sessions", pk="id")]) as node:
        assert node.node.core is not None
        node.node.core.writer.ctx.ttl_clock = lambda: 2000.0
        yield node


def error_of(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as err:
        call(**kwargs)
    return err.value.response["Error"]["Code"], err.value.response["Error"]["Message"]


def test_describe_and_update_time_to_live(served: ServedNode) -> None:
    ddb = served.client()
    described = ddb.describe_time_to_live(TableName="sessions")["TimeToLiveDescription"]
    assert described == {"TimeToLiveStatus": "DISABLED"}
    spec_on = {"Enabled": True, "AttributeName": "expires_at"}
    answer = ddb.update_time_to_live(TableName="sessions", TimeToLiveSpecification=spec_on)
    assert answer["TimeToLiveSpecification"] == spec_on
    described = ddb.describe_time_to_live(TableName="sessions")["TimeToLiveDescription"]
    assert described == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    again = {"Enabled": True, "AttributeName": "other"}
    assert error_of(
        ddb.update_time_to_live, TableName="sessions", TimeToLiveSpecification=again
    ) == ("ValidationException", "TimeToLive is already enabled")
    wrong = {"Enabled": False, "AttributeName": "other"}
    code, message = error_of(
        ddb.update_time_to_live, TableName="sessions", TimeToLiveSpecification=wrong
    )
    assert code == "ValidationException" and "current AttributeName is expires_at" in message
    off = {"Enabled": False, "AttributeName": "expires_at"}
    ddb.update_time_to_live(TableName="sessions", TimeToLiveSpecification=off)
    described = ddb.describe_time_to_live(TableName="sessions")["TimeToLiveDescription"]
    assert described == {"TimeToLiveStatus": "DISABLED"}
    assert error_of(ddb.update_time_to_live, TableName="sessions", TimeToLiveSpecification=off) == (
        "ValidationException",
        "TimeToLive is already disabled",
    )


def test_missing_table_is_not_found(served: ServedNode) -> None:
    ddb = served.client()
    code, _ = error_of(ddb.describe_time_to_live, TableName="nothing")
    assert code == "ResourceNotFoundException"
    code, _ = error_of(
        ddb.update_time_to_live,
        TableName="nothing",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"},
    )
    assert code == "ResourceNotFoundException"


def test_an_expiry_shows_the_service_identity_in_the_stream(served: ServedNode) -> None:
    ddb, streams = served.client(), served.client("dynamodbstreams")
    ddb.update_time_to_live(
        TableName="sessions", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"}
    )
    ddb.put_item(TableName="sessions", Item={"id": {"S": "s1"}, "exp": {"N": "1000"}})
    ddb.put_item(TableName="sessions", Item={"id": {"S": "s2"}})
    ddb.delete_item(TableName="sessions", Key={"id": {"S": "s2"}})
    assert served.node.sweeper is not None
    assert served.call(served.node.sweeper.sweep()) == 1
    assert "Item" not in ddb.get_item(TableName="sessions", Key={"id": {"S": "s1"}})
    arn = ddb.describe_table(TableName="sessions")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    named = [(r["eventName"], r["dynamodb"]["Keys"]["id"]["S"]) for r in records]
    assert named == [("INSERT", "s1"), ("INSERT", "s2"), ("REMOVE", "s2"), ("REMOVE", "s1")]
    assert [r.get("userIdentity") for r in records] == [None, None, None, SERVICE]
    # On the wire also as DynamoDB's documentation and Lambda filters spell it.
    status, _, raw = post(
        served.endpoint, "DynamoDBStreams_20120810.GetRecords", {"ShardIterator": iterator}
    )
    assert status == 200
    identity = raw["Records"][3]["userIdentity"]
    assert (identity["type"], identity["principalId"]) == ("Service", "dynamodb.amazonaws.com")
