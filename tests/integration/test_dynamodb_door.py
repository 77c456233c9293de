"""The DynamoDB door on a real node over real HTTP, driven by boto3 (client and resource):
every data-plane operation, DynamoDB's error shapes, and bad input refused at the door."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from tests.integration.dynamodb_support import ServedNode, serving_node


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNode]:
    with serving_node(tmp_path_factory.mktemp("door")) as node:
        yield node


@pytest.fixture(scope="module")
def ddb(served: ServedNode) -> Any:
    return served.client()


def code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_put_get_update_delete(ddb: Any) -> None:
    item = {"id": {"S": "a"}, "n": {"N": "1.50"}, "tags": {"SS": ["x", "y"]}, "b": {"B": b"\x00"}}
    assert "Attributes" not in ddb.put_item(TableName="things", Item=item)
    got = ddb.get_item(TableName="things", Key={"id": {"S": "a"}})["Item"]
    assert got["n"] == {"N": "1.5"} and got["b"] == {"B": b"\x00"}
    updated = ddb.update_item(
        TableName="things",
        Key={"id": {"S": "a"}},
        UpdateExpression="SET n = n + :one, #l = list_append(if_not_exists(#l, :empty), :l)",
        ConditionExpression="attribute_exists(id) AND contains(tags, :x)",
        ExpressionAttributeNames={"#l": "list"},
        ExpressionAttributeValues={
            ":one": {"N": "1"},
            ":empty": {"L": []},
            ":l": {"L": [{"NULL": True}, {"BOOL": False}, {"M": {"k": {"NS": ["1", "2"]}}}]},
            ":x": {"S": "x"},
        },
        ReturnValues="UPDATED_NEW",
    )
    assert updated["Attributes"]["n"] == {"N": "2.5"}
    assert len(updated["Attributes"]["list"]["L"]) == 3
    old = ddb.delete_item(TableName="things", Key={"id": {"S": "a"}}, ReturnValues="ALL_OLD")
    assert old["Attributes"]["n"] == {"N": "2.5"}
    assert "Item" not in ddb.get_item(TableName="things", Key={"id": {"S": "a"}})


def test_condition_failure_returns_the_item(ddb: Any) -> None:
    ddb.put_item(TableName="things", Item={"id": {"S": "c"}, "v": {"N": "1"}})
    with pytest.raises(ClientError) as failed:
        ddb.put_item(
            TableName="things",
            Item={"id": {"S": "c"}, "v": {"N": "2"}},
            ConditionExpression="attribute_not_exists(id)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert code(failed) == "ConditionalCheckFailedException"
    assert failed.value.response["Error"]["Message"] == "The conditional request failed"
    assert failed.value.response["Item"] == {"id": {"S": "c"}, "v": {"N": "1"}}
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_query_pages_and_scan(served: ServedNode, ddb: Any) -> None:
    table = served.resource().Table("events")
    with table.batch_writer() as batch:
        for i in range(30):
            batch.put_item(Item={"pk": "p", "sk": f"{i:03d}", "n": i})
    seen: list[str] = []
    start: dict[str, Any] | None = None
    while True:
        page = table.query(
            KeyConditionExpression=Key("pk").eq("p") & Key("sk").begins_with("0"),
            Limit=7,
            **({"ExclusiveStartKey": start} if start else {}),
        )
        seen += [item["sk"] for item in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if start is None:
            break
    assert seen == [f"{i:03d}" for i in range(30)]
    backwards = table.query(KeyConditionExpression=Key("pk").eq("p"), ScanIndexForward=False)
    assert backwards["Items"][0]["n"] == Decimal(29)
    count = ddb.query(
        TableName="events",
        KeyConditionExpression="pk = :p",
        FilterExpression="n >= :ten",
        ExpressionAttributeValues={":p": {"S": "p"}, ":ten": {"N": "10"}},
        Select="COUNT",
    )
    assert (count["Count"], count["ScannedCount"]) == (20, 30) and "Items" not in count
    scanned = [
        item
        for segment in range(3)
        for item in ddb.scan(TableName="events", Segment=segment, TotalSegments=3)["Items"]
    ]
    assert len(scanned) == 30


def test_batches(ddb: Any) -> None:
    writes = [{"PutRequest": {"Item": {"id": {"S": f"b{i}"}}}} for i in range(25)]
    assert ddb.batch_write_item(RequestItems={"things": writes})["UnprocessedItems"] == {}
    keys = [{"id": {"S": f"b{i}"}} for i in range(30)]
    got = ddb.batch_get_item(RequestItems={"things": {"Keys": keys}})
    assert len(got["Responses"]["things"]) == 25 and got["UnprocessedKeys"] == {}
    with pytest.raises(ClientError) as too_many:
        ddb.batch_write_item(RequestItems={"things": [*writes, writes[0]]})
    assert code(too_many) == "ValidationException"
    with pytest.raises(ClientError) as duplicates:
        ddb.batch_get_item(RequestItems={"things": {"Keys": [keys[0], keys[0]]}})
    assert "duplicates" in duplicates.value.response["Error"]["Message"]


def test_transactions(ddb: Any) -> None:
    ddb.put_item(TableName="things", Item={"id": {"S": "acct1"}, "balance": {"N": "100"}})
    ddb.put_item(TableName="things", Item={"id": {"S": "acct2"}, "balance": {"N": "0"}})

    def transfer(amount: str) -> None:
        ddb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": "things",
                        "Key": {"id": {"S": "acct1"}},
                        "UpdateExpression": "SET balance = balance - :a",
                        "ConditionExpression": "balance >= :a",
                        "ExpressionAttributeValues": {":a": {"N": amount}},
                    }
                },
                {
                    "Update": {
                        "TableName": "things",
                        "Key": {"id": {"S": "acct2"}},
                        "UpdateExpression": "SET balance = balance + :a",
                        "ExpressionAttributeValues": {":a": {"N": amount}},
                    }
                },
            ]
        )

    transfer("60")
    with pytest.raises(ClientError) as canceled:
        transfer("60")
    assert code(canceled) == "TransactionCanceledException"
    reasons = canceled.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["ConditionalCheckFailed", "None"]
    got = ddb.transact_get_items(
        TransactItems=[
            {"Get": {"TableName": "things", "Key": {"id": {"S": "acct1"}}}},
            {"Get": {"TableName": "things", "Key": {"id": {"S": "nobody"}}}},
        ]
    )["Responses"]
    assert got[0]["Item"]["balance"] == {"N": "40"} and got[1] == {}


def test_legacy_parameters(ddb: Any) -> None:
    ddb.put_item(
        TableName="things",
        Item={"id": {"S": "l"}, "v": {"N": "1"}},
        Expected={"id": {"Exists": False}},
    )
    ddb.update_item(
        TableName="things",
        Key={"id": {"S": "l"}},
        AttributeUpdates={"v": {"Action": "ADD", "Value": {"N": "2"}}},
    )
    got = ddb.get_item(TableName="things", Key={"id": {"S": "l"}}, AttributesToGet=["v"])
    assert got["Item"] == {"v": {"N": "3"}}
    for sk, v in ((1, 5), (2, 50), (3, 500), (4, 5000)):
        ddb.put_item(
            TableName="orders",
            Item={"pk": {"S": "legacy"}, "sk": {"N": str(sk)}, "v": {"N": str(v)}},
        )
    page = ddb.query(
        TableName="orders",
        KeyConditions={
            "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "legacy"}]},
            "sk": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "2"}, {"N": "4"}]},
        },
        QueryFilter={"v": {"ComparisonOperator": "LT", "AttributeValueList": [{"N": "1000"}]}},
        AttributesToGet=["sk"],
        ScanIndexForward=False,
    )
    assert (page["Items"], page["ScannedCount"]) == ([{"sk": {"N": "3"}}, {"sk": {"N": "2"}}], 3)
    with pytest.raises(ClientError) as mixed:
        ddb.get_item(
            TableName="things",
            Key={"id": {"S": "l"}},
            AttributesToGet=["v"],
            ProjectionExpression="v",
        )
    assert "Can not use both expression and non-expression" in str(mixed.value)


def test_tables(ddb: Any) -> None:
    names = ddb.list_tables()["TableNames"]
    assert "things" in names and names == sorted(names)
    first = ddb.list_tables(Limit=2)
    assert first["LastEvaluatedTableName"] == names[1]
    rest = ddb.list_tables(ExclusiveStartTableName=first["LastEvaluatedTableName"])
    assert first["TableNames"] + rest["TableNames"] == names
    table = ddb.describe_table(TableName="events")["Table"]
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert table["TableStatus"] == "ACTIVE" and table["LatestStreamArn"].endswith(
        table["LatestStreamLabel"]
    )
    with pytest.raises(ClientError) as missing:
        ddb.describe_table(TableName="nothing")
    assert code(missing) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as create:  # indexes are not there yet
        ddb.create_table(
            TableName="new",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by_id",
                    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
    assert code(create) == "ValidationException"


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda d: d.get_item(TableName="things", Key={"id": {"N": "1"}}), "ValidationException"),
        (
            lambda d: d.get_item(TableName="nothing", Key={"id": {"S": "1"}}),
            "ResourceNotFoundException",
        ),
        (
            lambda d: d.put_item(TableName="things", Item={"id": {"S": "x"}, "n": {"N": "1e400"}}),
            "ValidationException",
        ),
        (
            lambda d: d.update_item(
                TableName="things",
                Key={"id": {"S": "x"}},
                UpdateExpression="SET size = :v",
                ExpressionAttributeValues={":v": {"S": "v"}},
            ),
            "ValidationException",
        ),
        (
            lambda d: d.query(
                TableName="events",
                IndexName="byN",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": "p"}},
            ),
            "ValidationException",
        ),
    ],
)
def test_refusals(ddb: Any, call: Any, expected: str) -> None:
    with pytest.raises(ClientError) as refused:
        call(ddb)
    assert code(refused) == expected


def test_resource_layer(served: ServedNode) -> None:
    table = served.resource().Table("orders")
    table.put_item(Item={"pk": "r", "sk": 1, "price": Decimal("9.99"), "tags": {"a", "b"}})
    item = table.get_item(Key={"pk": "r", "sk": 1})["Item"]
    assert item["price"] == Decimal("9.99") and item["tags"] == {"a", "b"}


def test_batch_get_answers_at_most_16_mb_and_returns_the_rest_unprocessed(ddb: Any) -> None:
    big = "x" * (390 * 1024)
    writes = [
        {"PutRequest": {"Item": {"id": {"S": f"big{i}"}, "v": {"S": big}}}} for i in range(50)
    ]
    for start in range(0, 50, 10):  # 10 x 390 KB per request
        ddb.batch_write_item(RequestItems={"olds": writes[start : start + 10]})
    keys = [{"id": {"S": f"big{i}"}} for i in range(50)]
    got = ddb.batch_get_item(RequestItems={"olds": {"Keys": keys, "ProjectionExpression": "id, v"}})
    first = got["Responses"]["olds"]
    rest = got["UnprocessedKeys"]["olds"]
    assert 30 < len(first) < 50 and len(first) + len(rest["Keys"]) == 50
    assert rest["ProjectionExpression"] == "id, v"  # the request as it was, for the next call
    again = ddb.batch_get_item(RequestItems=got["UnprocessedKeys"])
    assert again["UnprocessedKeys"] == {}
    ids = {item["id"]["S"] for item in first + again["Responses"]["olds"]}
    assert ids == {f"big{i}" for i in range(50)}


def test_operations_not_served_say_why(ddb: Any) -> None:
    with pytest.raises(ClientError) as partiql:
        ddb.execute_statement(Statement="SELECT * FROM things")
    assert code(partiql) == "ValidationException" and "PartiQL" in str(partiql.value)
    with pytest.raises(ClientError) as backup:
        ddb.create_backup(TableName="things", BackupName="backup1")
    assert code(backup) == "ValidationException" and "backups" in str(backup.value)
    assert ddb.list_global_tables()["GlobalTables"] == []
    with pytest.raises(ClientError) as described:
        ddb.describe_global_table(GlobalTableName="things")
    assert code(described) == "GlobalTableNotFoundException"
