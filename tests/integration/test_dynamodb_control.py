"""The DynamoDB door's control plane with boto3 against a real node: CreateTable (and its
waiters), DescribeTable as a global table, UpdateTable, tags, DeleteTable, and who may."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from meridian.security import access
from meridian.security.keystore import write_keys
from tests.integration.dynamodb_support import REGION, ServedNode, serving_node

WAIT = {"Delay": 0.1, "MaxAttempts": 50}
READ_WRITE = access.generate(access.Permission.READ_WRITE)
READ_ONLY = access.generate(access.Permission.READ_ONLY)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNode]:
    with serving_node(tmp_path_factory.mktemp("control")) as node:
        yield node


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def create(ddb: Any, name: str, **extra: Any) -> dict[str, Any]:
    answer: dict[str, Any] = ddb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "id", "KeyType": "HASH"},
            {"AttributeName": "at", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "at", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    return answer


def test_create_write_describe_delete_and_create_again(served: ServedNode) -> None:
    ddb = served.client()
    made = create(ddb, "carts", Tags=[{"Key": "team", "Value": "shop"}])["TableDescription"]
    assert made["TableName"] == "carts" and made["TableStatus"] == "ACTIVE"
    ddb.get_waiter("table_exists").wait(TableName="carts", WaiterConfig=WAIT)
    table = served.resource().Table("carts")
    table.put_item(
        Item={"id": "c1", "at": 1, "n": 1}, ConditionExpression="attribute_not_exists(id)"
    )
    described = ddb.describe_table(TableName="carts")["Table"]
    assert described["GlobalTableVersion"] == "2019.11.21"
    assert described["Replicas"] == [{"RegionName": REGION, "ReplicaStatus": "ACTIVE"}]
    assert described["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert described["KeySchema"][1] == {"AttributeName": "at", "KeyType": "RANGE"}
    assert "carts" in ddb.list_tables()["TableNames"]
    with pytest.raises(ClientError) as again:
        create(ddb, "carts")
    assert code(again) == "ResourceInUseException"
    arn = described["TableArn"]
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "shop"}]

    deleted = ddb.delete_table(TableName="carts")["TableDescription"]
    assert deleted["TableStatus"] == "DELETING"
    ddb.get_waiter("table_not_exists").wait(TableName="carts", WaiterConfig=WAIT)
    with pytest.raises(ClientError) as missing:
        ddb.delete_table(TableName="carts")
    assert code(missing) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as gone:
        table.get_item(Key={"id": "c1", "at": 1})
    assert code(gone) == "ResourceNotFoundException"

    create(ddb, "carts")
    assert table.scan()["Items"] == []  # nothing of the deleted table comes back
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == []


def test_update_table_streams_and_replicas(served: ServedNode) -> None:
    ddb = served.client()
    create(ddb, "quiet", StreamSpecification={"StreamEnabled": False})
    assert "StreamSpecification" not in ddb.describe_table(TableName="quiet")["Table"]
    with pytest.raises(ClientError) as off:
        ddb.update_table(TableName="quiet", StreamSpecification={"StreamEnabled": False})
    assert code(off) == "ValidationException"
    updated = ddb.update_table(
        TableName="quiet",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )["TableDescription"]
    assert updated["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "KEYS_ONLY",
    }
    with pytest.raises(ClientError) as on:
        ddb.update_table(
            TableName="quiet",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
        )
    assert "already has an enabled stream" in str(on.value)
    ddb.update_table(TableName="quiet", ReplicaUpdates=[{"Create": {"RegionName": REGION}}])
    for update in ({"Create": {"RegionName": "mars"}}, {"Delete": {"RegionName": REGION}}):
        with pytest.raises(ClientError) as refused:
            ddb.update_table(TableName="quiet", ReplicaUpdates=[update])
        assert code(refused) == "ValidationException"
        assert "every region of the group holds every table" in str(refused.value)


def test_tags(served: ServedNode) -> None:
    ddb = served.client()
    create(ddb, "tagged")
    arn = ddb.describe_table(TableName="tagged")["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    ddb.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(ClientError) as missing:
        ddb.list_tags_of_resource(ResourceArn=arn.replace("tagged", "nothing"))
    assert code(missing) == "ResourceNotFoundException"


def test_changing_tables_needs_a_read_write_key(tmp_path: pathlib.Path) -> None:
    credentials = tmp_path / "credentials.yaml"
    write_keys(credentials, {k.key_id: k for k in (READ_WRITE, READ_ONLY)})
    with serving_node(tmp_path / "data", credentials=credentials) as node:
        reader = node.client(key=READ_ONLY.key_id, secret=READ_ONLY.secret)
        with pytest.raises(ClientError) as refused:
            create(reader, "mine")
        assert code(refused) == "AccessDeniedException"
        assert "mine" not in reader.list_tables()["TableNames"]
        writer = node.client(key=READ_WRITE.key_id, secret=READ_WRITE.secret)
        create(writer, "mine")
        with pytest.raises(ClientError) as delete:
            reader.delete_table(TableName="mine")
        assert code(delete) == "AccessDeniedException"
        assert "mine" in reader.list_tables()["TableNames"]
