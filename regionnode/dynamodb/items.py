"""The data plane: DynamoDB's item operations, translated onto `regionnode.item_ops`.

Each handler reads and checks its request members (`params`), compiles the request's
expressions (or its legacy parameters, where they map directly onto the expression
engine) and calls ItemOps, the item semantics the gRPC door uses too. Nothing here decides
what a write does to an item.

Accepted and ignored: ConsistentRead (every read of a region is consistent), ReturnConsumedCapacity
and ReturnItemCollectionMetrics (no ConsumedCapacity or ItemCollectionMetrics is returned),
ClientRequestToken (transactions are not deduplicated by token).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from meridian.expressions import Expressions, check_not_mixed, compile_legacy, compile_request
from meridian.model.items import item_size
from meridian.pb import node_pb2 as pb
from meridian.security.access import Operation
from regionnode import item_ops as ops
from regionnode.dynamodb import params as p
from regionnode.dynamodb.auth import READ, WRITE, Caller
from regionnode.dynamodb.convert import item_in, item_out, legacy_in, values_in
from regionnode.dynamodb.errors import validation
from regionnode.item_ops import ItemOps, ReadOptions, TransactGet, TransactWrite, WriteOptions
from regionnode.rpc import Core
from regionnode.store import Table

MAX_BATCH_GET_KEYS = 100
MAX_BATCH_WRITES = 25
MAX_BATCH_GET_BYTES = 16 * 1024 * 1024  # a BatchGetItem answer; further keys are unprocessed

Body = dict[str, Any]
Handler = Callable[[Body, Caller], Awaitable[Body]]

_RETURN_VALUES = {
    "NONE": pb.RETURN_VALUES_NONE,
    "ALL_OLD": pb.ALL_OLD,
    "ALL_NEW": pb.ALL_NEW,
    "UPDATED_OLD": pb.UPDATED_OLD,
    "UPDATED_NEW": pb.UPDATED_NEW,
}
_SELECT = {
    "ALL_ATTRIBUTES": pb.ALL_ATTRIBUTES,
    "ALL_PROJECTED_ATTRIBUTES": pb.ALL_ATTRIBUTES,
    "SPECIFIC_ATTRIBUTES": pb.SPECIFIC_ATTRIBUTES,
    "COUNT": pb.COUNT,
}
_CONSUMED = ("NONE", "TOTAL", "INDEXES")
_METRICS = ("NONE", "SIZE")


class DataPlane:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.items = ItemOps(core.store, core.writer)
        self.handlers: dict[str, Handler] = {
            "GetItem": self.get_item,
            "PutItem": self.put_item,
            "UpdateItem": self.update_item,
            "DeleteItem": self.delete_item,
            "BatchGetItem": self.batch_get_item,
            "BatchWriteItem": self.batch_write_item,
            "Query": self.query,
            "Scan": self.scan,
            "TransactWriteItems": self.transact_write_items,
            "TransactGetItems": self.transact_get_items,
        }

    def _table(self, body: Body, caller: Caller, operation: Operation) -> Table:
        name = p.table_name(body)
        caller.may(operation, name)
        return self.core.table(name)

    # ------------------------------------------------------------ writes

    async def put_item(self, body: Body, caller: Caller) -> Body:
        table = self._table(body, caller, WRITE)
        item = item_in(p.mapping(body, "Item", must=True))
        options = _write_options(body, "PutItem", table)
        return _write_response(await self.items.put_item(table, item, options))

    async def delete_item(self, body: Body, caller: Caller) -> Body:
        table = self._table(body, caller, WRITE)
        key = item_in(p.mapping(body, "Key", must=True))
        options = _write_options(body, "DeleteItem", table)
        return _write_response(await self.items.delete_item(table, key, options))

    async def update_item(self, body: Body, caller: Caller) -> Body:
        table = self._table(body, caller, WRITE)
        key = item_in(p.mapping(body, "Key", must=True))
        options = _write_options(body, "UpdateItem", table)
        return _write_response(await self.items.update_item(table, key, options))

    async def batch_write_item(self, body: Body, caller: Caller) -> Body:
        requests = p.mapping(body, "RequestItems", must=True)
        assert requests is not None
        _accepted(body)
        batches: list[tuple[Table, list[tuple[pb.Item | None, pb.Item | None]]]] = []
        count = 0
        for name, writes in requests.items():
            table = self._table({"TableName": name}, caller, WRITE)
            if not isinstance(writes, list) or not writes:
                raise _batch_size("requestItems", MAX_BATCH_WRITES)
            staged = [_batch_write(table, write) for write in writes]
            count += len(staged)
            batches.append((table, staged))
        if not 1 <= count <= MAX_BATCH_WRITES:
            raise _batch_size("requestItems", MAX_BATCH_WRITES)
        for table, staged in batches:
            await self.items.batch_write(table, staged)
        return {"UnprocessedItems": {}}

    async def transact_write_items(self, body: Body, caller: Caller) -> Body:
        actions = []
        for entry in _transact_items(body):
            kind, request = _only_action(entry, ("ConditionCheck", "Put", "Delete", "Update"))
            table = self._table(request, caller, WRITE)
            subject = "Item" if kind == "Put" else "Key"
            target = item_in(p.mapping(request, subject, must=True))
            operation = "ConditionCheck" if kind == "ConditionCheck" else f"{kind}Item"
            options = _write_options(request, operation, table, transaction=True)
            actions.append(TransactWrite(kind, table, target, options))
        p.string(body, "ClientRequestToken")
        _accepted(body)
        await self.items.transact_write(actions)
        return {}

    # ------------------------------------------------------------ reads

    async def get_item(self, body: Body, caller: Caller) -> Body:
        table = self._table(body, caller, READ)
        key = item_in(p.mapping(body, "Key", must=True))
        projection = _projection(body, "GetItem")
        p.boolean(body, "ConsistentRead")
        _accepted(body)
        found = self.items.get_item(table, key, projection)
        return {"Item": item_out(found.item)} if found.found else {}

    async def batch_get_item(self, body: Body, caller: Caller) -> Body:
        requests = p.mapping(body, "RequestItems", must=True)
        assert requests is not None
        _accepted(body)
        reads = []
        count = 0
        for name, request in requests.items():
            table = self._table({"TableName": name}, caller, READ)
            if not isinstance(request, dict):
                raise validation(f"RequestItems.{name}: expected an object")
            keys = [item_in(key) for key in p.array(request, "Keys", must=True) or ()]
            if not keys:
                raise _batch_size("requestItems.member.keys", MAX_BATCH_GET_KEYS)
            seen = {ops.key_of(table, key)[0] for key in keys}
            if len(seen) != len(keys):
                raise validation("Provided list of item keys contains duplicates")
            count += len(keys)
            p.boolean(request, "ConsistentRead")
            reads.append((name, request, table, keys, _projection(request, "BatchGetItem")))
        if count > MAX_BATCH_GET_KEYS:
            raise validation("Too many items requested for the BatchGetItem call")
        if not reads:
            raise _batch_size("requestItems", MAX_BATCH_GET_KEYS)
        responses: Body = {}
        unprocessed: Body = {}
        size = 0
        for name, request, table, keys, projection in reads:
            found = responses.setdefault(name, [])
            for index, key in enumerate(keys):
                if size >= MAX_BATCH_GET_BYTES:  # the rest is for the caller's next call
                    rest = request["Keys"][index:]
                    unprocessed[name] = {**request, "Keys": rest}
                    break
                for item in self.items.batch_get(table, [key], projection):
                    size += item_size(item)
                    found.append(item_out(item))
        return {"Responses": responses, "UnprocessedKeys": unprocessed}

    async def transact_get_items(self, body: Body, caller: Caller) -> Body:
        gets = []
        for entry in _transact_items(body):
            _, request = _only_action(entry, ("Get",))
            table = self._table(request, caller, READ)
            key = item_in(p.mapping(request, "Key", must=True))
            gets.append(TransactGet(table, key, _projection(request, "TransactGetItems")))
        p.choice(body, "ReturnConsumedCapacity", _CONSUMED)
        found = self.items.transact_get(gets)
        return {"Responses": [{"Item": item_out(r.item)} if r.found else {} for r in found]}

    async def query(self, body: Body, caller: Caller) -> Body:
        table = self._table(body, caller, READ)
        expressions = _read_expressions(body, table, query=True)
        forward = p.boolean(body, "ScanIndexForward")
        options = ReadOptions(
            expressions,
            p.integer(body, "Limit", 1, 2**31 - 1) or 0,
            _start_key(body),
            forward is not False,
            _select(body),
        )
        return _page_response(self.items.query(table, options), options)

    async def scan(self, body: Body, caller: Caller) -> Body:
        table = self._table(body, caller, READ)
        expressions = _read_expressions(body, table, query=False)
        segment = p.integer(body, "Segment", 0, 999_999)
        total = p.integer(body, "TotalSegments", 1, ops.MAX_TOTAL_SEGMENTS)
        if (segment is None) != (total is None):
            present, missing = (
                ("Segment", "TotalSegments")
                if total is None
                else (
                    "TotalSegments",
                    "Segment",
                )
            )
            raise validation(
                f"The {missing} parameter is required but was not present in the request "
                f"when {present} parameter is present"
            )
        options = ReadOptions(
            expressions,
            p.integer(body, "Limit", 1, 2**31 - 1) or 0,
            _start_key(body),
            select=_select(body),
            segment=segment or 0,
            total_segments=total or 0,
        )
        return _page_response(self.items.scan(table, options), options)


# ---------------------------------------------------------------- requests


def _accepted(body: Body) -> None:
    """The members every door accepts and answers nothing for."""
    p.choice(body, "ReturnConsumedCapacity", _CONSUMED)
    p.choice(body, "ReturnItemCollectionMetrics", _METRICS)


def _values(body: Body) -> dict[str, pb.AttributeValue] | None:
    values = p.mapping(body, "ExpressionAttributeValues")
    return None if values is None else values_in(values)


def _legacy(body: Body, name: str) -> dict[str, dict[str, Any]] | None:
    value = p.mapping(body, name)
    return None if value is None else legacy_in(value, name)


def _write_options(
    body: Body, operation: str, table: Table, transaction: bool = False
) -> WriteOptions:
    """A write's options: its compiled condition (and update) and what it returns."""
    check_not_mixed(body)
    expressions: Expressions | None
    update = p.string(body, "UpdateExpression") if operation == "UpdateItem" else None
    condition = p.string(body, "ConditionExpression")
    names, values = p.names(body), _values(body)
    expected = _legacy(body, "Expected") if not transaction else None
    updates = _legacy(body, "AttributeUpdates") if operation == "UpdateItem" else None
    operator = p.string(body, "ConditionalOperator")
    if expected is not None or updates is not None or operator is not None:
        expressions = compile_legacy(
            expected=expected,
            attribute_updates=updates,
            conditional_operator=operator,
            schema=ops.key_schema(table),
        )
    elif update is None and condition is None and names is None and values is None:
        expressions = None
    else:
        expressions = compile_request(
            operation,
            update=update,
            condition=condition,
            names=names,
            values=values,
            schema=ops.key_schema(table),
        )
    returns = _RETURN_VALUES[p.choice(body, "ReturnValues", _RETURN_VALUES) or "NONE"]
    if transaction:
        p.refuse(body, "ReturnValues", "transactions return no values")
    on_failure = p.choice(body, "ReturnValuesOnConditionCheckFailure", ("NONE", "ALL_OLD"))
    if not transaction:
        _accepted(body)
    return WriteOptions(expressions, returns, on_failure == "ALL_OLD")


def _write_response(result: pb.WriteResult) -> Body:
    if result.HasField("attributes") and result.attributes.attributes:
        return {"Attributes": item_out(result.attributes)}
    return {}


def _projection(body: Body, operation: str) -> Expressions | None:
    check_not_mixed(body)
    attributes = p.strings(body, "AttributesToGet")
    if attributes is not None:
        return compile_legacy(attributes_to_get=attributes)
    projection, names = p.string(body, "ProjectionExpression"), p.names(body)
    if projection is None and names is None:
        return None
    return compile_request(operation, projection=projection, names=names)


_QUERY_EXPRESSIONS = (
    "KeyConditionExpression",
    "FilterExpression",
    "ProjectionExpression",
    "ExpressionAttributeNames",
    "ExpressionAttributeValues",
)


def _read_expressions(body: Body, table: Table, query: bool) -> Expressions | None:
    """A Query's or Scan's expressions, or its legacy parameters."""
    check_not_mixed(body)
    p.refuse(body, "IndexName", "secondary indexes are not served yet (tables have none)")
    p.boolean(body, "ConsistentRead")
    p.choice(body, "ReturnConsumedCapacity", _CONSUMED)
    key_conditions = _legacy(body, "KeyConditions") if query else None
    filters = _legacy(body, "QueryFilter" if query else "ScanFilter")
    operator = p.string(body, "ConditionalOperator")
    attributes = p.strings(body, "AttributesToGet")
    if key_conditions is not None or filters is not None or operator or attributes is not None:
        mixed = [name for name in _QUERY_EXPRESSIONS if body.get(name) is not None]
        if mixed:
            raise validation(
                "KeyConditions cannot be combined with expression parameters here "
                f"({', '.join(mixed)}): use KeyConditionExpression"
            )
        return compile_legacy(
            key_conditions=key_conditions,
            query_filter=filters if query else None,
            scan_filter=None if query else filters,
            conditional_operator=operator,
            attributes_to_get=attributes,
            schema=ops.key_schema(table),
        )
    key = p.string(body, "KeyConditionExpression") if query else None
    filter_ = p.string(body, "FilterExpression")
    projection = p.string(body, "ProjectionExpression")
    names, values = p.names(body), _values(body)
    if not query and filter_ is None and projection is None and names is None and values is None:
        return None
    return compile_request(
        "Query" if query else "Scan",
        key_condition=key,
        filter=filter_,
        projection=projection,
        names=names,
        values=values,
        schema=ops.key_schema(table) if query else None,
    )


def _select(body: Body) -> int:
    select = p.choice(body, "Select", _SELECT)
    if select == "ALL_PROJECTED_ATTRIBUTES":
        raise validation(
            "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
        )
    return _SELECT[select] if select is not None else pb.SELECT_UNSPECIFIED


def _start_key(body: Body) -> pb.Item | None:
    start = p.mapping(body, "ExclusiveStartKey")
    return None if start is None else item_in(start)


def _page_response(page: ops.Page, options: ReadOptions) -> Body:
    out: Body = {"Count": page.count, "ScannedCount": page.scanned_count}
    if options.select != pb.COUNT:
        out["Items"] = [item_out(item) for item in page.items]
    if page.last_evaluated_key is not None:
        out["LastEvaluatedKey"] = item_out(page.last_evaluated_key)
    return out


def _batch_write(table: Table, write: Any) -> tuple[pb.Item | None, pb.Item | None]:
    if not isinstance(write, dict) or len(write) != 1:
        raise validation(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one "
            "of the supported datatypes: one of PutRequest or DeleteRequest per request"
        )
    ((kind, request),) = write.items()
    if kind not in ("PutRequest", "DeleteRequest") or not isinstance(request, dict):
        raise validation(f"BatchWriteItem: unknown request {kind!r}: PutRequest or DeleteRequest")
    if kind == "PutRequest":
        item = item_in(p.mapping(request, "Item", must=True))
        ops.item_target(table, item)  # refuse a bad item before any table is written
        return item, None
    key = item_in(p.mapping(request, "Key", must=True))
    ops.key_target(table, key)
    return None, key


def _batch_size(member: str, most: int) -> Exception:
    return validation(
        f"1 validation error detected: Value at '{member}' failed to satisfy constraint: "
        f"Member must have length less than or equal to {most}, Member must have length "
        f"greater than or equal to 1"
    )


def _transact_items(body: Body) -> list[Any]:
    items = p.array(body, "TransactItems", must=True) or []
    if not 1 <= len(items) <= ops.MAX_TRANSACT_ITEMS:
        raise _batch_size("transactItems", ops.MAX_TRANSACT_ITEMS)
    return items


def _only_action(entry: Any, kinds: tuple[str, ...]) -> tuple[str, Body]:
    """The one action of a transaction entry: its kind and its request."""
    present = [kind for kind in kinds if isinstance(entry, dict) and entry.get(kind) is not None]
    if len(present) != 1 or not isinstance(entry[present[0]], dict):
        raise validation(
            "TransactItems can only contain one of Check, Put, Update or Delete"
            if len(kinds) > 1
            else "TransactItems: each entry needs a Get"
        )
    return present[0], entry[present[0]]
