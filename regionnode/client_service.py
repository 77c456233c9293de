"""The client door (meridian.client.v1.Client): items, the change stream, table descriptions
and diagnostics. Handlers validate and translate; every change goes through the writer,
every read straight to the store."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import grpc

from meridian.model import schema
from meridian.model.items import ItemError, check_item, normalize_item
from meridian.pb import client_pb2_grpc
from meridian.pb import node_pb2 as pb
from regionnode import query
from regionnode.client_auth import authorize, may_see
from regionnode.local_writes import BatchOp, DeleteOp, PutOp, UpdateOp
from regionnode.rpc import Core, rpc, streaming
from regionnode.store import Table

MAX_BATCH_WRITES = 1000
MAX_BATCH_GETS = 1000
MAX_PAGE_BYTES = 1024 * 1024


class ClientService(client_pb2_grpc.ClientServicer):
    def __init__(self, core: Core) -> None:
        self.core = core

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

    # ------------------------------------------------------------ item writes

    @rpc
    async def PutItem(self, req: pb.PutItemRequest) -> pb.WriteResult:
        table = self.core.table(req.table)
        key, keys = _item(table, req.item)
        op = PutOp(table, key, keys, req.item, list(req.conditions), req.return_values)
        return await self.core.writer.submit(op)  # type: ignore[return-value]

    @rpc
    async def DeleteItem(self, req: pb.DeleteItemRequest) -> pb.WriteResult:
        table = self.core.table(req.table)
        key, keys = key_of(table, req.key)
        op = DeleteOp(table, key, keys, list(req.conditions), req.return_values)
        return await self.core.writer.submit(op)  # type: ignore[return-value]

    @rpc
    async def UpdateItem(self, req: pb.UpdateItemRequest) -> pb.WriteResult:
        table = self.core.table(req.table)
        key, keys = key_of(table, req.key)
        if not req.actions:
            raise ItemError("actions: at least one update action is required")
        op = UpdateOp(table, key, keys, list(req.actions), list(req.conditions), req.return_values)
        return await self.core.writer.submit(op)  # type: ignore[return-value]

    @rpc
    async def BatchWriteItem(self, req: pb.BatchWriteItemRequest) -> pb.BatchWriteItemResponse:
        table = self.core.table(req.table)
        if not 1 <= len(req.writes) <= MAX_BATCH_WRITES:
            raise ItemError(
                f"writes: expected 1 to {MAX_BATCH_WRITES} requests, got {len(req.writes)}"
            )
        writes: list[tuple[bytes, pb.Item, pb.Item | None]] = []
        seen: set[bytes] = set()
        for index, write in enumerate(req.writes):
            try:
                if write.HasField("put"):
                    key, keys = _item(table, write.put)
                    writes.append((key, keys, write.put))
                elif write.HasField("delete_key"):
                    key, keys = key_of(table, write.delete_key)
                    writes.append((key, keys, None))
                else:
                    raise ItemError("neither put nor delete_key is set")
            except ItemError as exc:
                raise ItemError(f"writes[{index}]: {exc}") from None
            if key in seen:
                raise ItemError(f"writes[{index}]: the batch already writes this key")
            seen.add(key)
        return await self.core.writer.submit(BatchOp(table, writes))  # type: ignore[return-value]

    # ------------------------------------------------------------ item reads

    @rpc
    async def GetItem(self, req: pb.GetItemRequest) -> pb.GetItemResponse:
        table = self.core.table(req.table)
        key, _ = key_of(table, req.key)
        stored = self.core.store.get_item(key)
        if stored is None or stored.tombstone:
            return pb.GetItemResponse(found=False)
        return pb.GetItemResponse(found=True, item=stored.item, version=stored.version)

    @rpc
    async def BatchGetItem(self, req: pb.BatchGetItemRequest) -> pb.BatchGetItemResponse:
        table = self.core.table(req.table)
        if len(req.keys) > MAX_BATCH_GETS:
            raise ItemError(f"keys: at most {MAX_BATCH_GETS}, got {len(req.keys)}")
        encoded = [key_of(table, key)[0] for key in req.keys]
        response = pb.BatchGetItemResponse()
        for raw in self.core.store.get_many(encoded):
            if raw is not None:
                stored = pb.StoredItem.FromString(raw)
                if not stored.tombstone:
                    response.items.append(stored.item)
        return response

    @rpc
    async def Query(self, req: pb.QueryRequest) -> pb.QueryResponse:
        table = self.core.table(req.table)
        sch = table.schema
        if not req.HasField("partition_key"):
            raise ItemError(f"partition_key: required (the value of {sch.pk_name!r})")
        prefix = sch.partition_prefix(req.partition_key)
        low, high = query.sort_range(sch, prefix, req.sort_key)
        start = _start_key(table, req)
        low, high = query.resume(low, high, start, req.backward)
        rows = self.core.store.scan_range(low, high, reverse=req.backward)
        items, last = _page(rows, req.limit, sch)
        return pb.QueryResponse(items=items, last_evaluated_key=last)

    @rpc
    async def Scan(self, req: pb.ScanRequest) -> pb.ScanResponse:
        table = self.core.table(req.table)
        sch = table.schema
        total = req.total_segments or 1
        if req.segment >= total:
            raise ItemError(f"segment: must be below total_segments ({total})")
        start = _start_key(table, req)
        low, high = query.resume(sch.prefix, query.successor(sch.prefix), start, False)
        rows = (
            (k, v)
            for k, v in self.core.store.scan_range(low, high)
            if total == 1 or query.in_segment(_partition_of(sch, v), req.segment, total)
        )
        items, last = _page(rows, req.limit, sch)
        return pb.ScanResponse(items=items, last_evaluated_key=last)

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
        recent = list(self.core.conflicts)[-(req.limit or 100) :]
        return pb.ListConflictsResponse(conflicts=recent)

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
        start = _start_key(table, req)
        low, high = query.resume(
            table.schema.prefix, query.successor(table.schema.prefix), start, False
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
    if req.full_images:
        raise ItemError("full_images: only the peer door serves both images whatever the view")
    async for batch in core.streams.subscribe(req):
        yield batch


def _item(table: Table, item: pb.Item) -> tuple[bytes, pb.Item]:
    check_item(item)
    return table.schema.extract(item)


def key_of(table: Table, key: pb.Item) -> tuple[bytes, pb.Item]:
    """A key given on its own: its storage key and its attributes, normalised."""
    storage_key, keys = table.schema.check_key(key)
    normalize_item(keys)  # the storage key encodes numbers in their normal form already
    return storage_key, keys


def _start_key(
    table: Table, req: pb.QueryRequest | pb.ScanRequest | pb.DiffKeysRequest
) -> bytes | None:
    if not req.HasField("exclusive_start_key"):
        return None
    return key_of(table, req.exclusive_start_key)[0]


def _entry_bytes(stored: pb.StoredItem) -> bytes:
    """What two regions must agree on for a key: version, tombstone flag and value."""
    head = f"{stored.version.hlc}|{stored.version.region}|{int(stored.tombstone)}|".encode()
    return head + stored.item.SerializeToString(deterministic=True)


def _partition_of(sch: schema.Schema, raw: bytes) -> bytes:
    item = pb.StoredItem.FromString(raw).item
    return sch.partition_prefix(item.attributes[sch.pk_name])


def _page(rows: Any, limit: int, sch: schema.Schema) -> tuple[list[pb.Item], pb.Item | None]:
    """Live items from storage rows, up to `limit` items or about 1 MB."""
    items: list[pb.Item] = []
    size = 0
    for _, value in rows:
        stored = pb.StoredItem.FromString(value)
        if stored.tombstone:
            continue
        items.append(stored.item)
        size += len(value)
        if (limit and len(items) >= limit) or size >= MAX_PAGE_BYTES:
            return items, sch.key_of(stored.item)
    return items, None
