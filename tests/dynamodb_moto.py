"""Differential testing of the DynamoDB door against moto at the operation level.

A seeded generator makes a sequence of operations over a small key space, so that
conditions meet existing and missing items: PutItem, UpdateItem, DeleteItem with conditions
and ReturnValues; GetItem with projections; Query with key conditions, filters, Limit and
both directions, paged to the end; Scan with filters; BatchWriteItem, BatchGetItem;
TransactWriteItems, TransactGetItems; the legacy parameters Expected, AttributeUpdates,
KeyConditions, ScanFilter and AttributesToGet. Each operation goes through
boto3 to moto's in-process DynamoDB and to a real node's door over HTTP; results and error
codes must agree, and so must both tables at the end.

The expressions come from tests/expressions_moto.py, which avoids the cases where moto is
known to differ from DynamoDB (listed there). Beyond those, at the operation level:

* UpdateItem only on existing items (moto creates a key-only item for a REMOVE-only
  update of a missing item; DynamoDB creates nothing);
* ReturnValues ALL_NEW / ALL_OLD only (moto's UPDATED_* differ, see expressions_moto);
* Query pages are compared joined (moto and DynamoDB disagree on a LastEvaluatedKey when a
  page ends exactly at the last item); Scan results are compared as sets (the orders of
  moto and of Meridian's key encoding differ, and DynamoDB promises none);
* no QueryFilter (moto's, with KeyConditions, returns items twice or outside the key
  range; tests/integration/test_dynamodb_door.py checks it);
* AttributesToGet is compared on BatchGetItem only (moto ignores it in GetItem, Query and
  Scan and returns whole items);
* moto's `SET a = b` makes a and b share one value, which a later update of either changes
  in both: after each UpdateItem the item is written back to moto, unshared;
* a refused UpdateItem leaves the item as it was (DynamoDB's rule, checked on our side);
  moto may have applied the actions before the failing one, and gets the item put back;
* error messages are not compared here, only codes (expressions_moto compares the trusted
  ones).
"""

from __future__ import annotations

import random
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from tests.expressions_moto import KEY, Case, Generator, Outcome, canonical_item
from tests.expressions_moto import disagreement as expression_disagreement

TABLE = "diff"  # partition key only: the expression generator's items
QUERY_TABLE = "diffq"  # partition and number sort key: queries and scans
SORT = "sk"
KEYS = [f"k{i}" for i in range(6)]
PARTITIONS = ["p0", "p1"]
SORTS = range(12)

TABLE_DEFINITIONS = [
    {
        "TableName": TABLE,
        "KeySchema": [{"AttributeName": KEY, "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": KEY, "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    },
    {
        "TableName": QUERY_TABLE,
        "KeySchema": [
            {"AttributeName": KEY, "KeyType": "HASH"},
            {"AttributeName": SORT, "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": KEY, "AttributeType": "S"},
            {"AttributeName": SORT, "AttributeType": "N"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
    },
]


def moto_client() -> AbstractContextManager[Any]:
    """moto's DynamoDB with both tables, in process."""
    import contextlib

    import boto3
    from moto import mock_aws

    @contextlib.contextmanager
    def running() -> Any:
        with mock_aws():
            client = boto3.client(
                "dynamodb",
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",
            )
            for definition in TABLE_DEFINITIONS:
                client.create_table(**definition)
            yield client

    return running()


@dataclass
class Operation:
    """One request: the boto3 method, its arguments, and the case its expressions came
    from (for the expression engine's known differences)."""

    method: str
    kwargs: dict[str, Any]
    case: Case | None = None
    pages: bool = False  # a Query: follow LastEvaluatedKey to the end
    unordered: bool = False  # a Scan: compare items as a set

    @property
    def key(self) -> dict[str, Any] | None:
        """The key a single-item write of TABLE names."""
        if self.method not in ("put_item", "update_item", "delete_item"):
            return None
        if self.kwargs["TableName"] != TABLE:
            return None
        return self.kwargs.get("Key") or {KEY: self.kwargs["Item"][KEY]}


@dataclass
class Report:
    operations: int = 0
    moto_failures: int = 0
    excused: int = 0  # outcomes that differ where moto is known to differ from DynamoDB
    disagreements: list[str] = field(default_factory=list)


class Sequence:
    """Operations that depend on the reference's current items (read from moto)."""

    def __init__(self, seed: int, reference: Any) -> None:
        self.rng = random.Random(seed)
        self.gen = Generator(seed)
        self.reference = reference

    def stored(self, key: str) -> dict[str, Any] | None:
        got = self.reference.get_item(TableName=TABLE, Key={KEY: {"S": key}})
        item: dict[str, Any] | None = got.get("Item")
        return item

    def next(self) -> Operation:
        roll = self.rng.random()
        if roll < 0.22:
            return self.put()
        if roll < 0.40:
            return self.update()
        if roll < 0.48:
            return self.delete()
        if roll < 0.54:
            return self.get()
        if roll < 0.66:
            return self.query()
        if roll < 0.71:
            return self.scan()
        if roll < 0.78:
            return self.batch_write()
        if roll < 0.83:
            return self.transaction()
        if roll < 0.87:
            return self.batch_get()
        if roll < 0.90:
            return self.transact_get()
        return self.legacy()

    def batch_get(self) -> Operation:
        keys = [
            {KEY: {"S": p}, SORT: {"N": str(n)}}
            for p, n in {(self.rng.choice(PARTITIONS), self.rng.choice(SORTS)) for _ in range(6)}
        ]
        request: dict[str, Any] = {"Keys": keys}
        roll = self.rng.random()
        if roll < 0.4:
            request["ProjectionExpression"] = f"{KEY}, {SORT}, v"
        elif roll < 0.7:
            request["AttributesToGet"] = [KEY, SORT, "t"]
        return Operation("batch_get_item", {"RequestItems": {QUERY_TABLE: request}})

    def transact_get(self) -> Operation:
        keys = self.rng.sample(KEYS, 3)
        items = [{"Get": {"TableName": TABLE, "Key": {KEY: {"S": key}}}} for key in keys]
        return Operation("transact_get_items", {"TransactItems": items})

    def legacy(self) -> Operation:
        """The legacy parameters, on the query table's simple items."""
        item = self._query_item()
        key = {KEY: item[KEY], SORT: item[SORT]}
        roll = self.rng.random()
        if roll < 0.25:
            expected = self.rng.choice(
                (
                    {"v": {"Exists": False}},
                    {"v": {"Value": {"N": "3"}}},
                    {"v": {"ComparisonOperator": "GE", "AttributeValueList": [{"N": "4"}]}},
                    {"t": {"ComparisonOperator": "NOT_NULL"}},
                )
            )
            kwargs = {"TableName": QUERY_TABLE, "Item": item, "Expected": expected}
            return Operation("put_item", kwargs)
        if roll < 0.5:
            updates = {
                "v": self.rng.choice(
                    ({"Action": "ADD", "Value": {"N": "2"}}, {"Action": "PUT", "Value": {"N": "1"}})
                ),
                "t": self.rng.choice(
                    ({"Action": "DELETE"}, {"Action": "PUT", "Value": {"S": "green"}})
                ),
            }
            kwargs = {
                "TableName": QUERY_TABLE,
                "Key": key,
                "AttributeUpdates": updates,
                "ReturnValues": "ALL_NEW",
            }
            return Operation("update_item", kwargs)
        if roll < 0.75:
            conditions: dict[str, Any] = {
                KEY: {"ComparisonOperator": "EQ", "AttributeValueList": [item[KEY]]}
            }
            if self.rng.random() < 0.6:
                conditions[SORT] = {
                    "ComparisonOperator": "BETWEEN",
                    "AttributeValueList": [{"N": "2"}, {"N": "8"}],
                }
            kwargs = {"TableName": QUERY_TABLE, "KeyConditions": conditions}
            return Operation("query", kwargs, pages=True)
        kwargs = {
            "TableName": QUERY_TABLE,
            "ScanFilter": {
                "t": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "g"}]}
            },
        }
        return Operation("scan", kwargs, unordered=True)

    def _expressions(self, case: Case, kwargs: dict[str, Any]) -> None:
        if case.names:
            kwargs["ExpressionAttributeNames"] = case.names
        if case.values:
            kwargs["ExpressionAttributeValues"] = case.values

    def put(self) -> Operation:
        key = self.rng.choice(KEYS)
        item = self.gen.item(key)
        stored = self.stored(key)
        kwargs: dict[str, Any] = {"TableName": TABLE, "Item": item, "ReturnValues": "ALL_OLD"}
        case = None
        if stored is not None and self.rng.random() < 0.6:
            case = Case("condition", stored)
            kwargs["ConditionExpression"] = self.gen.condition(case)
            self._expressions(case, kwargs)
        elif self.rng.random() < 0.4:
            kwargs["ConditionExpression"] = f"attribute_not_exists({KEY})"
        return Operation("put_item", kwargs, case)

    def update(self) -> Operation:
        existing = [(k, item) for k in KEYS if (item := self.stored(k)) is not None]
        if not existing:
            return self.put()
        key, stored = self.rng.choice(existing)
        case = Case("update", stored)
        case.update = self.gen.update(case)
        if self.rng.random() < 0.3:
            case.condition = self.gen.condition(case)
        kwargs: dict[str, Any] = {
            "TableName": TABLE,
            "Key": {KEY: {"S": key}},
            "UpdateExpression": case.update,
            "ReturnValues": "ALL_NEW",
        }
        if case.condition is not None:
            kwargs["ConditionExpression"] = case.condition
        self._expressions(case, kwargs)
        return Operation("update_item", kwargs, case)

    def delete(self) -> Operation:
        key = self.rng.choice(KEYS)
        stored = self.stored(key)
        kwargs: dict[str, Any] = {
            "TableName": TABLE,
            "Key": {KEY: {"S": key}},
            "ReturnValues": "ALL_OLD",
        }
        case = None
        if stored is not None and self.rng.random() < 0.5:
            case = Case("condition", stored)
            kwargs["ConditionExpression"] = self.gen.condition(case)
            self._expressions(case, kwargs)
        return Operation("delete_item", kwargs, case)

    def get(self) -> Operation:
        key = self.rng.choice(KEYS)
        stored = self.stored(key)
        kwargs: dict[str, Any] = {"TableName": TABLE, "Key": {KEY: {"S": key}}}
        if stored is not None:
            case = self.gen.case(key)
            if case.kind == "projection":
                case = Case("projection", stored)
                paths = [self.gen.path(case, indexes=False, item=stored)]
                kwargs["ProjectionExpression"] = paths[0]
                if case.names:
                    kwargs["ExpressionAttributeNames"] = case.names
        return Operation("get_item", kwargs)

    def _query_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            KEY: {"S": self.rng.choice(PARTITIONS)},
            SORT: {"N": str(self.rng.choice(SORTS))},
        }
        if self.rng.random() < 0.8:
            item["v"] = {"N": str(self.rng.randint(0, 9))}
        if self.rng.random() < 0.5:
            item["t"] = {"S": self.rng.choice(("red", "green", "blue"))}
        return item

    def query(self) -> Operation:
        values: dict[str, Any] = {":p": {"S": self.rng.choice(PARTITIONS)}}
        condition = f"{KEY} = :p"
        roll = self.rng.random()
        low, high = sorted(self.rng.sample(list(SORTS), 2))
        if roll < 0.5:
            op = self.rng.choice(("=", "<", "<=", ">", ">="))
            condition += f" AND {SORT} {op} :s"
            values[":s"] = {"N": str(low)}
        elif roll < 0.7:
            condition += f" AND {SORT} BETWEEN :lo AND :hi"
            values[":lo"], values[":hi"] = {"N": str(low)}, {"N": str(high)}
        kwargs: dict[str, Any] = {
            "TableName": QUERY_TABLE,
            "KeyConditionExpression": condition,
            "ScanIndexForward": self.rng.random() < 0.6,
        }
        if self.rng.random() < 0.5:
            kwargs["Limit"] = self.rng.randint(1, 5)
        if self.rng.random() < 0.4:
            kwargs["FilterExpression"] = "v >= :v OR attribute_exists(t)"
            values[":v"] = {"N": str(self.rng.randint(0, 9))}
        if self.rng.random() < 0.2:
            kwargs["Select"] = "COUNT"
        kwargs["ExpressionAttributeValues"] = values
        return Operation("query", kwargs, pages=True)

    def scan(self) -> Operation:
        kwargs: dict[str, Any] = {"TableName": self.rng.choice((TABLE, QUERY_TABLE))}
        if kwargs["TableName"] == QUERY_TABLE and self.rng.random() < 0.6:
            kwargs["FilterExpression"] = "contains(t, :t) AND v BETWEEN :lo AND :hi"
            kwargs["ExpressionAttributeValues"] = {
                ":t": {"S": self.rng.choice(("r", "e", "blue"))},
                ":lo": {"N": "2"},
                ":hi": {"N": "7"},
            }
        return Operation("scan", kwargs, unordered=True)

    def batch_write(self) -> Operation:
        writes = []
        seen: set[tuple[str, str]] = set()
        for _ in range(self.rng.randint(1, 8)):
            item = self._query_item()
            ident = (item[KEY]["S"], item[SORT]["N"])
            if ident in seen:
                continue
            seen.add(ident)
            if self.rng.random() < 0.75:
                writes.append({"PutRequest": {"Item": item}})
            else:
                key = {KEY: item[KEY], SORT: item[SORT]}
                writes.append({"DeleteRequest": {"Key": key}})
        return Operation("batch_write_item", {"RequestItems": {QUERY_TABLE: writes}})

    def transaction(self) -> Operation:
        first, second = self.rng.sample(KEYS, 2)
        put = {
            "Put": {
                "TableName": TABLE,
                "Item": self.gen.item(first),
                "ConditionExpression": f"attribute_not_exists({KEY})",
            }
        }
        check_kind = self.rng.choice(("attribute_exists", "attribute_not_exists"))
        check = {
            "ConditionCheck": {
                "TableName": TABLE,
                "Key": {KEY: {"S": second}},
                "ConditionExpression": f"{check_kind}({KEY})",
            }
        }
        items = [put, check]
        self.rng.shuffle(items)
        return Operation("transact_write_items", {"TransactItems": items})


# ---------------------------------------------------------------- outcomes


def outcome(client: Any, op: Operation) -> Outcome:
    """What one side made of an operation: an error code, or the canonical result."""
    try:
        if op.pages:
            return Outcome(result=_all_pages(client, op.kwargs))
        got = getattr(client, op.method)(**op.kwargs)
    except ClientError as error:
        reasons = error.response.get("CancellationReasons")
        codes = tuple(r["Code"] for r in reasons) if reasons else None
        return Outcome(error.response["Error"]["Code"], error.response["Error"]["Message"], codes)
    if op.unordered:
        return Outcome(result=(_by_key(got["Items"]), got["Count"]))
    if op.method == "batch_get_item":
        found = got["Responses"].get(QUERY_TABLE, [])
        return Outcome(result=(_by_key(found), got["UnprocessedKeys"]))
    if op.method == "transact_get_items":
        return Outcome(result=[canonical_item(r.get("Item", {})) for r in got["Responses"]])
    for member in ("Attributes", "Item"):
        if member in got:
            return Outcome(result=canonical_item(got[member]))
    return Outcome(result=None)


def _all_pages(client: Any, kwargs: dict[str, Any]) -> Any:
    items, count, start = [], 0, None
    for _ in range(100):
        page = client.query(**kwargs, **({"ExclusiveStartKey": start} if start else {}))
        items += [canonical_item(i) for i in page.get("Items", [])]
        count += page["Count"]
        start = page.get("LastEvaluatedKey")
        if start is None:
            return items, count
    raise AssertionError("more than 100 pages")


def disagreement(op: Operation, ours: Outcome, moto: Outcome) -> str | None:
    if op.case is not None:
        return expression_disagreement(op.case, ours, moto)
    if ours.error != moto.error or ours.result != moto.result:
        return f"ours {ours.error} {ours.result!r}\n  moto {moto.error} {moto.result!r}"
    return None


def _by_key(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Canonical items in key order (dicts and sets compare equal whatever their order)."""
    keyed = [(repr((i[KEY], i.get(SORT))), canonical_item(i)) for i in items]
    return [item for _, item in sorted(keyed, key=lambda pair: pair[0])]


def table_contents(client: Any) -> list[list[dict[str, Any]]]:
    return [_by_key(client.scan(TableName=table)["Items"]) for table in (TABLE, QUERY_TABLE)]


def run(seed: int, operations: int, ours: Any, moto: Any) -> Report:
    """`operations` generated operations on both sides; the disagreements."""
    sequence = Sequence(seed, moto)
    report = Report(operations)
    for index in range(operations):
        op = sequence.next()
        try:
            reference = outcome(moto, op)
        except Exception:  # moto itself failed (a moto bug): not a DynamoDB answer
            report.moto_failures += 1
            _resync(moto, ours)
            continue
        if op.method == "update_item" and op.key is not None:
            _put_back(moto, op.key, _item(moto, op.key))  # unshare moto's values
        before = _item(ours, op.key)
        got = outcome(ours, op)
        if got.error is not None and _item(ours, op.key) != before:
            report.disagreements.append(f"seed {seed} op {index}: {op}\n  refused, yet written")
        elif reference.error is not None and _item(moto, op.key) != before:
            _put_back(moto, op.key, before)  # moto applied part of a refused update
        problem = disagreement(op, got, reference)
        if problem is not None:
            report.disagreements.append(f"seed {seed} op {index}: {op}\n  {problem}")
        if (got.error, got.result) != (reference.error, reference.result):
            report.excused += problem is None  # a known difference of moto's
            _resync(moto, ours)
    if not report.disagreements and table_contents(ours) != table_contents(moto):
        report.disagreements.append(f"seed {seed}: the tables differ at the end")
    return report


def _item(client: Any, key: dict[str, Any] | None) -> dict[str, Any] | None:
    if key is None:
        return None
    item: dict[str, Any] | None = client.get_item(TableName=TABLE, Key=key).get("Item")
    return item


def _put_back(client: Any, key: dict[str, Any] | None, item: dict[str, Any] | None) -> None:
    if item is not None:
        client.put_item(TableName=TABLE, Item=item)
    elif key is not None:
        client.delete_item(TableName=TABLE, Key=key)


def _resync(moto: Any, ours: Any) -> None:
    """After a disagreement or a moto failure, ours starts again from moto's items."""
    for table, key_names in ((TABLE, (KEY,)), (QUERY_TABLE, (KEY, SORT))):
        for item in ours.scan(TableName=table)["Items"]:
            ours.delete_item(TableName=table, Key={k: item[k] for k in key_names})
        for item in moto.scan(TableName=table)["Items"]:
            ours.put_item(TableName=table, Item=item)
