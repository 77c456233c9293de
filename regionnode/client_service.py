"""The client door (meridian.client.v1.Client): items, the change stream, table descriptions
and diagnostics. Item handlers translate requests (compiling their expressions) and call
`item_ops`, the item semantics every door shares; every change goes through the writer,
every read straight to the store."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import grpc

from meridian.expressions import Expressions, compile_request
from meridian.model.items import ItemError
from meridian.pb import client_pb2_grpc
from meridian.pb import node_pb2 as pb
from regionnode import query
from regionnode.client_auth import authorize, may_see
from regionnode.item_ops import (
    ItemOps,
    ReadOptions,
    TransactGet,
    TransactWrite,
    WriteOptions,
    key_of,
    key_schema,
)
from regionnode.rpc import Core, rpc, streaming
from regionnode.store import Table


class ClientService(client_pb2_grpc.ClientServicer):
    def __init__(self, core: Core) -> None:
        self.core = core
        self.items = ItemOps(core.store, core.writer)

    # ------------------------------------------------------------ tables

    @rpc
    async def DescribeTable(self, req: pb.DescribeTableRequest) -> pb.DescribeTableResponse:
        table = self.core.table(req.table)
        desc = pb.TableDescription()
        desc.CopyFrom(table.description)
        desc.approximate_item_count = sum(
            1
            for _, v in self.core.store.scan_prefix(table.schema.prefix)
            if not pb.StoredItem.FromString(v).tombstone
        )
        return pb.DescribeTableResponse(table=desc)

    @rpc
    async def ListTables(self, req: pb.ListTablesRequest) -> pb.ListTablesResponse:
        names = (name for name in self.core.store.tables if may_see(name))
        return pb.ListTablesResponse(tables=sorted(names))

    @rpc
    async def CreateTable(self, req: pb.CreateTableRequest) -> pb.CreateTableResponse:
        """A table in every region (the group-wide catalog); ALREADY_EXISTS if there is one."""
        await self.core.catalog.create(req.spec)
        return pb.CreateTableResponse(table=self.core.table(req.spec.name).description)

    @rpc
    async def DeleteTable(self, req: pb.DeleteTableRequest) -> pb.DeleteTableResponse:
        """Delete a table in every region, with its items and stream."""
        return pb.DeleteTableResponse(table=await self.core.catalog.delete(req.table))

    # ------------------------------------------------------------ item writes

    @rpc
    async def PutItem(self, req: pb.PutItemRequest) -> pb.WriteResult:
        table = self.core.table(req.table)
        return await self.items.put_item(table, req.item, _write_options("PutItem", table, req))

    @rpc
    async def DeleteItem(self, req: pb.DeleteItemRequest) -> pb.WriteResult:
        table = self.core.table(req.table)
        options = _write_options("DeleteItem", table, req)
        return await self.items.delete_item(table, req.key, options)

    @rpc
    async def UpdateItem(self, req: pb.UpdateItemRequest) -> pb.WriteResult:
        table = self.core.table(req.table)
        options = _write_options("UpdateItem", table, req)
        return await self.items.update_item(table, req.key, options)

    @rpc
    async def BatchWriteItem(self, req: pb.BatchWriteItemRequest) -> pb.BatchWriteItemResponse:
        table = self.core.table(req.table)
        writes: list[tuple[pb.Item | None, pb.Item | None]] = []
        for index, write in enumerate(req.writes):
            if write.HasField("put"):
                writes.append((write.put, None))
            elif write.HasField("delete_key"):
                writes.append((None, write.delete_key))
            else:
                raise ItemError(f"writes[{index}]: neither put nor delete_key is set")
        return await self.items.batch_write(table, writes)

    @rpc
    async def TransactWriteItems(
        self, req: pb.TransactWriteItemsRequest
    ) -> pb.TransactWriteItemsResponse:
        actions = [self._transact_write(index, item) for index, item in enumerate(req.items)]
        return pb.TransactWriteItemsResponse(results=await self.items.transact_write(actions))

    def _transact_write(self, index: int, item: pb.TransactWriteItem) -> TransactWrite:
        kind = item.WhichOneof("kind")
        if kind is None:
            raise ItemError(f"items[{index}]: none of condition_check, put, delete, update is set")
        req = getattr(item, kind)
        authorize("TransactWriteItems", req.table)
        table = self.core.table(req.table)
        operation, subject = _TRANSACT_KINDS[kind]
        options = _write_options(operation, table, req)
        return TransactWrite(operation, table, getattr(req, subject), options)

    # ------------------------------------------------------------ item reads

    @rpc
    async def GetItem(self, req: pb.GetItemRequest) -> pb.GetItemResponse:
        table = self.core.table(req.table)
        return self.items.get_item(table, req.key, _projection("GetItem", req))

    @rpc
    async def BatchGetItem(self, req: pb.BatchGetItemRequest) -> pb.BatchGetItemResponse:
        table = self.core.table(req.table)
        found = self.items.batch_get(table, req.keys, _projection("BatchGetItem", req))
        return pb.BatchGetItemResponse(items=found)

    @rpc
    async def TransactGetItems(
        self, req: pb.TransactGetItemsRequest
    ) -> pb.TransactGetItemsResponse:
        gets = []
        for get in req.items:
            authorize("TransactGetItems", get.table)
            table = self.core.table(get.table)
            gets.append(TransactGet(table, get.key, _projection("TransactGetItems", get)))
        return pb.TransactGetItemsResponse(responses=self.items.transact_get(gets))

    @rpc
    async def Query(self, req: pb.QueryRequest) -> pb.QueryResponse:
        table = self.core.table(req.table)
        expressions = compile_request(
            "Query",
            key_condition=_text(req, "key_condition_expression"),
            filter=_text(req, "filter_expression"),
            projection=_text(req, "projection_expression"),
            names=dict(req.expression_attribute_names) or None,
            values=dict(req.expression_attribute_values) or None,
            schema=key_schema(table),
        )
        forward = not req.HasField("scan_index_forward") or req.scan_index_forward
        options = ReadOptions(expressions, req.limit, _start(req), forward, req.select)
        page = self.items.query(table, options)
        return pb.QueryResponse(
            items=page.items,
            last_evaluated_key=page.last_evaluated_key,
            count=page.count,
            scanned_count=page.scanned_count,
        )

    @rpc
    async def Scan(self, req: pb.ScanRequest) -> pb.ScanResponse:
        table = self.core.table(req.table)
        expressions = None
        if _uses_expressions(req, "filter_expression", "projection_expression"):
            expressions = compile_request(
                "Scan",
                filter=_text(req, "filter_expression"),
                projection=_text(req, "projection_expression"),
                names=dict(req.expression_attribute_names) or None,
                values=dict(req.expression_attribute_values) or None,
            )
        options = ReadOptions(
            expressions,
            req.limit,
            _start(req),
            select=req.select,
            segment=req.segment,
            total_segments=req.total_segments,
        )
        page = self.items.scan(table, options)
        return pb.ScanResponse(
            items=page.items,
            last_evaluated_key=page.last_evaluated_key,
            count=page.count,
            scanned_count=page.scanned_count,
        )

    # ------------------------------------------------------------ stream

    @rpc
    async def DescribeStream(self, req: pb.DescribeStreamRequest) -> pb.DescribeStreamResponse:
        return self.core.streams.describe(self.core.table(req.table))

    @rpc
    async def GetShardIterator(
        self, req: pb.GetShardIteratorRequest
    ) -> pb.GetShardIteratorResponse:
        return pb.GetShardIteratorResponse(shard_iterator=self.core.streams.iterator(req))

    @rpc
    async def GetRecords(self, req: pb.GetRecordsRequest) -> pb.GetRecordsResponse:
        return self.core.streams.get_records(req)

    async def Subscribe(
        self, req: pb.SubscribeRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.SubscribeBatch]:
        records = _client_subscription(self.core, req)
        async for batch in streaming("Subscribe", records, self.core, context):
            yield batch

    # ------------------------------------------------------------ diagnostics

    @rpc
    async def ListConflicts(self, req: pb.ListConflictsRequest) -> pb.ListConflictsResponse:
        return self.core.recent_conflicts(req.limit)

    @rpc
    async def Digest(self, req: pb.DigestRequest) -> pb.DigestResponse:
        table = self.core.table(req.table)
        digest = hashlib.sha256()
        response = pb.DigestResponse()
        for key, value in self.core.store.scan_prefix(table.schema.prefix):
            stored = pb.StoredItem.FromString(value)
            digest.update(key)
            digest.update(_entry_bytes(stored))
            if stored.tombstone:
                response.tombstones += 1
            else:
                response.items += 1
        response.digest = digest.hexdigest()
        return response

    @rpc
    async def DiffKeys(self, req: pb.DiffKeysRequest) -> pb.DiffKeysResponse:
        table = self.core.table(req.table)
        start = _start(req)
        start_key = key_of(table, start)[0] if start is not None else None
        low, high = query.resume(
            table.schema.prefix, query.successor(table.schema.prefix), start_key, False
        )
        response = pb.DiffKeysResponse()
        limit = req.limit or 1000
        for _, value in self.core.store.scan_range(low, high):
            stored = pb.StoredItem.FromString(value)
            keys = table.schema.key_of(stored.item)
            response.entries.append(
                pb.KeyVersion(
                    keys=keys,
                    version=stored.version,
                    tombstone=stored.tombstone,
                    value_hash=hashlib.sha256(_entry_bytes(stored)).hexdigest()[:16],
                )
            )
            if len(response.entries) >= limit:
                response.last_evaluated_key.CopyFrom(keys)
                break
        return response


async def _client_subscription(
    core: Core, req: pb.SubscribeRequest
) -> AsyncIterator[pb.SubscribeBatch]:
    """A client's subscription: the table's view type decides the images it gets."""
    authorize("Subscribe", req.table)
    if req.stored:
        raise ItemError("stored: only the peer door serves records as stored (both images)")
    async for batch in core.streams.subscribe(req):
        yield batch


# What each kind of transaction action is, and the field holding its item or key.
_TRANSACT_KINDS = {
    "condition_check": ("ConditionCheck", "key"),
    "put": ("Put", "item"),
    "delete": ("Delete", "key"),
    "update": ("Update", "key"),
}
# Transaction actions compile their expressions as the operation they resemble.
_COMPILED_AS = {"Put": "PutItem", "Delete": "DeleteItem", "Update": "UpdateItem"}

WriteRequest = pb.PutItemRequest | pb.DeleteItemRequest | pb.UpdateItemRequest | pb.ConditionCheck


def _text(req: Any, field: str) -> str | None:
    """An optional expression field: None when unset."""
    return getattr(req, field) if req.HasField(field) else None


def _uses_expressions(req: Any, *fields: str) -> bool:
    return (
        any(req.HasField(field) for field in fields)
        or bool(req.expression_attribute_names)
        or bool(getattr(req, "expression_attribute_values", None))
    )


def _write_options(operation: str, table: Table, req: WriteRequest) -> WriteOptions:
    """A write's options, its expressions compiled (none at all costs nothing)."""
    expressions = None
    update = _text(req, "update_expression") if operation in ("UpdateItem", "Update") else None
    if update is not None or _uses_expressions(req, "condition_expression"):
        expressions = compile_request(
            _COMPILED_AS.get(operation, operation),
            update=update,
            condition=_text(req, "condition_expression"),
            names=dict(req.expression_attribute_names) or None,
            values=dict(req.expression_attribute_values) or None,
            schema=key_schema(table),
        )
    return WriteOptions(
        expressions,
        getattr(req, "return_values", pb.RETURN_VALUES_NONE),
        req.return_values_on_condition_check_failure == pb.RETURN_ON_CONDITION_FAILURE_ALL_OLD,
        req.expected_version if req.HasField("expected_version") else None,
    )


def _projection(
    operation: str, req: pb.GetItemRequest | pb.BatchGetItemRequest
) -> Expressions | None:
    if not _uses_expressions(req, "projection_expression"):
        return None
    return compile_request(
        operation,
        projection=_text(req, "projection_expression"),
        names=dict(req.expression_attribute_names) or None,
    )


def _start(req: pb.QueryRequest | pb.ScanRequest | pb.DiffKeysRequest) -> pb.Item | None:
    return req.exclusive_start_key if req.HasField("exclusive_start_key") else None


def _entry_bytes(stored: pb.StoredItem) -> bytes:
    """What two regions must agree on for a key: version, tombstone flag, value and (attribute
    merge mode) the version of each attribute."""
    head = f"{stored.version.hlc}|{stored.version.region}|{int(stored.tombstone)}|".encode()
    entry = head + stored.item.SerializeToString(deterministic=True)
    if stored.HasField("attributes"):
        entry += b"|" + stored.attributes.SerializeToString(deterministic=True)
    return entry
