"""One real region node in process, driven over gRPC: items, queries, stream, replicated apply."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from decimal import Decimal
from typing import Any

import grpc
import pytest
from prometheus_client import CollectorRegistry

from meridian.model import hlc
from meridian.pb import node_pb2 as pb
from meridian.wire import errors, peer_token
from meridian.wire.channels import connect_async, connect_peer
from regionnode.local_writes import PutOp
from regionnode.node import Node, NodeSettings

DEADLINE_S = 30.0
Code = grpc.StatusCode


def spec(
    name: str,
    pk: str = "pk",
    sk: tuple[str, int] | None = None,
    view_type: int = pb.NEW_AND_OLD_IMAGES,
    retention_seconds: int = 86400,
) -> pb.TableSpec:
    out = pb.TableSpec(
        name=name,
        partition_key=pb.KeyAttribute(name=pk, type=pb.KEY_TYPE_S),
        view_type=view_type,
        retention_seconds=retention_seconds,
    )
    if sk is not None:
        out.sort_key.CopyFrom(pb.KeyAttribute(name=sk[0], type=sk[1]))
    return out


TABLES = [
    spec("orders", sk=("sk", pb.KEY_TYPE_N)),
    spec("users", pk="id", view_type=pb.KEYS_ONLY),
    spec("images", pk="id", view_type=pb.NEW_IMAGE),
    spec("olds", pk="id", view_type=pb.OLD_IMAGE),
    spec("short", pk="id", retention_seconds=1),
]


def run(body: Callable[[], Coroutine[Any, Any, None]], timeout: float = DEADLINE_S) -> None:
    """Run an async test body with a hard deadline."""

    async def bounded() -> None:
        await asyncio.wait_for(body(), timeout)

    asyncio.run(bounded())


# Every region these tests replicate from or to: the nodes' group.
MEMBERS = ("us", "eu", "ap", "fr", "sa", "af", "jp", "kr")


class Doors:
    """Both doors of a node in one object, as these tests call methods of each: the client
    door's stub first, the peer door's (with the region's token) for the rest."""

    def __init__(self, client: Any, peer: Any) -> None:
        self._client = client
        self._peer = peer

    def __getattr__(self, name: str) -> Any:
        if hasattr(self._client, name):
            return getattr(self._client, name)
        return getattr(self._peer, name)


@contextlib.asynccontextmanager
async def running_node(
    data_dir: pathlib.Path,
    *,
    region: str = "us",
    sync: bool = False,
    trim_interval_s: float = 10.0,
    max_clock_offset_ms: int = 5000,
) -> AsyncIterator[tuple[Node, Any]]:
    node = Node(
        NodeSettings(
            group="it",
            region=region,
            data_dir=data_dir,
            listen="127.0.0.1:0",
            peer_listen="127.0.0.1:0",
            sync=sync,
            tables=list(TABLES),
            trim_interval_s=trim_interval_s,
            peers=[r for r in MEMBERS if r != region],
            max_clock_offset_ms=max_clock_offset_ms,
        ),
        CollectorRegistry(),
    )
    await node.start()
    channel, client = connect_async(f"127.0.0.1:{node.port}")
    token = peer_token.read(data_dir)
    assert token is not None
    peer_channel, peer = connect_peer(f"127.0.0.1:{node.peer_port}", token)
    try:
        yield node, Doors(client, peer)
    finally:
        await channel.close()
        await peer_channel.close()
        await node.stop(grace=0.5)


# ---------------------------------------------------------------- values and requests


def av(value: Any) -> pb.AttributeValue:
    if isinstance(value, pb.AttributeValue):
        return value
    if isinstance(value, bool):
        return pb.AttributeValue(bool=value)
    if isinstance(value, str):
        return pb.AttributeValue(s=value)
    if isinstance(value, int | Decimal):
        return pb.AttributeValue(n=str(value))
    raise TypeError(value)


def N(text: str) -> pb.AttributeValue:
    return pb.AttributeValue(n=text)


def item(**attributes: Any) -> pb.Item:
    return pb.Item(attributes={k: av(v) for k, v in attributes.items()})


def order(pk: str, sk: Any, **rest: Any) -> pb.Item:
    return item(pk=pk, sk=N(str(sk)), **rest)


async def put(stub: Any, table: str, value: pb.Item, **kw: Any) -> pb.WriteResult:
    return await stub.PutItem(pb.PutItemRequest(table=table, item=value, **kw))


async def get(stub: Any, table: str, key: pb.Item) -> pb.GetItemResponse:
    return await stub.GetItem(pb.GetItemRequest(table=table, key=key))


NOT_EXISTS = "attribute_not_exists(pk)"
EXISTS = "attribute_exists(pk)"


async def update(
    stub: Any,
    key: pb.Item,
    expression: str | None,
    values: dict[str, pb.AttributeValue] | None = None,
    *,
    table: str = "orders",
    **kw: Any,
) -> pb.WriteResult:
    """UpdateItem with an UpdateExpression and its values (plus any other request field)."""
    request = pb.UpdateItemRequest(
        table=table, key=key, expression_attribute_values=values or {}, **kw
    )
    if expression is not None:
        request.update_expression = expression
    return await stub.UpdateItem(request)


def key_condition(pk: Any, sort: str = "", **values: Any) -> dict[str, Any]:
    """QueryRequest fields for `pk = :p` and an optional sort-key condition on sk."""
    text = "pk = :p" + (f" AND {sort}" if sort else "")
    return {
        "key_condition_expression": text,
        "expression_attribute_values": {
            ":p": av(pk),
            **{f":{k}": av(v) for k, v in values.items()},
        },
    }


async def head(stub: Any, table: str) -> int:
    return (await stub.DescribeStream(pb.DescribeStreamRequest(table=table))).head_sequence_number


async def digest(stub: Any, table: str) -> pb.DigestResponse:
    return await stub.Digest(pb.DigestRequest(table=table))


async def records(
    stub: Any, table: str, type_: int = pb.TRIM_HORIZON, seq: int = 0, limit: int = 0
) -> list[pb.StreamRecord]:
    it = await stub.GetShardIterator(
        pb.GetShardIteratorRequest(table=table, type=type_, sequence_number=seq)
    )
    resp = await stub.GetRecords(
        pb.GetRecordsRequest(shard_iterator=it.shard_iterator, limit=limit)
    )
    return list(resp.records)


async def expect_error(call: Awaitable[Any], code: grpc.StatusCode, *parts: str) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == code, info.value.details()
    details = info.value.details() or ""
    for part in parts:
        assert part in details, (part, details)
    return details


async def expect_condition_failed(call: Awaitable[Any], *parts: str) -> pb.ConditionCheckFailure:
    """The call fails with CONDITION_FAILED; the ConditionCheckFailure it carries."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() == Code.FAILED_PRECONDITION, info.value.details()
    assert errors.reason_of(info.value) == errors.Reason.CONDITION_FAILED
    details = info.value.details() or ""
    assert details.startswith("condition failed: "), details
    for part in parts:
        assert part in details, (part, details)
    failure = errors.detail_of(info.value, pb.ConditionCheckFailure)
    assert failure is not None
    return failure


def sk_of(value: pb.Item) -> Decimal:
    return Decimal(value.attributes["sk"].n)


def keys_of(items: Any) -> list[tuple[str, Decimal]]:
    return [(i.attributes["pk"].s, sk_of(i)) for i in items]


# ---------------------------------------------------------------- item writes


def test_put_get_update_delete_with_conditions_and_return_values(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            key = order("a", 1)
            first = await put(
                stub, "orders", order("a", 1, v="one"), condition_expression=NOT_EXISTS
            )
            assert first.changed and first.version.region == "us" and first.version.hlc > 0
            assert not first.HasField("attributes")
            await expect_condition_failed(
                put(stub, "orders", order("a", 1, v="x"), condition_expression=NOT_EXISTS),
                "the item exists",
            )
            got = await get(stub, "orders", key)
            assert got.found and got.item == order("a", 1, v="one") and got.version == first.version

            second = await put(stub, "orders", order("a", 1, v="two"), return_values=pb.ALL_OLD)
            assert second.attributes == order("a", 1, v="one")
            assert second.version.hlc > first.version.hlc

            # expected_version: a stale version fails and changes nothing; the current one passes
            await expect_condition_failed(
                update(stub, key, "SET v = :x", {":x": av("x")}, expected_version=first.version),
                "version is",
            )
            third = await update(
                stub,
                key,
                "SET v = :v ADD #count :five",
                {":v": av("three"), ":five": N("5")},
                expression_attribute_names={"#count": "count"},
                expected_version=second.version,
                return_values=pb.ALL_NEW,
            )
            assert third.changed and third.version.hlc > second.version.hlc
            assert third.attributes == order("a", 1, v="three", count=N("5"))

            await expect_condition_failed(
                update(stub, key, "REMOVE v", {":two": av("two")}, condition_expression="v = :two"),
                "the item exists",
            )
            fourth = await update(stub, key, "REMOVE v", return_values=pb.ALL_OLD)
            assert fourth.attributes == order("a", 1, v="three", count=N("5"))
            assert (await get(stub, "orders", key)).item == order("a", 1, count=N("5"))

            await expect_condition_failed(
                stub.DeleteItem(
                    pb.DeleteItemRequest(
                        table="orders", key=order("zz", 1), condition_expression=EXISTS
                    )
                ),
                "no item",
            )
            deleted = await stub.DeleteItem(
                pb.DeleteItemRequest(table="orders", key=key, return_values=pb.ALL_OLD)
            )
            assert deleted.changed and deleted.version.hlc > fourth.version.hlc
            assert deleted.attributes == order("a", 1, count=N("5"))
            assert not (await get(stub, "orders", key)).found

            # an update of a missing (here: deleted) item creates it from the key
            created = await update(
                stub,
                key,
                "SET v = :new",
                {":new": av("new")},
                condition_expression=NOT_EXISTS,
                return_values=pb.ALL_NEW,
            )
            assert created.attributes == order("a", 1, v="new")

            versions = [r.version.hlc for r in await records(stub, "orders")]
            assert len(versions) == 6  # put, put, update, update, delete, update
            assert versions == sorted(versions) and len(set(versions)) == 6

    run(body)


def test_unchanged_writes_emit_nothing(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            written = await put(stub, "orders", order("a", 1, price=N("1.50")))
            start = await head(stub, "orders")
            # the same item, numbers spelled differently: nothing changes
            same = await put(
                stub, "orders", order("a", "1.0", price=N("1.5")), return_values=pb.ALL_OLD
            )
            assert not same.changed
            assert same.attributes == order("a", 1, price=N("1.5"))
            noop = await update(stub, order("a", 1), "SET price = :p", {":p": N("1.500")})
            assert not noop.changed and noop.version == written.version
            got = await get(stub, "orders", order("a", 1))
            assert got.version == written.version
            assert await head(stub, "orders") == start

            before = await digest(stub, "orders")
            missing = await stub.DeleteItem(
                pb.DeleteItemRequest(table="orders", key=order("zz", 9))
            )
            assert not missing.changed and not missing.HasField("version")
            assert await head(stub, "orders") == start
            after = await digest(stub, "orders")
            assert after == before and after.tombstones == 0

            await stub.DeleteItem(pb.DeleteItemRequest(table="orders", key=order("a", 1)))
            tomb = await digest(stub, "orders")
            again = await stub.DeleteItem(pb.DeleteItemRequest(table="orders", key=order("a", 1)))
            assert not again.changed
            assert await head(stub, "orders") == start + 1
            assert await digest(stub, "orders") == tomb

    run(body)


def test_tombstones_are_never_read(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            for sk in range(10):
                await put(stub, "orders", order("p", sk, v=sk))
            for sk in (0, 3, 4, 9):
                await stub.DeleteItem(pb.DeleteItemRequest(table="orders", key=order("p", sk)))
            live = [1, 2, 5, 6, 7, 8]
            assert (await digest(stub, "orders")).tombstones == 4
            for sk in (0, 3, 4, 9):
                assert not (await get(stub, "orders", order("p", sk))).found
            q = await stub.Query(pb.QueryRequest(table="orders", **key_condition("p")))
            assert [int(sk_of(i)) for i in q.items] == live
            s = await stub.Scan(pb.ScanRequest(table="orders"))
            assert [int(sk_of(i)) for i in s.items] == live
            bg = await stub.BatchGetItem(
                pb.BatchGetItemRequest(table="orders", keys=[order("p", sk) for sk in range(10)])
            )
            assert sorted(int(sk_of(i)) for i in bg.items) == live
            # pages step over tombstones without returning them
            seen: list[int] = []
            start: pb.Item | None = None
            for _ in range(20):
                req = pb.QueryRequest(table="orders", limit=2, **key_condition("p"))
                if start is not None:
                    req.exclusive_start_key.CopyFrom(start)
                page = await stub.Query(req)
                seen += [int(sk_of(i)) for i in page.items]
                if not page.HasField("last_evaluated_key"):
                    break
                start = page.last_evaluated_key
            assert seen == live
            desc = await stub.DescribeTable(pb.DescribeTableRequest(table="orders"))
            assert desc.table.approximate_item_count == len(live)

    run(body)


# ---------------------------------------------------------------- queries and scans


SORT_VALUES = [
    "-1E+10",
    "-100",
    "-10.5",
    "-10",
    "-2",
    "-1.5",
    "-1",
    "-0.5",
    "-0.001",
    "0",
    "0.001",
    "0.25",
    "1",
    "1.5",
    "2",
    "9.99",
    "10",
    "10.5",
    "100",
    "1E+3",
    "1E+10",
]


async def query_pages(stub: Any, req: pb.QueryRequest) -> list[pb.Item]:
    out: list[pb.Item] = []
    for _ in range(100):
        page = await stub.Query(req)
        out += page.items
        if not page.HasField("last_evaluated_key"):
            return out
        req.exclusive_start_key.CopyFrom(page.last_evaluated_key)
    raise AssertionError("query did not finish in 100 pages")


def test_query_orders_numbers_and_paginates(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            shuffled = SORT_VALUES[:]
            random.Random(5).shuffle(shuffled)
            for sk in shuffled:
                await put(stub, "orders", order("p", sk))
                await put(stub, "orders", order("p0", sk))  # neighbouring partitions
                await put(stub, "orders", order("q", sk))
            ascending = sorted(Decimal(v) for v in SORT_VALUES)

            q = await stub.Query(pb.QueryRequest(table="orders", **key_condition("p")))
            assert [sk_of(i) for i in q.items] == ascending
            assert {i.attributes["pk"].s for i in q.items} == {"p"}
            back = await stub.Query(
                pb.QueryRequest(table="orders", scan_index_forward=False, **key_condition("p"))
            )
            assert [sk_of(i) for i in back.items] == ascending[::-1]
            forward = await stub.Query(
                pb.QueryRequest(table="orders", scan_index_forward=True, **key_condition("p"))
            )
            assert [sk_of(i) for i in forward.items] == ascending

            cases: list[tuple[dict[str, Any], Callable[[Decimal], bool]]] = [
                (key_condition("p"), lambda d: True),
                (key_condition("p", "sk = :a", a=N("-10.50")), lambda d: d == Decimal("-10.5")),
                (key_condition("p", "sk < :a", a=N("-1")), lambda d: d < -1),
                (key_condition("p", "sk <= :a", a=N("0")), lambda d: d <= 0),
                (key_condition("p", "sk > :a", a=N("1")), lambda d: d > 1),
                (key_condition("p", ":a <= sk", a=N("-0.5")), lambda d: d >= Decimal("-0.5")),
                (
                    key_condition("p", "sk BETWEEN :a AND :b", a=N("-10"), b=N("10")),
                    lambda d: -10 <= d <= 10,
                ),
            ]
            for fields, keep in cases:
                expected = [d for d in ascending if keep(d)]
                for forward_ in (True, False):
                    for limit in (0, 1, 3):
                        req = pb.QueryRequest(
                            table="orders", scan_index_forward=forward_, limit=limit, **fields
                        )
                        got = [sk_of(i) for i in await query_pages(stub, req)]
                        want = expected if forward_ else expected[::-1]
                        assert got == want, (fields, forward_, limit)

            refused = [
                (
                    key_condition("p", "sk BETWEEN :a AND :b", a=N("2"), b=N("1")),
                    "BETWEEN operator requires upper bound to be greater than or equal",
                ),
                (
                    key_condition("p", "begins_with(sk, :a)", a=N("1")),
                    "operator or function: begins_with, operand type: N",
                ),
                ({}, "KeyConditionExpression parameter must be specified"),
                (key_condition(N("1")), "Condition parameter type does not match schema type"),
                (key_condition("p", "v = :a", a=N("1")), "missed key schema element: sk"),
            ]
            for fields, message in refused:
                await expect_error(
                    stub.Query(pb.QueryRequest(table="orders", **fields)),
                    Code.INVALID_ARGUMENT,
                    message,
                )

    run(body)


async def scan_all(stub: Any, limit: int, segment: int = 0, total: int = 0) -> list[pb.Item]:
    out: list[pb.Item] = []
    req = pb.ScanRequest(table="orders", limit=limit, segment=segment, total_segments=total)
    for _ in range(1000):
        page = await stub.Scan(req)
        out += page.items
        if not page.HasField("last_evaluated_key"):
            return out
        req.exclusive_start_key.CopyFrom(page.last_evaluated_key)
    raise AssertionError("scan did not finish in 1000 pages")


def test_scan_pages_and_segments_partition_the_table(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            writes = [
                pb.WriteRequest(put=order(f"p{p:02d}", sk, v="x"))
                for p in range(40)
                for sk in range(5)
            ]
            await stub.BatchWriteItem(pb.BatchWriteItemRequest(table="orders", writes=writes))
            for p in range(0, 40, 7):
                await stub.DeleteItem(
                    pb.DeleteItemRequest(table="orders", key=order(f"p{p:02d}", 2))
                )
            expected = sorted(
                (f"p{p:02d}", Decimal(sk))
                for p in range(40)
                for sk in range(5)
                if not (p % 7 == 0 and sk == 2)
            )
            for limit in (0, 1, 7, 50):
                got = keys_of(await scan_all(stub, limit))
                assert got == expected, limit  # every item once, in key order

            total = 4
            segments = [keys_of(await scan_all(stub, 6, s, total)) for s in range(total)]
            union = [k for seg in segments for k in seg]
            assert sorted(union) == expected  # union is everything, no item twice
            assert all(segments), "some segment is empty"
            owner = {pk: s for s, seg in enumerate(segments) for pk, _ in seg}
            for s, seg in enumerate(segments):
                assert all(owner[pk] == s for pk, _ in seg)  # partitions are never split

            await expect_error(
                stub.Scan(pb.ScanRequest(table="orders", segment=4, total_segments=4)),
                Code.INVALID_ARGUMENT,
                "Segment: 4 is not less than TotalSegments: 4",
            )

    run(body)


# ---------------------------------------------------------------- batches


def test_batch_write_and_batch_get(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            writes = [pb.WriteRequest(put=order("b", i, v=i)) for i in range(1000)]
            resp = await stub.BatchWriteItem(
                pb.BatchWriteItemRequest(table="orders", writes=writes)
            )
            stamps = [v.hlc for v in resp.versions]
            assert len(stamps) == 1000 and len(set(stamps)) == 1000
            assert stamps == sorted(stamps)
            assert {v.region for v in resp.versions} == {"us"}
            assert await head(stub, "orders") == 1000
            assert (await digest(stub, "orders")).items == 1000

            await expect_error(
                stub.BatchWriteItem(
                    pb.BatchWriteItemRequest(
                        table="orders",
                        writes=[pb.WriteRequest(put=order("c", i)) for i in range(1001)],
                    )
                ),
                Code.INVALID_ARGUMENT,
                "writes: expected 1 to 1000",
            )
            before = await digest(stub, "orders")
            duplicate = [
                pb.WriteRequest(put=order("c", 1)),
                pb.WriteRequest(put=order("c", 2)),
                pb.WriteRequest(delete_key=order("c", "1.0")),  # the same key, spelled differently
            ]
            await expect_error(
                stub.BatchWriteItem(pb.BatchWriteItemRequest(table="orders", writes=duplicate)),
                Code.INVALID_ARGUMENT,
                "writes[2]",
                "already writes this key",
            )
            assert await head(stub, "orders") == 1000
            assert await digest(stub, "orders") == before

            mixed = [
                pb.WriteRequest(delete_key=order("b", 0)),
                pb.WriteRequest(delete_key=order("b", 5000)),  # missing: no change
                pb.WriteRequest(put=order("b", 1, v=1)),  # unchanged
                pb.WriteRequest(put=order("b", 2, v="changed")),
            ]
            resp = await stub.BatchWriteItem(pb.BatchWriteItemRequest(table="orders", writes=mixed))
            assert [v.hlc > 0 for v in resp.versions] == [True, False, False, True]
            assert await head(stub, "orders") == 1002

            got = await stub.BatchGetItem(
                pb.BatchGetItemRequest(
                    table="orders",
                    keys=[
                        order("b", 0),
                        order("b", 1),
                        order("b", 2),
                        order("b", 5000),
                        order("b", 999),
                    ],
                )
            )
            assert sorted(keys_of(got.items)) == [("b", 1), ("b", 2), ("b", 999)]
            assert next(i for i in got.items if sk_of(i) == 2).attributes["v"].s == "changed"
            await expect_error(
                stub.BatchGetItem(
                    pb.BatchGetItemRequest(
                        table="orders", keys=[order("b", i) for i in range(1001)]
                    )
                ),
                Code.INVALID_ARGUMENT,
                "keys: at most 1000",
            )
            await expect_error(
                stub.BatchGetItem(
                    pb.BatchGetItemRequest(table="orders", keys=[item(pk="b", sk=N("1"), v="x")])
                ),
                Code.INVALID_ARGUMENT,
                "'v'",
            )

    run(body)


BIG = "x" * (400 * 1024)

INVALID = [
    ("sort key missing", "PutItem", pb.PutItemRequest(table="orders", item=item(pk="a")), "'sk'"),
    (
        "partition key of the wrong type",
        "PutItem",
        pb.PutItemRequest(table="orders", item=item(pk=N("1"), sk=N("1"))),
        "'pk'",
    ),
    (
        "empty partition key",
        "PutItem",
        pb.PutItemRequest(table="orders", item=item(pk="", sk=N("1"))),
        "'pk'",
    ),
    (
        "invalid number",
        "PutItem",
        pb.PutItemRequest(table="orders", item=order("a", 1, price=N("1.2.3"))),
        "'price'",
    ),
    (
        "NULL false",
        "PutItem",
        pb.PutItemRequest(table="orders", item=order("a", 1, gone=pb.AttributeValue(null=False))),
        "'gone'",
    ),
    (
        "duplicate set members",
        "PutItem",
        pb.PutItemRequest(
            table="orders",
            item=order("a", 1, tags=pb.AttributeValue(ss=pb.StringSet(values=["x", "x"]))),
        ),
        "'tags'",
    ),
    (
        "oversized item",
        "PutItem",
        pb.PutItemRequest(table="orders", item=order("a", 1, blob=BIG)),
        "exceeds",
    ),
    (
        "extra attribute in a key",
        "DeleteItem",
        pb.DeleteItemRequest(table="orders", key=order("a", 1, v="x")),
        "'v'",
    ),
    (
        "updating a key attribute",
        "UpdateItem",
        pb.UpdateItemRequest(
            table="orders",
            key=order("a", 1),
            update_expression="SET sk = :v",
            expression_attribute_values={":v": N("2")},
        ),
        "Cannot update attribute sk. This attribute is part of the key",
    ),
    (
        "an empty update expression",
        "UpdateItem",
        pb.UpdateItemRequest(table="orders", key=order("a", 1), update_expression=""),
        "Invalid UpdateExpression: The expression can not be empty",
    ),
    (
        "a syntax error in a condition",
        "PutItem",
        pb.PutItemRequest(
            table="orders", item=order("a", 1, v="x"), condition_expression="v = = :v"
        ),
        "Invalid ConditionExpression: Syntax error",
    ),
    (
        "an undefined value placeholder",
        "DeleteItem",
        pb.DeleteItemRequest(table="orders", key=order("a", 1), condition_expression="v = :v"),
        "attribute value used in expression is not defined; attribute value: :v",
    ),
    (
        "an unused name",
        "PutItem",
        pb.PutItemRequest(
            table="orders",
            item=order("a", 1, v="x"),
            condition_expression="attribute_exists(v)",
            expression_attribute_names={"#unused": "v"},
        ),
        "unused in expressions: keys: {#unused}",
    ),
    (
        "UPDATED_NEW on a put",
        "PutItem",
        pb.PutItemRequest(table="orders", item=order("a", 1, v="x"), return_values=pb.UPDATED_NEW),
        "ReturnValues can only be ALL_OLD or NONE",
    ),
    (
        "an operand of the wrong type, found in the stored item",
        "UpdateItem",
        pb.UpdateItemRequest(
            table="orders",
            key=order("a", 1),
            update_expression="SET v = v + :one",
            expression_attribute_values={":one": N("1")},
        ),
        "An operand in the update expression has an incorrect data type",
    ),
    (
        "one bad item in a batch",
        "BatchWriteItem",
        pb.BatchWriteItemRequest(
            table="orders",
            writes=[
                pb.WriteRequest(put=order("a", 1)),
                pb.WriteRequest(put=order("a", 2)),
                pb.WriteRequest(put=order("a", 3)),
                pb.WriteRequest(put=item(pk="a", sk="3")),
            ],
        ),
        "writes[3]",
    ),
]


def test_malformed_writes_are_refused_and_change_nothing(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            await put(stub, "orders", order("a", 1, v="keep"))
            start = await head(stub, "orders")
            before = await digest(stub, "orders")
            for case, method, request, part in INVALID:
                details = await expect_error(
                    getattr(stub, method)(request), Code.INVALID_ARGUMENT, part
                )
                assert details, case
                assert await head(stub, "orders") == start, case
                assert await digest(stub, "orders") == before, case

    run(body)


def test_unknown_table_is_not_found(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            calls = [
                stub.PutItem(pb.PutItemRequest(table="nope", item=item(pk="a"))),
                stub.GetItem(pb.GetItemRequest(table="nope", key=item(pk="a"))),
                stub.DeleteItem(pb.DeleteItemRequest(table="nope", key=item(pk="a"))),
                stub.Query(pb.QueryRequest(table="nope", **key_condition("a"))),
                stub.Scan(pb.ScanRequest(table="nope")),
                stub.BatchGetItem(pb.BatchGetItemRequest(table="nope", keys=[item(pk="a")])),
                stub.DescribeStream(pb.DescribeStreamRequest(table="nope")),
                stub.GetShardIterator(pb.GetShardIteratorRequest(table="nope", type=pb.LATEST)),
                stub.ApplyReplicated(pb.ApplyReplicatedRequest(table="nope", origin="eu")),
                stub.Digest(pb.DigestRequest(table="nope")),
            ]
            for call in calls:
                await expect_error(call, Code.NOT_FOUND, "'nope'")

    run(body)


# ---------------------------------------------------------------- stream


def test_iterators_and_get_records(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            await put(stub, "orders", order("a", 1, v=1))  # 1 INSERT
            await put(stub, "orders", order("a", 1, v=2))  # 2 MODIFY
            await put(stub, "orders", order("b", 1, v=1))  # 3 INSERT
            await stub.DeleteItem(pb.DeleteItemRequest(table="orders", key=order("a", 1)))  # 4
            await put(stub, "orders", order("a", 1, v=3))  # 5 INSERT again
            stream = await stub.DescribeStream(pb.DescribeStreamRequest(table="orders"))
            assert (stream.head_sequence_number, stream.trim_sequence_number) == (5, 1)
            assert len(stream.shards) == 1

            every = await records(stub, "orders")
            assert [r.sequence_number for r in every] == [1, 2, 3, 4, 5]
            assert [r.event_name for r in every] == [
                pb.INSERT,
                pb.MODIFY,
                pb.INSERT,
                pb.REMOVE,
                pb.INSERT,
            ]
            assert len({r.event_id for r in every}) == 5
            assert all(r.version.region == "us" and r.table == "orders" for r in every)
            assert all(r.keys == order("a" if r.sequence_number != 3 else "b", 1) for r in every)
            assert every[1].old_image == order("a", 1, v=1) and every[1].new_image == order(
                "a", 1, v=2
            )
            assert every[3].old_image == order("a", 1, v=2) and not every[3].HasField("new_image")
            versions = [r.version.hlc for r in every]
            assert versions == sorted(versions)
            got = await get(stub, "orders", order("a", 1))
            assert got.version == every[4].version

            assert [
                r.sequence_number for r in await records(stub, "orders", pb.AT_SEQUENCE_NUMBER, 3)
            ] == [3, 4, 5]
            assert [
                r.sequence_number
                for r in await records(stub, "orders", pb.AFTER_SEQUENCE_NUMBER, 3)
            ] == [4, 5]
            assert await records(stub, "orders", pb.AFTER_SEQUENCE_NUMBER, 5) == []
            latest = await stub.GetShardIterator(
                pb.GetShardIteratorRequest(
                    table="orders", shard_id=stream.shards[0].shard_id, type=pb.LATEST
                )
            )
            empty = await stub.GetRecords(
                pb.GetRecordsRequest(shard_iterator=latest.shard_iterator)
            )
            assert not empty.records
            await put(stub, "orders", order("c", 1))
            after = await stub.GetRecords(
                pb.GetRecordsRequest(shard_iterator=empty.next_shard_iterator)
            )
            assert [r.sequence_number for r in after.records] == [6]

            # limit and next iterator walk the stream in order, each record once
            it = (
                await stub.GetShardIterator(
                    pb.GetShardIteratorRequest(table="orders", type=pb.TRIM_HORIZON)
                )
            ).shard_iterator
            walked: list[int] = []
            for _ in range(10):
                page = await stub.GetRecords(pb.GetRecordsRequest(shard_iterator=it, limit=2))
                assert len(page.records) <= 2
                if not page.records:
                    break
                walked += [r.sequence_number for r in page.records]
                it = page.next_shard_iterator
            assert walked == [1, 2, 3, 4, 5, 6]

            await expect_error(
                stub.GetShardIterator(
                    pb.GetShardIteratorRequest(
                        table="orders", type=pb.AT_SEQUENCE_NUMBER, sequence_number=8
                    )
                ),
                Code.INVALID_ARGUMENT,
                "beyond the stream head",
            )
            await expect_error(  # not "trimmed": that would send a reader into a resync
                stub.GetShardIterator(
                    pb.GetShardIteratorRequest(
                        table="orders", type=pb.AT_SEQUENCE_NUMBER, sequence_number=0
                    )
                ),
                Code.INVALID_ARGUMENT,
                "sequence_number",
            )
            assert [
                r.sequence_number
                for r in await records(stub, "orders", pb.AFTER_SEQUENCE_NUMBER, 0)
            ] == [1, 2, 3, 4, 5, 6]
            await expect_error(
                stub.GetShardIterator(
                    pb.GetShardIteratorRequest(table="orders", shard_id="shardId-x", type=pb.LATEST)
                ),
                Code.NOT_FOUND,
                "shardId-x",
            )
            await expect_error(
                stub.GetShardIterator(pb.GetShardIteratorRequest(table="orders")),
                Code.INVALID_ARGUMENT,
                "type",
            )
            await expect_error(
                stub.GetRecords(pb.GetRecordsRequest(shard_iterator=it, limit=1001)),
                Code.INVALID_ARGUMENT,
                "limit",
            )
            await expect_error(
                stub.GetRecords(pb.GetRecordsRequest(shard_iterator="not an iterator")),
                Code.INVALID_ARGUMENT,
                "shard_iterator",
            )

    run(body)


def test_view_types_strip_images(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            for table in ("users", "images", "olds"):
                await put(stub, table, item(id="u", v=1))
                await put(stub, table, item(id="u", v=2))
                await stub.DeleteItem(pb.DeleteItemRequest(table=table, key=item(id="u")))
            shown = {}
            for table in ("users", "images", "olds"):
                recs = await records(stub, table)
                assert [r.event_name for r in recs] == [pb.INSERT, pb.MODIFY, pb.REMOVE]
                assert all(r.keys == item(id="u") for r in recs)
                shown[table] = [(r.HasField("new_image"), r.HasField("old_image")) for r in recs]
            assert shown["users"] == [(False, False)] * 3
            assert shown["images"] == [(True, False), (True, False), (False, False)]
            assert shown["olds"] == [(False, False), (False, True), (False, True)]
            modify = (await records(stub, "images"))[1]
            assert modify.new_image == item(id="u", v=2)

            # replication asks for the records as stored (both images whatever the view type,
            # unparsed), on the peer door only
            stored = pb.SubscribeRequest(table="users", stored=True)
            call = stub._peer.Subscribe(stored)
            try:
                batch = await asyncio.wait_for(call.read(), 5)
            finally:
                call.cancel()
            records_ = [pb.StreamRecord.FromString(r) for r in batch.stored]
            assert [r.sequence_number for r in records_] == [1, 2, 3]
            assert records_[1].old_image == item(id="u", v=1)
            assert records_[1].new_image == item(id="u", v=2)
            call = stub.Subscribe(stored)
            await expect_error(call.read(), Code.INVALID_ARGUMENT, "stored")

    run(body)


async def next_records(call: Any, deadline_s: float = 5.0) -> list[pb.StreamRecord]:
    """The next non-empty batch of a subscription, within a deadline."""
    end = time.monotonic() + deadline_s
    while True:
        remaining = end - time.monotonic()
        if remaining <= 0:
            raise AssertionError("no records within the deadline")
        batch = await asyncio.wait_for(call.read(), remaining)
        assert batch is not grpc.aio.EOF
        if batch.records:
            return list(batch.records)


def test_subscribe_pushes_new_records_and_filters_by_origin(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (node, stub):
            await put(stub, "orders", order("old", 1))
            start = await head(stub, "orders")
            everything = stub.Subscribe(
                pb.SubscribeRequest(table="orders", after_sequence_number=start)
            )
            from_eu = stub.Subscribe(pb.SubscribeRequest(table="orders", origin="eu"))
            try:
                await asyncio.sleep(0.2)  # both are waiting for data now
                written = time.monotonic()
                await put(stub, "orders", order("new", 1))
                got = await next_records(everything, 2.0)
                assert time.monotonic() - written < 2.0
                assert [(r.sequence_number, r.version.region) for r in got] == [(start + 1, "us")]
                assert got[0].new_image == order("new", 1)

                now = hlc.pack(hlc.wall_ms())
                resp = await stub.ApplyReplicated(
                    pb.ApplyReplicatedRequest(
                        origin="eu",
                        table="orders",
                        source_sequence=1,
                        records=[replicated(1, now, order("remote", 1, v="eu"))],
                    )
                )
                assert resp.applied == 1
                eu = await next_records(from_eu, 2.0)
                assert [(r.version.region, r.keys) for r in eu] == [("eu", order("remote", 1))]
                assert eu[0].sequence_number == start + 2
                more = await next_records(everything, 2.0)
                assert [r.version.region for r in more] == ["eu"]
            finally:
                everything.cancel()
                from_eu.cancel()
            assert node.failed.is_set() is False

    run(body)


def test_retention_trims_and_head_survives_restart(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        data = tmp_path / "n"
        async with running_node(data, trim_interval_s=0.1) as (_, stub):
            for i in range(3):
                await put(stub, "short", item(id=f"k{i}"))
            await put(stub, "orders", order("keep", 1))
            stale = (
                await stub.GetShardIterator(
                    pb.GetShardIteratorRequest(table="short", type=pb.TRIM_HORIZON)
                )
            ).shard_iterator
            deadline = time.monotonic() + 5
            while True:
                desc = await stub.DescribeStream(pb.DescribeStreamRequest(table="short"))
                if desc.trim_sequence_number == 3:
                    break
                assert time.monotonic() < deadline, f"not trimmed: {desc}"
                await asyncio.sleep(0.05)
            assert desc.head_sequence_number == 3
            assert desc.shards[0].starting_sequence_number == 3
            assert [r.sequence_number for r in await records(stub, "short")] == [3]
            for type_, seq in (
                (pb.AT_SEQUENCE_NUMBER, 1),
                (pb.AT_SEQUENCE_NUMBER, 2),
                (pb.AFTER_SEQUENCE_NUMBER, 1),
            ):
                await expect_error(
                    stub.GetShardIterator(
                        pb.GetShardIteratorRequest(table="short", type=type_, sequence_number=seq)
                    ),
                    Code.FAILED_PRECONDITION,
                    "trimmed",
                )
            await expect_error(
                stub.GetRecords(pb.GetRecordsRequest(shard_iterator=stale)),
                Code.FAILED_PRECONDITION,
                "trimmed",
            )
            assert [
                r.sequence_number for r in await records(stub, "short", pb.AT_SEQUENCE_NUMBER, 3)
            ] == [3]
            # the default 24 h retention keeps everything
            assert (
                await stub.DescribeStream(pb.DescribeStreamRequest(table="orders"))
            ).trim_sequence_number == 1
            # items are not affected by stream retention
            assert (await get(stub, "short", item(id="k0"))).found

        async with running_node(data) as (_, stub):
            desc = await stub.DescribeStream(pb.DescribeStreamRequest(table="short"))
            assert (desc.head_sequence_number, desc.trim_sequence_number) == (3, 3)
            await put(stub, "short", item(id="k9"))
            assert [r.sequence_number for r in await records(stub, "short")] == [3, 4]

    run(body)


def test_trim_keeps_records_within_retention(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (node, stub):
            for i in range(4):
                await put(stub, "short", item(id=f"k{i}"))
            assert node.core is not None
            streams = node.core.streams
            streams.trim(hlc.wall_ms() - 60_000)  # a minute ago nothing was old enough
            assert (
                await stub.DescribeStream(pb.DescribeStreamRequest(table="short"))
            ).trim_sequence_number == 1
            streams.trim(hlc.wall_ms() + 60_000)
            desc = await stub.DescribeStream(pb.DescribeStreamRequest(table="short"))
            assert (desc.head_sequence_number, desc.trim_sequence_number) == (4, 4)
            streams.trim(hlc.wall_ms() + 120_000)  # idempotent: the newest record stays
            assert [r.sequence_number for r in await records(stub, "short")] == [4]

    run(body)


# ---------------------------------------------------------------- restart and group commit


def test_restart_keeps_items_stream_sequence_and_clock(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        data = tmp_path / "n"
        future = hlc.pack(hlc.wall_ms() + 3_600_000, 7)  # an hour ahead, admitted (no limit)
        async with running_node(data, max_clock_offset_ms=0) as (_, stub):
            first = await stub.NodeInfo(pb.NodeInfoRequest())
            for i in range(3):
                await put(stub, "orders", order("r", i, v=i))
            await stub.DeleteItem(pb.DeleteItemRequest(table="orders", key=order("r", 0)))
            resp = await stub.ApplyReplicated(
                pb.ApplyReplicatedRequest(
                    origin="eu",
                    table="orders",
                    source_sequence=1,
                    records=[replicated(1, future, order("r", 9, v="eu"))],
                )
            )
            assert resp.applied == 1
            before_records = await records(stub, "orders")
            before_digest = await digest(stub, "orders")
            assert len(before_records) == 5

        async with running_node(data) as (_, stub):
            info = await stub.NodeInfo(pb.NodeInfoRequest())
            assert info.node_id == first.node_id
            assert info.hlc >= future
            assert await digest(stub, "orders") == before_digest
            assert not (await get(stub, "orders", order("r", 0))).found
            assert (await get(stub, "orders", order("r", 2))).item == order("r", 2, v=2)
            assert await records(stub, "orders") == before_records
            written = await put(stub, "orders", order("r", 5))
            assert written.version.hlc > future
            after = await records(stub, "orders", pb.AFTER_SEQUENCE_NUMBER, 5)
            assert [r.sequence_number for r in after] == [6]
            assert after[0].event_id not in {r.event_id for r in before_records}
            ckpts = (await stub.GetCheckpoints(pb.GetCheckpointsRequest())).checkpoints
            assert [(c.origin, c.table, c.sequence_number) for c in ckpts] == [("eu", "orders", 1)]

    run(body)


def test_concurrent_puts_are_group_committed(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n", sync=True) as (node, stub):
            calls = [put(stub, "orders", order("g", i, v=i)) for i in range(200)]
            calls += [put(stub, "orders", order("same", 1, v=i)) for i in range(50)]
            results = await asyncio.gather(*calls)
            assert all(r.changed for r in results)
            stamps = [r.version.hlc for r in results]
            assert len(set(stamps)) == 250
            assert await head(stub, "orders") == 250
            # the item holds the write with the highest version
            winner = max(results[200:], key=lambda r: r.version.hlc)
            got = await get(stub, "orders", order("same", 1))
            assert got.version == winner.version
            recs = await records(stub, "orders")
            assert [r.version.hlc for r in recs] == sorted(stamps)  # stream order = version order

            registry = node.registry
            batches = registry.get_sample_value("meridian_node_commit_operations_count")
            operations = registry.get_sample_value("meridian_node_commit_operations_sum")
            assert operations == 250
            assert batches is not None and 1 <= batches < 250
            assert node.core is not None
            assert sum(node.core.writer.batch_sizes.values()) == batches
            assert max(node.core.writer.batch_sizes) > 1  # bucket index: some batch held 2+

    run(body)


def test_writer_crash_fails_callers_instead_of_hanging(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (node, stub):
            await put(stub, "orders", order("ok", 1))
            assert node.core is not None
            original = PutOp.apply

            def faulty(op: PutOp, stage: Any, ctx: Any) -> Any:
                if b"boom" in op.key:
                    raise RuntimeError("injected fault")
                return original(op, stage, ctx)

            monkeypatch.setattr(PutOp, "apply", faulty)
            crashed = put(stub, "orders", order("boom", 1))
            await asyncio.wait_for(expect_error(crashed, Code.UNAVAILABLE), 5)
            await asyncio.wait_for(node.failed.wait(), 5)  # the crash is reported, not silent
            later = put(stub, "orders", order("ok", 2))
            await asyncio.wait_for(expect_error(later, Code.UNAVAILABLE, "shutting down"), 5)
            assert (await get(stub, "orders", order("ok", 1))).found  # reads still served

    run(body)


# ---------------------------------------------------------------- replicated apply


def replicated(
    seq: int,
    clock: int,
    value: pb.Item,
    *,
    origin: str = "eu",
    remove: bool = False,
    keys: pb.Item | None = None,
) -> pb.StreamRecord:
    record = pb.StreamRecord(
        sequence_number=seq,
        event_name=pb.REMOVE if remove else pb.INSERT,
        creation_time_ms=hlc.wall_ms(),
        table="orders",
        version=pb.Version(hlc=clock, region=origin),
    )
    record.keys.CopyFrom(
        keys
        if keys is not None
        else pb.Item(attributes={k: value.attributes[k] for k in ("pk", "sk")})
    )
    if not remove:
        record.new_image.CopyFrom(value)
    return record


def apply_request(
    records_: list[pb.StreamRecord],
    *,
    origin: str = "eu",
    source: int | None = None,
    node_id: str = "eu-node-1",
) -> pb.ApplyReplicatedRequest:
    return pb.ApplyReplicatedRequest(
        origin=origin,
        table="orders",
        records=records_,
        source_sequence=source
        if source is not None
        else (records_[-1].sequence_number if records_ else 0),
        origin_node_id=node_id,
    )


def outcome(resp: pb.ApplyReplicatedResponse) -> tuple[int, int, int, int, int, int]:
    return (
        resp.applied,
        resp.lost_to_newer,
        resp.duplicate,
        resp.stale_sequence,
        resp.clock_rejected,
        resp.checkpoint,
    )


async def checkpoint_of(stub: Any, origin: str) -> int | None:
    for c in (await stub.GetCheckpoints(pb.GetCheckpointsRequest())).checkpoints:
        if c.origin == origin and c.table == "orders":
            return c.sequence_number
    return None


def test_apply_replicated_last_writer_wins(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (node, stub):
            local = await put(stub, "orders", order("k", 1, v="us"))
            start = await head(stub, "orders")
            newer = local.version.hlc + 10
            r1 = replicated(1, newer, order("k", 1, v="eu"))
            resp = await stub.ApplyReplicated(apply_request([r1]))
            assert outcome(resp) == (1, 0, 0, 0, 0, 1)
            got = await get(stub, "orders", order("k", 1))
            assert got.item == order("k", 1, v="eu")
            assert (got.version.hlc, got.version.region) == (newer, "eu")  # origin kept
            assert await head(stub, "orders") == start + 1
            [rec] = await records(stub, "orders", pb.AFTER_SEQUENCE_NUMBER, start)
            assert rec.event_name == pb.MODIFY and rec.version == got.version
            assert rec.old_image == order("k", 1, v="us") and rec.new_image == order("k", 1, v="eu")

            # older than what is stored: counted, listed as a conflict, not applied
            older = replicated(2, local.version.hlc - 5, order("k", 1, v="old"), origin="ap")
            resp = await stub.ApplyReplicated(
                apply_request([older], origin="ap", node_id="ap-node")
            )
            assert outcome(resp) == (0, 1, 0, 0, 0, 2)
            assert (await get(stub, "orders", order("k", 1))).item == order("k", 1, v="eu")
            assert await head(stub, "orders") == start + 1
            conflicts = (await stub.ListConflicts(pb.ListConflictsRequest())).conflicts
            assert len(conflicts) == 1
            c = conflicts[-1]
            assert (c.table, c.keys) == ("orders", order("k", 1))
            assert (c.winner.hlc, c.winner.region) == (newer, "eu")
            assert (c.loser.hlc, c.loser.region) == (older.version.hlc, "ap")
            assert c.rule == "higher clock wins"

            # the same version again under a new sequence number: a duplicate
            dup = replicated(2, newer, order("k", 1, v="eu"))
            resp = await stub.ApplyReplicated(apply_request([dup]))
            assert outcome(resp) == (0, 0, 1, 0, 0, 2)
            # sequence numbers at or below the checkpoint: stale, whatever they carry
            stale = [
                replicated(1, newer + 100, order("k", 1, v="stale1")),
                replicated(2, newer + 100, order("k", 1, v="stale2")),
            ]
            resp = await stub.ApplyReplicated(apply_request(stale))
            assert outcome(resp) == (0, 0, 0, 2, 0, 2)
            assert (await get(stub, "orders", order("k", 1))).item == order("k", 1, v="eu")
            assert await head(stub, "orders") == start + 1
            # an equal clock from a higher region name wins the tie
            tie = replicated(3, newer, order("k", 1, v="fr"), origin="fr")
            resp = await stub.ApplyReplicated(apply_request([tie], origin="fr", node_id="fr-node"))
            assert resp.applied == 1
            assert (await get(stub, "orders", order("k", 1))).version.region == "fr"

            def metric(origin: str, result: str) -> float | None:
                return node.registry.get_sample_value(
                    "meridian_node_replicated_records_total", {"origin": origin, "outcome": result}
                )

            assert metric("eu", "applied") == 1
            assert metric("ap", "lost_to_newer") == 1
            assert metric("eu", "duplicate") == 1
            assert metric("eu", "stale_sequence") == 2

    run(body)


def test_apply_replicated_checkpoints_in_the_origins_sequence_numbers(
    tmp_path: pathlib.Path,
) -> None:
    """Applied records take this node's next sequence numbers in its own stream; the
    checkpoint and the stale check stay in the origin's numbering, whatever the local head."""

    async def body() -> None:
        async with running_node(tmp_path / "n") as (_node, stub):
            for i in range(5):
                await put(stub, "orders", order("local", i))
            clock = hlc.pack(hlc.wall_ms())
            batch = [replicated(seq, clock + seq, order("r", seq, v=seq)) for seq in (1, 2, 3)]
            resp = await stub.ApplyReplicated(apply_request(batch))
            assert outcome(resp) == (3, 0, 0, 0, 0, 3)
            assert await checkpoint_of(stub, "eu") == 3
            recs = await records(stub, "orders", pb.AFTER_SEQUENCE_NUMBER, 5)
            assert [r.sequence_number for r in recs] == [6, 7, 8]
            assert [(r.version.region, r.event_name) for r in recs] == [("eu", pb.INSERT)] * 3
            assert [r.new_image for r in recs] == [order("r", s, v=s) for s in (1, 2, 3)]
            later = replicated(4, clock + 4, order("r", 1, v=4))
            resp = await stub.ApplyReplicated(apply_request([later]))
            assert outcome(resp) == (1, 0, 0, 0, 0, 4)
            [rec] = await records(stub, "orders", pb.AFTER_SEQUENCE_NUMBER, 8)
            assert (rec.sequence_number, rec.event_name) == (9, pb.MODIFY)
            assert rec.old_image == order("r", 1, v=1) and rec.new_image == order("r", 1, v=4)

    run(body)


def test_apply_replicated_rejects_clocks_too_far_ahead(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n", max_clock_offset_ms=5000) as (node, stub):
            now = hlc.wall_ms()
            batch = [
                replicated(1, hlc.pack(now), order("c", 1)),
                replicated(2, hlc.pack(now + 60_000), order("c", 2)),  # a minute ahead
                replicated(3, hlc.pack(now), order("c", 3)),
            ]
            resp = await stub.ApplyReplicated(apply_request(batch, source=10))
            assert outcome(resp) == (1, 0, 0, 0, 1, 1)  # stops before the rejected record
            assert await checkpoint_of(stub, "eu") == 1
            assert (await get(stub, "orders", order("c", 1))).found
            assert not (await get(stub, "orders", order("c", 2))).found
            assert not (await get(stub, "orders", order("c", 3))).found
            info = await stub.NodeInfo(pb.NodeInfoRequest())
            assert info.hlc < hlc.pack(now + 60_000)  # the clock did not follow it
            assert (
                node.registry.get_sample_value(
                    "meridian_node_replicated_records_total",
                    {"origin": "eu", "outcome": "clock_rejected"},
                )
                == 1
            )
        # once the node's own limit allows it, the retry applies everything from the checkpoint
        async with running_node(tmp_path / "n", max_clock_offset_ms=120_000) as (_, stub):
            resp = await stub.ApplyReplicated(apply_request(batch, source=10))
            assert outcome(resp) == (2, 0, 0, 1, 0, 10)

    run(body)


def test_apply_replicated_clock_and_tombstones(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            now = hlc.wall_ms()
            ahead = hlc.pack(now + 2_000, 3)  # ahead, but within the offset
            resp = await stub.ApplyReplicated(apply_request([replicated(1, ahead, order("f", 1))]))
            assert resp.applied == 1
            local = await put(stub, "orders", order("f", 2))
            assert local.version.hlc > ahead  # causality: stamped after what was observed

            # a REMOVE of a key never seen here stores a tombstone
            start = await head(stub, "orders")
            t_del = hlc.pack(now, 50)
            gone = replicated(2, t_del, pb.Item(), remove=True, keys=order("x", 1))
            resp = await stub.ApplyReplicated(apply_request([gone]))
            assert outcome(resp) == (1, 0, 0, 0, 0, 2)
            assert not (await get(stub, "orders", order("x", 1))).found
            assert (await digest(stub, "orders")).tombstones == 1
            [rec] = await records(stub, "orders", pb.AFTER_SEQUENCE_NUMBER, start)
            assert rec.event_name == pb.REMOVE and rec.version.region == "eu"
            # an older put from another region cannot resurrect it
            old_put = replicated(1, hlc.pack(now, 10), order("x", 1, v="zombie"), origin="ap")
            resp = await stub.ApplyReplicated(apply_request([old_put], origin="ap", node_id="ap-1"))
            assert outcome(resp) == (0, 1, 0, 0, 0, 1)
            assert not (await get(stub, "orders", order("x", 1))).found
            q = await stub.Query(pb.QueryRequest(table="orders", **key_condition("x")))
            assert not q.items
            # a newer one may
            new_put = replicated(2, hlc.pack(now, 60), order("x", 1, v="back"), origin="ap")
            resp = await stub.ApplyReplicated(apply_request([new_put], origin="ap", node_id="ap-1"))
            assert resp.applied == 1
            assert (await get(stub, "orders", order("x", 1))).item == order("x", 1, v="back")

    run(body)


def test_apply_replicated_refusals(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            now = hlc.pack(hlc.wall_ms())
            good = replicated(1, now, order("g", 1))
            resp = await stub.ApplyReplicated(apply_request([good]))
            assert resp.applied == 1
            start = await head(stub, "orders")
            before = await digest(stub, "orders")

            bad_requests = [
                (
                    "own region",
                    apply_request([replicated(5, now, order("h", 1), origin="us")], origin="us"),
                    "origin",
                ),
                ("no origin", apply_request([], origin=""), "origin"),
                (
                    "record of another origin",
                    apply_request([replicated(5, now, order("h", 1), origin="ap")]),
                    "records[0]",
                ),
                (
                    "sequence numbers not ascending",
                    apply_request(
                        [replicated(6, now, order("h", 1)), replicated(5, now, order("h", 2))]
                    ),
                    "records[1]",
                ),
                (
                    "image does not match the keys",
                    apply_request([replicated(5, now, order("h", 1), keys=order("h", 2))]),
                    "records[0]",
                ),
                (
                    "malformed image",
                    apply_request([replicated(5, now, order("h", 1, n=N("x")))]),
                    "records[0]",
                ),
                (
                    "clock at the end of its range",
                    apply_request([replicated(5, 2**64 - 1, order("h", 1))]),
                    "not a plausible time",
                ),
            ]
            for case, request, part in bad_requests:
                await expect_error(stub.ApplyReplicated(request), Code.INVALID_ARGUMENT, part)
                assert await head(stub, "orders") == start, case
                assert await digest(stub, "orders") == before, case
                assert await checkpoint_of(stub, "eu") == 1, case

            # another node now serves eu: its sequence numbers mean something else
            moved = apply_request([replicated(2, now + 1, order("h", 1))], node_id="eu-node-2")
            await expect_error(
                stub.ApplyReplicated(moved), Code.FAILED_PRECONDITION, "resync needed"
            )
            assert await checkpoint_of(stub, "eu") == 1
            assert not (await get(stub, "orders", order("h", 1))).found

    run(body)


def test_digest_is_independent_of_apply_order(tmp_path: pathlib.Path) -> None:
    rng = random.Random(42)
    base = hlc.pack(hlc.wall_ms() - 10_000)
    origins = ["eu", "sa", "af"]
    streams: dict[str, list[pb.StreamRecord]] = {}
    for origin in origins:
        out = []
        for seq in range(1, 31):
            key = order(f"d{rng.randint(0, 5)}", rng.randint(0, 2))
            clock = base + rng.randint(0, 40)  # small range: many equal clocks across regions
            if rng.random() < 0.25:
                out.append(replicated(seq, clock, pb.Item(), origin=origin, remove=True, keys=key))
            else:
                value = order(key.attributes["pk"].s, key.attributes["sk"].n, v=f"{origin}{seq}")
                out.append(replicated(seq, clock, value, origin=origin))
        streams[origin] = out

    # expected: per key, the record with the highest (clock, region)
    winners: dict[tuple[str, str], pb.StreamRecord] = {}
    for rec in (r for s in streams.values() for r in s):
        k = (rec.keys.attributes["pk"].s, rec.keys.attributes["sk"].n)
        if k not in winners or (rec.version.hlc, rec.version.region) > (
            winners[k].version.hlc,
            winners[k].version.region,
        ):
            winners[k] = rec

    async def apply_in_batches(stub: Any, order_: list[str], size: int) -> None:
        for origin in order_:
            recs = streams[origin]
            for i in range(0, len(recs), size):
                await stub.ApplyReplicated(
                    apply_request(recs[i : i + size], origin=origin, node_id=origin)
                )

    async def apply_interleaved(stub: Any) -> None:
        cursors = dict.fromkeys(origins, 0)
        while any(cursors[o] < len(streams[o]) for o in origins):
            origin = rng.choice([o for o in origins if cursors[o] < len(streams[o])])
            rec = streams[origin][cursors[origin]]
            cursors[origin] += 1
            await stub.ApplyReplicated(apply_request([rec], origin=origin, node_id=origin))
        # a full replay of everything is harmless
        for origin in origins:
            await stub.ApplyReplicated(
                apply_request(streams[origin], origin=origin, node_id=origin)
            )

    async def body() -> None:
        async with (
            running_node(tmp_path / "a", region="us") as (_, a),
            running_node(tmp_path / "b", region="ap") as (_, b),
            running_node(tmp_path / "c", region="jp") as (_, c),
        ):
            await apply_in_batches(a, ["eu", "sa", "af"], 30)
            await apply_in_batches(b, ["af", "eu", "sa"], 7)
            await apply_interleaved(c)
            da, db, dc = (
                await digest(a, "orders"),
                await digest(b, "orders"),
                await digest(c, "orders"),
            )
            assert da == db == dc
            live = [w for w in winners.values() if w.event_name != pb.REMOVE]
            assert (da.items, da.tombstones) == (len(live), len(winners) - len(live))
            for k, rec in winners.items():
                got = await get(a, "orders", order(k[0], k[1]))
                assert got.found == (rec.event_name != pb.REMOVE)
                if got.found:
                    assert got.item == rec.new_image and got.version == rec.version
            # a node that missed the winning record of one key disagrees
            async with running_node(tmp_path / "d", region="kr") as (_, d):
                target = next(iter(winners.values()))
                for origin in origins:
                    recs = [r for r in streams[origin] if r is not target]
                    await d.ApplyReplicated(
                        apply_request(recs, origin=origin, node_id=origin, source=30)
                    )
                assert (await digest(d, "orders")).digest != da.digest

    run(body, timeout=45)
