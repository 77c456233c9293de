"""DynamoDB Streams over the door on a real node, read with boto3's `dynamodbstreams`
client: identifiers, records per view type, iterators that cannot be forged, errors."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.dynamodb_support import REGION, ServedNode, post, serving_node


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNode]:
    with serving_node(tmp_path_factory.mktemp("streams")) as node:
        yield node


def shard_of(streams: Any, arn: str) -> str:
    shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    assert len(shards) == 1 and "EndingSequenceNumber" not in shards[0]["SequenceNumberRange"]
    return str(shards[0]["ShardId"])


def arn_of(ddb: Any, table: str) -> str:
    return str(ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"])


def test_records_in_order_with_images(served: ServedNode) -> None:
    ddb, streams = served.client(), served.client("dynamodbstreams")
    arn = arn_of(ddb, "things")
    listed = streams.list_streams(TableName="things")["Streams"]
    assert listed == [
        {"StreamArn": arn, "TableName": "things", "StreamLabel": arn.rsplit("/", 1)[1]}
    ]
    assert arn.startswith(f"arn:aws:dynamodb:{REGION}:")
    shard = shard_of(streams, arn)
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")[
        "ShardIterator"
    ]
    ddb.put_item(TableName="things", Item={"id": {"S": "s"}, "v": {"N": "1"}})
    ddb.update_item(
        TableName="things",
        Key={"id": {"S": "s"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "2"}},
    )
    ddb.put_item(TableName="things", Item={"id": {"S": "s"}, "v": {"N": "2"}})  # no change
    ddb.delete_item(TableName="things", Key={"id": {"S": "s"}})
    got = streams.get_records(ShardIterator=iterator)
    records = got["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    sequences = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert all(len(s) >= 21 and s.isdigit() for s in sequences)
    assert sequences == sorted(sequences) == sorted(sequences, key=int)
    insert, modify, remove = records
    assert insert["awsRegion"] == REGION and insert["eventSource"] == "aws:dynamodb"
    assert insert["dynamodb"]["Keys"] == {"id": {"S": "s"}}
    assert "OldImage" not in insert["dynamodb"] and insert["dynamodb"]["NewImage"]["v"] == {
        "N": "1"
    }
    assert modify["dynamodb"]["OldImage"]["v"] == {"N": "1"}
    assert modify["dynamodb"]["NewImage"]["v"] == {"N": "2"}
    assert "NewImage" not in remove["dynamodb"]
    # Meridian's extras, which botocore leaves out: the origin region and the version.
    status, _, raw = post(
        served.endpoint, "DynamoDBStreams_20120810.GetRecords", {"ShardIterator": iterator}
    )
    assert status == 200 and raw["Records"][0]["originRegion"] == REGION
    assert int(raw["Records"][0]["originVersion"]) > 0
    after = streams.get_records(ShardIterator=got["NextShardIterator"])
    assert after["Records"] == [] and after["NextShardIterator"]
    at = streams.get_shard_iterator(
        StreamArn=arn,
        ShardId=shard,
        ShardIteratorType="AFTER_SEQUENCE_NUMBER",
        SequenceNumber=sequences[0],
    )["ShardIterator"]
    assert [r["eventName"] for r in streams.get_records(ShardIterator=at)["Records"]] == [
        "MODIFY",
        "REMOVE",
    ]


def test_keys_only_view(served: ServedNode) -> None:
    ddb, streams = served.client(), served.client("dynamodbstreams")
    arn = arn_of(ddb, "users")
    ddb.put_item(TableName="users", Item={"id": {"S": "u"}, "name": {"S": "n"}})
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard_of(streams, arn), ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    (record,) = streams.get_records(ShardIterator=iterator, Limit=1)["Records"]
    assert record["dynamodb"]["StreamViewType"] == "KEYS_ONLY"
    assert "NewImage" not in record["dynamodb"] and "OldImage" not in record["dynamodb"]


def forged(iterator: str, table: str) -> str:
    """The iterator's payload pointed at another table, its mac kept."""
    head, _, signed = iterator.rpartition("|")
    payload, _, mac = signed.partition(".")
    text = base64.urlsafe_b64decode(payload).decode().replace('"things"', f'"{table}"')
    return f"{head}|{base64.urlsafe_b64encode(text.encode()).decode()}.{mac}"


def test_iterators_cannot_be_forged(served: ServedNode) -> None:
    ddb, streams = served.client(), served.client("dynamodbstreams")
    arn = arn_of(ddb, "things")
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard_of(streams, arn), ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    flipped = iterator[:-1] + ("1" if iterator.endswith("0") else "0")  # one mac digit changed
    for bad in (forged(iterator, "users"), flipped, "garbage", iterator + "x"):
        with pytest.raises(ClientError) as refused:
            streams.get_records(ShardIterator=bad)
        assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_stream_errors(served: ServedNode) -> None:
    ddb, streams = served.client(), served.client("dynamodbstreams")
    arn = arn_of(ddb, "things")
    shard = shard_of(streams, arn)
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {
                "StreamArn": arn,
                "ShardId": "shardId-00000000000000000000-nonenone",
                "ShardIteratorType": "LATEST",
            },
            "ResourceNotFoundException",
        ),
        (
            {
                "StreamArn": arn.replace(REGION, "eu-west"),
                "ShardId": shard,
                "ShardIteratorType": "LATEST",
            },
            "ResourceNotFoundException",
        ),
        (
            {"StreamArn": arn[:-3] + "999", "ShardId": shard, "ShardIteratorType": "LATEST"},
            "ResourceNotFoundException",
        ),
        (
            {
                "StreamArn": "arn:aws:dynamodb:us-east:nonsense/stream/none",
                "ShardId": shard,
                "ShardIteratorType": "LATEST",
            },
            "ValidationException",
        ),
        (
            {"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "AT_SEQUENCE_NUMBER"},
            "ValidationException",
        ),
        (
            {
                "StreamArn": arn,
                "ShardId": shard,
                "ShardIteratorType": "LATEST",
                "SequenceNumber": "100000000000000000001",
            },
            "ValidationException",
        ),
    ]
    for request, expected in cases:
        with pytest.raises(ClientError) as refused:
            streams.get_shard_iterator(**request)
        assert refused.value.response["Error"]["Code"] == expected, request
