"""The item API's DynamoDB semantics on one real node over gRPC: ReturnValues, conditions
with the current item in the failure, Query and Scan pages (Limit, filters, counts, 1 MB),
projections, Select COUNT, and transactions."""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

import grpc
import pytest

from meridian.pb import node_pb2 as pb
from meridian.wire import errors
from tests.integration.test_node import (
    N,
    av,
    digest,
    expect_condition_failed,
    expect_error,
    get,
    head,
    item,
    key_condition,
    order,
    put,
    records,
    run,
    running_node,
    update,
)

Code = grpc.StatusCode
ALL_OLD_ON_FAILURE = pb.RETURN_ON_CONDITION_FAILURE_ALL_OLD


def doc(**fields: Any) -> pb.AttributeValue:
    """A map value."""
    return pb.AttributeValue(m=pb.MapValue(fields={k: av(v) for k, v in fields.items()}))


# ---------------------------------------------------------------- writes


def test_update_return_values(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            key = order("a", 1)
            await put(stub, "orders", order("a", 1, v="one", n=N("1"), d=doc(x=1, y=2)))
            text = "SET v = :v, d.x = :x, fresh = :f REMOVE gone ADD n :one"
            values = {":v": av("two"), ":x": N("10"), ":f": av("f"), ":one": N("1")}
            old = await update(stub, key, text, values, return_values=pb.UPDATED_OLD)
            # the touched attributes that existed, as they were; `fresh` and `gone` did not
            assert old.changed and old.attributes == item(v="one", n=N("1"), d=doc(x=1))
            again = {**values, ":v": av("three")}
            new = await update(stub, key, text, again, return_values=pb.UPDATED_NEW)
            assert new.attributes == item(v="three", n=N("3"), d=doc(x=10), fresh="f")
            whole = await update(stub, key, "REMOVE fresh", return_values=pb.ALL_NEW)
            assert whole.attributes == order("a", 1, v="three", n=N("3"), d=doc(x=10, y=2))
            removed = await update(stub, key, "REMOVE v", return_values=pb.UPDATED_NEW)
            assert removed.changed and not removed.HasField("attributes")
            # an update that changes nothing still returns what it touched, and writes nothing
            start = await head(stub, "orders")
            same = await update(
                stub, key, "SET n = :n", {":n": N("3.0")}, return_values=pb.UPDATED_OLD
            )
            assert not same.changed and same.attributes == item(n=N("3"))
            assert same.version == removed.version
            assert await head(stub, "orders") == start

    run(body)


def test_update_without_expression_creates_a_key_only_item(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            created = await update(stub, order("k", 1), None, return_values=pb.ALL_NEW)
            assert created.changed and created.attributes == order("k", 1)
            again = await update(stub, order("k", 1), None)
            assert not again.changed and again.version == created.version
            # an update that only removes creates nothing
            nothing = await update(stub, order("k", 2), "REMOVE v", return_values=pb.ALL_NEW)
            assert not nothing.changed and not nothing.HasField("attributes")
            assert not (await get(stub, "orders", order("k", 2))).found
            assert [r.event_name for r in await records(stub, "orders")] == [pb.INSERT]

    run(body)


def test_condition_failures_return_the_current_item_when_asked(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            stored = order("c", 1, phase="open")
            first = await put(stub, "orders", stored)
            start = await head(stub, "orders")
            wrong = {":s": av("closed")}
            failure = await expect_condition_failed(
                update(
                    stub,
                    order("c", 1),
                    "SET v = :s",
                    wrong,
                    condition_expression="phase = :s",
                    return_values_on_condition_check_failure=ALL_OLD_ON_FAILURE,
                ),
                "the item exists",
            )
            assert failure.item == stored
            plain = await expect_condition_failed(
                stub.DeleteItem(
                    pb.DeleteItemRequest(
                        table="orders",
                        key=order("c", 1),
                        condition_expression="phase = :s",
                        expression_attribute_values=wrong,
                    )
                )
            )
            assert not plain.HasField("item")
            missing = await expect_condition_failed(
                put(
                    stub,
                    "orders",
                    order("c", 2),
                    condition_expression="attribute_exists(pk)",
                    return_values_on_condition_check_failure=ALL_OLD_ON_FAILURE,
                ),
                "no item",
            )
            assert not missing.HasField("item")
            # the expected version is checked too, with the item in the failure
            stale = pb.Version(hlc=first.version.hlc - 1, region="us")
            versioned = await expect_condition_failed(
                put(
                    stub,
                    "orders",
                    order("c", 1, phase="x"),
                    expected_version=stale,
                    return_values_on_condition_check_failure=ALL_OLD_ON_FAILURE,
                ),
                "version is",
            )
            assert versioned.item == stored
            assert await head(stub, "orders") == start
            ok = await put(
                stub,
                "orders",
                order("c", 1, phase="closed"),
                condition_expression="phase = :s",
                expression_attribute_values={":s": av("open")},
                expected_version=first.version,
            )
            assert ok.changed

    run(body)


# ---------------------------------------------------------------- reads


def test_projections_on_get_batch_get_and_query(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            full = order("p", 1, a="x", b="y", d=doc(x=1, y=2), l=pb.AttributeValue())
            full.attributes["l"].l.values.extend([av("zero"), av("one"), av("two")])
            await put(stub, "orders", full)
            projection = {
                "projection_expression": "#a, d.y, l[2], absent",
                "expression_attribute_names": {"#a": "a"},
            }
            want = item(a="x", d=doc(y=2), l=pb.AttributeValue(l=pb.ListValue(values=[av("two")])))
            got = await stub.GetItem(
                pb.GetItemRequest(table="orders", key=order("p", 1), **projection)
            )
            assert got.found and got.item == want and got.version.hlc > 0
            batch = await stub.BatchGetItem(
                pb.BatchGetItemRequest(table="orders", keys=[order("p", 1)], **projection)
            )
            assert list(batch.items) == [want]
            query = await stub.Query(
                pb.QueryRequest(table="orders", **key_condition("p"), **projection)
            )
            assert list(query.items) == [want]
            await expect_error(
                stub.GetItem(
                    pb.GetItemRequest(
                        table="orders", key=order("p", 1), projection_expression="a, a"
                    )
                ),
                Code.INVALID_ARGUMENT,
                "Two document paths overlap",
            )

    run(body)


async def fill(stub: Any, partition: str, count: int) -> None:
    writes = [pb.WriteRequest(put=order(partition, i, n=N(str(i)))) for i in range(count)]
    await stub.BatchWriteItem(pb.BatchWriteItemRequest(table="orders", writes=writes))


def test_query_limit_counts_items_read_before_the_filter(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            await fill(stub, "f", 10)  # n = 0..9
            fields = key_condition("f", k=N("6"))
            fields["filter_expression"] = "n >= :k"
            page = await stub.Query(pb.QueryRequest(table="orders", limit=4, **fields))
            # four items read, none passed: an empty page that still says where to go on
            assert (page.count, page.scanned_count, list(page.items)) == (0, 4, [])
            assert page.last_evaluated_key == order("f", 3)
            seen: list[int] = []
            pages = 0
            request = pb.QueryRequest(table="orders", limit=4, **fields)
            while True:
                page = await stub.Query(request)
                pages += 1
                seen += [int(i.attributes["sk"].n) for i in page.items]
                assert page.count == len(page.items) and page.scanned_count <= 4
                if not page.HasField("last_evaluated_key"):
                    break
                request.exclusive_start_key.CopyFrom(page.last_evaluated_key)
            # 10 items in pages of 4: the third page reads 2 and ends the query
            assert (seen, pages) == ([6, 7, 8, 9], 3)
            # a page that ends exactly on the limit names its last key, though nothing follows
            last = await stub.Query(pb.QueryRequest(table="orders", limit=10, **key_condition("f")))
            assert last.scanned_count == 10 and last.last_evaluated_key == order("f", 9)
            after = await stub.Query(
                pb.QueryRequest(
                    table="orders",
                    limit=10,
                    exclusive_start_key=order("f", 9),
                    **key_condition("f"),
                )
            )
            assert (after.count, after.scanned_count) == (0, 0)
            assert not after.HasField("last_evaluated_key")
            backward = await stub.Query(
                pb.QueryRequest(table="orders", limit=3, scan_index_forward=False, **fields)
            )
            assert [int(i.attributes["sk"].n) for i in backward.items] == [9, 8, 7]
            await expect_error(
                stub.Query(
                    pb.QueryRequest(
                        table="orders",
                        **key_condition("f", k=N("1")),
                        filter_expression="sk > :k",
                    )
                ),
                Code.INVALID_ARGUMENT,
                "Filter Expression can only contain non-primary key attributes",
            )

    run(body)


def test_select_count(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            await fill(stub, "c", 7)
            fields = key_condition("c", k=N("2"))
            fields["filter_expression"] = "n > :k"
            counted = await stub.Query(pb.QueryRequest(table="orders", select=pb.COUNT, **fields))
            assert (counted.count, counted.scanned_count, list(counted.items)) == (4, 7, [])
            scanned = await stub.Scan(
                pb.ScanRequest(
                    table="orders",
                    select=pb.COUNT,
                    filter_expression="n > :k",
                    expression_attribute_values={":k": N("2")},
                )
            )
            assert (scanned.count, scanned.scanned_count, list(scanned.items)) == (4, 7, [])
            refused = [
                (
                    pb.COUNT,
                    "a",
                    "Cannot specify the ProjectionExpression when choosing to get only",
                ),
                (pb.ALL_ATTRIBUTES, "a", "choosing to get ALL_ATTRIBUTES"),
                (pb.SPECIFIC_ATTRIBUTES, None, "Must specify the AttributesToGet or Projection"),
            ]
            for select, projection, message in refused:
                request = pb.ScanRequest(table="orders", select=select)
                if projection is not None:
                    request.projection_expression = projection
                await expect_error(stub.Scan(request), Code.INVALID_ARGUMENT, message)
            specific = await stub.Scan(
                pb.ScanRequest(
                    table="orders", select=pb.SPECIFIC_ATTRIBUTES, projection_expression="n"
                )
            )
            assert sorted(int(i.attributes["n"].n) for i in specific.items) == list(range(7))

    run(body)


def test_scan_filter_limit_and_segments(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            for p in range(12):
                await fill(stub, f"s{p:02d}", 3)
            values = {":one": N("1")}
            found: list[tuple[str, int]] = []
            for segment in range(3):
                request = pb.ScanRequest(
                    table="orders",
                    filter_expression="n = :one",
                    expression_attribute_values=values,
                    limit=2,
                    segment=segment,
                    total_segments=3,
                )
                while True:
                    page = await stub.Scan(request)
                    assert page.scanned_count <= 2 and page.count == len(page.items)
                    found += [(i.attributes["pk"].s, int(i.attributes["sk"].n)) for i in page.items]
                    if not page.HasField("last_evaluated_key"):
                        break
                    request.exclusive_start_key.CopyFrom(page.last_evaluated_key)
            assert sorted(found) == [(f"s{p:02d}", 1) for p in range(12)]

    run(body)


def test_pages_stop_near_one_megabyte(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            blob = "x" * (100 * 1024)
            for i in range(25):
                await put(stub, "orders", order("big", i, payload=blob))
            first = await stub.Query(pb.QueryRequest(table="orders", **key_condition("big")))
            # 100 KB items: the page ends with the item that crosses 1 MB
            assert first.scanned_count == 11 == len(first.items)
            assert first.last_evaluated_key == order("big", 10)
            request = pb.ScanRequest(table="orders", exclusive_start_key=first.last_evaluated_key)
            rest = await stub.Scan(request)
            assert rest.scanned_count == 11
            request.exclusive_start_key.CopyFrom(rest.last_evaluated_key)
            end = await stub.Scan(request)
            assert end.scanned_count == 3 and not end.HasField("last_evaluated_key")

    run(body)


# ---------------------------------------------------------------- transactions


def transact(*actions: pb.TransactWriteItem) -> pb.TransactWriteItemsRequest:
    return pb.TransactWriteItemsRequest(items=list(actions))


def t_put(value: pb.Item, **kw: Any) -> pb.TransactWriteItem:
    return pb.TransactWriteItem(put=pb.PutItemRequest(table="orders", item=value, **kw))


def t_update(key: pb.Item, text: str, values: dict[str, Any], **kw: Any) -> pb.TransactWriteItem:
    request = pb.UpdateItemRequest(
        table="orders", key=key, update_expression=text, expression_attribute_values=values, **kw
    )
    return pb.TransactWriteItem(update=request)


def t_delete(key: pb.Item, **kw: Any) -> pb.TransactWriteItem:
    return pb.TransactWriteItem(delete=pb.DeleteItemRequest(table="orders", key=key, **kw))


def t_check(
    key: pb.Item, condition: str, values: dict[str, Any], **kw: Any
) -> pb.TransactWriteItem:
    check = pb.ConditionCheck(
        table="orders",
        key=key,
        condition_expression=condition,
        expression_attribute_values=values,
        **kw,
    )
    return pb.TransactWriteItem(condition_check=check)


async def canceled(call: Any) -> list[pb.CancellationReason]:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    exc = info.value
    assert exc.code() == Code.FAILED_PRECONDITION, exc.details()
    assert errors.reason_of(exc) == errors.Reason.TRANSACTION_CANCELED
    detail = errors.detail_of(exc, pb.TransactionCancellation)
    assert detail is not None
    codes = ",".join(r.code for r in detail.reasons)
    meta = errors.error_info_of(exc)
    assert meta is not None and meta.metadata["cancellation_reasons"] == codes
    return list(detail.reasons)


def test_transactions_write_everything_or_nothing(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            await put(stub, "orders", order("t", 1, stock=N("5")))
            await put(stub, "orders", order("t", 2, v="gone soon"))
            await put(stub, "users", item(id="alice", credit=N("3")))
            start = await head(stub, "orders")
            done = await stub.TransactWriteItems(
                transact(
                    t_update(order("t", 1), "SET stock = stock - :one", {":one": N("1")}),
                    t_put(order("t", 3, v="new"), condition_expression="attribute_not_exists(pk)"),
                    t_delete(order("t", 2)),
                    pb.TransactWriteItem(
                        condition_check=pb.ConditionCheck(
                            table="users",
                            key=item(id="alice"),
                            condition_expression="credit >= :one",
                            expression_attribute_values={":one": N("1")},
                        )
                    ),
                )
            )
            assert [r.changed for r in done.results] == [True, True, True, False]
            stamps = [r.version.hlc for r in done.results[:3]]
            assert stamps == sorted(stamps) and len(set(stamps)) == 3
            written = await records(stub, "orders", pb.AFTER_SEQUENCE_NUMBER, start)
            assert [r.event_name for r in written] == [pb.MODIFY, pb.INSERT, pb.REMOVE]
            assert (await get(stub, "orders", order("t", 1))).item == order("t", 1, stock=N("4"))

            # one failed condition, one invalid update: nothing of the rest is written
            before = (await digest(stub, "orders"), await head(stub, "orders"))
            reasons = await canceled(
                stub.TransactWriteItems(
                    transact(
                        t_put(order("t", 4)),
                        t_check(
                            order("t", 1),
                            "stock > :many",
                            {":many": N("100")},
                            return_values_on_condition_check_failure=pb.RETURN_ON_CONDITION_FAILURE_ALL_OLD,
                        ),
                        t_update(order("t", 3), "SET v = v + :one", {":one": N("1")}),
                        t_delete(order("t", 5)),
                    )
                )
            )
            assert [r.code for r in reasons] == [
                "None",
                "ConditionalCheckFailed",
                "ValidationError",
                "None",
            ]
            assert reasons[1].item == order("t", 1, stock=N("4"))
            assert "incorrect data type" in reasons[2].message
            assert not reasons[0].HasField("item") and not reasons[3].message
            assert (await digest(stub, "orders"), await head(stub, "orders")) == before
            assert not (await get(stub, "orders", order("t", 4))).found

    run(body)


def test_transactions_are_refused_before_anything_is_checked(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            await put(stub, "orders", order("r", 1))
            before = await digest(stub, "orders")
            cases = [
                (
                    transact(t_put(order("r", 2)), t_delete(order("r", "2.0"))),
                    "cannot include multiple operations on one item",
                ),
                (transact(), "Member must have length between 1 and 100"),
                (transact(*(t_put(order("r", i)) for i in range(101))), "between 1 and 100"),
                (
                    transact(t_put(order("r", 3), return_values=pb.ALL_OLD)),
                    "ReturnValues are not supported in transactions",
                ),
                (
                    transact(
                        pb.TransactWriteItem(
                            condition_check=pb.ConditionCheck(table="orders", key=order("r", 1))
                        )
                    ),
                    "A ConditionCheck needs a ConditionExpression",
                ),
                (transact(pb.TransactWriteItem()), "items[0]: none of"),
                (
                    transact(t_put(order("r", 4)), t_update(order("r", 1), "SET = :x", {})),
                    "Invalid UpdateExpression: Syntax error",
                ),
                (transact(t_put(item(pk="r"))), "key attribute 'sk': missing"),
            ]
            for request, message in cases:
                await expect_error(stub.TransactWriteItems(request), Code.INVALID_ARGUMENT, message)
            await expect_error(
                stub.TransactWriteItems(
                    transact(
                        pb.TransactWriteItem(
                            put=pb.PutItemRequest(table="nope", item=order("r", 9))
                        )
                    )
                ),
                Code.NOT_FOUND,
                "'nope'",
            )
            assert await digest(stub, "orders") == before

    run(body)


def test_concurrent_transactions_keep_their_conditions(tmp_path: pathlib.Path) -> None:
    """Transfers between two counters, many at once (group-committed together): every
    transaction sees the ones committed before it, so the balance never goes negative."""

    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            await put(stub, "orders", order("acct", 1, balance=N("20")))
            await put(stub, "orders", order("acct", 2, balance=N("0")))
            one = {":one": N("1")}
            transfer = transact(
                t_update(
                    order("acct", 1),
                    "SET balance = balance - :one",
                    one,
                    condition_expression="balance >= :one",
                ),
                t_update(order("acct", 2), "SET balance = balance + :one", one),
            )

            async def attempt() -> bool:
                try:
                    await stub.TransactWriteItems(transfer)
                    return True
                except grpc.aio.AioRpcError as exc:
                    assert errors.reason_of(exc) == errors.Reason.TRANSACTION_CANCELED
                    return False

            outcomes = await asyncio.gather(*(attempt() for _ in range(50)))
            assert sum(outcomes) == 20
            got = await stub.TransactGetItems(
                pb.TransactGetItemsRequest(
                    items=[
                        pb.GetItemRequest(table="orders", key=order("acct", 1)),
                        pb.GetItemRequest(
                            table="orders", key=order("acct", 2), projection_expression="balance"
                        ),
                        pb.GetItemRequest(table="orders", key=order("acct", 3)),
                    ]
                )
            )
            first, second, missing = got.responses
            assert first.item == order("acct", 1, balance=N("0"))
            assert second.item == item(balance=N("20")) and second.version.hlc > 0
            assert not missing.found

    run(body)
