"""Real DynamoDB clients against a real `meridian run` group with TLS and access keys, as
the banner tells a user: boto3's client and resource and aws-cli write in us-east with
condition and update expressions, read in eu-west, run a transaction, page through a
Query, and consume the change stream with boto3's `dynamodbstreams` client; a table created
with boto3 in us-east is written there, read in eu-west and deleted from ap-south."""

from __future__ import annotations

import json
import os
import pathlib
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from botocore.config import Config
from botocore.exceptions import ClientError

from meridian.config import load
from tests.e2e.helpers import MeridianRun, secure_group
from tests.harness import wait_until

pytestmark = pytest.mark.e2e

REPLICATION_S = 20.0
AWS = pathlib.Path(sys.executable).parent / "aws"


@dataclass
class Group:
    run: MeridianRun
    banner: str
    endpoints: dict[str, str]
    ca: str
    env: dict[str, str]  # AWS_* credentials of a read-write key, for boto3 and aws-cli

    def client(self, region: str, service: str = "dynamodb") -> Any:
        return boto3.client(service, **self._kwargs(region))

    def resource(self, region: str) -> Any:
        return boto3.resource("dynamodb", **self._kwargs(region))

    def _kwargs(self, region: str) -> dict[str, Any]:
        return {
            "endpoint_url": self.endpoints[region],
            "region_name": region,
            "verify": self.ca,
            "aws_access_key_id": self.env["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": self.env["AWS_SECRET_ACCESS_KEY"],
            "config": Config(retries={"max_attempts": 2}, read_timeout=20),
        }

    def aws(self, region: str, *args: str) -> Any:
        """aws-cli against a region; its JSON output (None when it prints nothing)."""
        command = [
            str(AWS),
            *args,
            "--endpoint-url",
            self.endpoints[region],
            "--region",
            region,
            "--ca-bundle",
            self.ca,
            "--output",
            "json",
        ]
        env = {
            **os.environ,
            **self.env,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == 0, f"{shlex.join(command)}\n{done.stdout}\n{done.stderr}"
        return json.loads(done.stdout) if done.stdout.strip() else None


@pytest.fixture(scope="module")
def group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Group]:
    base = tmp_path_factory.mktemp("dynamodb-e2e")
    made = secure_group(base, ("us-east", "eu-west", "ap-south"), api=True)
    config = made.config
    env = {"AWS_ACCESS_KEY_ID": made.key_id, "AWS_SECRET_ACCESS_KEY": made.secret}
    loaded = load(config)
    endpoints = {r.name: f"https://{r.api_listen}" for r in loaded.regions}
    run = MeridianRun(config, base / "run.out", base / "logs").start()
    try:
        banner = run.wait_banner()
        yield Group(run, banner, endpoints, str(made.ca), env)
    finally:
        run.stop()


def test_the_banner_shows_each_endpoint_and_working_boto3_code(group: Group) -> None:
    for region, endpoint in group.endpoints.items():
        assert f"{region:<12} {endpoint}" in group.banner
    line = next(x for x in group.banner.splitlines() if x.strip().startswith("python3 -c"))
    command = shlex.split(line.strip())
    command[0] = sys.executable
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env={**os.environ, **group.env}
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['orders']"


def test_write_in_one_region_read_in_another(group: Group) -> None:
    us, eu = group.client("us-east"), group.client("eu-west")
    key = {"pk": {"S": "user#1"}, "sk": {"S": "profile"}}
    us.put_item(
        TableName="orders",
        Item={**key, "name": {"S": "Ada"}, "visits": {"N": "1"}},
        ConditionExpression="attribute_not_exists(pk)",
    )
    with pytest.raises(ClientError) as again:
        us.put_item(TableName="orders", Item=key, ConditionExpression="attribute_not_exists(pk)")
    assert again.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    us.update_item(
        TableName="orders",
        Key=key,
        UpdateExpression="SET #n = :name ADD visits :one",
        ConditionExpression="visits < :ten",
        ExpressionAttributeNames={"#n": "name"},
        ExpressionAttributeValues={
            ":name": {"S": "Ada L."},
            ":one": {"N": "1"},
            ":ten": {"N": "10"},
        },
    )

    def replicated() -> Any:
        item = eu.get_item(TableName="orders", Key=key, ConsistentRead=True).get("Item")
        return item if item and item["visits"] == {"N": "2"} else None

    item = wait_until(replicated, REPLICATION_S, "the update in eu-west", logs=[group.run])
    assert item["name"] == {"S": "Ada L."}
    # aws-cli reads it too, and writes back
    got = group.aws(
        "eu-west", "dynamodb", "get-item", "--table-name", "orders", "--key", json.dumps(key)
    )
    assert got["Item"]["visits"] == {"N": "2"}
    group.aws(
        "eu-west",
        "dynamodb",
        "put-item",
        "--table-name",
        "orders",
        "--item",
        json.dumps({"pk": {"S": "cli"}, "sk": {"S": "1"}}),
    )
    wait_until(
        lambda: us.get_item(TableName="orders", Key={"pk": {"S": "cli"}, "sk": {"S": "1"}}).get(
            "Item"
        ),
        REPLICATION_S,
        "aws-cli's write in us-east",
        logs=[group.run],
    )


def test_a_transaction_and_a_paged_query(group: Group) -> None:
    table = group.resource("us-east").Table("orders")
    with table.batch_writer() as batch:
        for i in range(10):
            batch.put_item(Item={"pk": "acct", "sk": f"{i:02d}", "balance": 100})
    group.client("us-east").transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": "orders",
                    "Key": {"pk": {"S": "acct"}, "sk": {"S": "00"}},
                    "UpdateExpression": "SET balance = balance - :a",
                    "ConditionExpression": "balance >= :a",
                    "ExpressionAttributeValues": {":a": {"N": "30"}},
                }
            },
            {
                "Update": {
                    "TableName": "orders",
                    "Key": {"pk": {"S": "acct"}, "sk": {"S": "01"}},
                    "UpdateExpression": "SET balance = balance + :a",
                    "ExpressionAttributeValues": {":a": {"N": "30"}},
                }
            },
        ]
    )
    eu = group.resource("eu-west").Table("orders")

    def pages() -> list[list[Any]] | None:
        out, start = [], None
        while True:
            kwargs = {"ExclusiveStartKey": start} if start else {}
            page = eu.query(KeyConditionExpression=Key("pk").eq("acct"), Limit=4, **kwargs)
            out.append(page["Items"])
            start = page.get("LastEvaluatedKey")
            if start is None:
                break
        items = [item for page in out for item in page]
        balances = [item["balance"] for item in items[:2]]
        return out if len(items) == 10 and balances == [Decimal(70), Decimal(130)] else None

    found = wait_until(pages, REPLICATION_S, "the transaction in eu-west", logs=[group.run])
    assert [len(page) for page in found] == [4, 4, 2]


def test_the_change_stream_in_another_region(group: Group) -> None:
    us = group.client("us-east")
    key = {"pk": {"S": "streamed"}, "sk": {"S": "1"}}
    us.put_item(TableName="orders", Item={**key, "v": {"N": "1"}})
    us.delete_item(TableName="orders", Key=key)
    streams = group.client("eu-west", "dynamodbstreams")
    (listed,) = streams.list_streams(TableName="orders")["Streams"]
    description = streams.describe_stream(StreamArn=listed["StreamArn"])["StreamDescription"]
    assert description["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    iterator = streams.get_shard_iterator(
        StreamArn=listed["StreamArn"],
        ShardId=description["Shards"][0]["ShardId"],
        ShardIteratorType="TRIM_HORIZON",
    )["ShardIterator"]
    seen: list[dict[str, Any]] = []

    def both_records() -> bool:
        nonlocal iterator
        got = streams.get_records(ShardIterator=iterator)
        iterator = got["NextShardIterator"]
        seen.extend(r for r in got["Records"] if r["dynamodb"]["Keys"] == key)
        return len(seen) >= 2

    wait_until(both_records, REPLICATION_S, "the stream records in eu-west", logs=[group.run])
    assert [r["eventName"] for r in seen] == ["INSERT", "REMOVE"]
    assert all(r["awsRegion"] == "eu-west" for r in seen)
    assert seen[1]["dynamodb"]["OldImage"]["v"] == {"N": "1"}
    cli = group.aws("eu-west", "dynamodbstreams", "list-streams")
    assert [s["TableName"] for s in cli["Streams"]] == ["orders"]


def test_a_table_created_in_one_region_is_used_and_deleted_in_the_others(group: Group) -> None:
    """The table is deleted again at the end: the other tests list only `orders`."""
    waiting = {"Delay": 0.2, "MaxAttempts": int(REPLICATION_S / 0.2)}
    carts = group.resource("us-east").create_table(
        TableName="carts",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    carts.wait_until_exists(WaiterConfig=waiting)
    carts.put_item(Item={"id": "c1", "items": 3}, ConditionExpression="attribute_not_exists(id)")
    with pytest.raises(ClientError) as again:
        carts.put_item(Item={"id": "c1"}, ConditionExpression="attribute_not_exists(id)")
    assert again.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    eu = group.resource("eu-west").Table("carts")

    def replicated() -> Any:
        try:
            return eu.get_item(Key={"id": "c1"}).get("Item")
        except ClientError as exc:  # the table is not there yet
            assert exc.response["Error"]["Code"] == "ResourceNotFoundException", exc
            return None

    item = wait_until(replicated, REPLICATION_S, "the cart in eu-west", logs=[group.run])
    assert item == {"id": "c1", "items": Decimal(3)}
    described = group.client("eu-west").describe_table(TableName="carts")["Table"]
    regions = sorted(r["RegionName"] for r in described["Replicas"])
    assert regions == ["ap-south", "eu-west", "us-east"]
    ap = group.client("ap-south")
    wait_until(
        lambda: "carts" in ap.list_tables()["TableNames"],
        REPLICATION_S,
        "carts in ap-south",
        logs=[group.run],
    )
    ap.delete_table(TableName="carts")
    group.client("us-east").get_waiter("table_not_exists").wait(
        TableName="carts", WaiterConfig=waiting
    )
    wait_until(
        lambda: group.client("eu-west").list_tables()["TableNames"] == ["orders"],
        REPLICATION_S,
        "carts gone from eu-west",
        logs=[group.run],
    )
