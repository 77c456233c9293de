"""The node's gRPC service (meridian.node.v1.Node): requests in, store operations out.

Handlers validate and translate; every change goes through the Writer, every read straight
to the store. Errors are mapped to status codes in one place (errors.py) by `_rpc`.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import hashlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from meridian.model import hlc, schema
from meridian.model.items import ItemError, check_item, normalize_item
from meridian.pb import node_pb2 as pb
from meridian.pb import node_pb2_grpc as pb_grpc
from meridian.wire import errors
from regionnode import pins, query
from regionnode.collection_ops import ProgressOp
from regionnode.local_writes import BatchOp, DeleteOp, PutOp, UpdateOp
from regionnode.metrics import NodeMetrics
from regionnode.replicated_apply import ApplyOp, record_keys
from regionnode.snapshot import stream_snapshot
from regionnode.snapshot_merge import SnapshotOp, entry_key, snapshot_removal
from regionnode.store import Store, Table
from regionnode.stream import Streams
from regionnode.writer import Writer

log = logging.getLogger(__name__)

MAX_BATCH_WRITES = 1000
MAX_BATCH_GETS = 1000
MAX_PAGE_BYTES = 1024 * 1024
READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
STATE_METADATA = "meridian-region-state"
Req = TypeVar("Req")
Item = TypeVar("Item")
Resp = TypeVar("Resp")


def _rpc(
    method: Callable[[NodeService, Req], Awaitable[Resp]],
) -> Callable[[NodeService, Req, grpc.aio.ServicerContext], Awaitable[Resp]]:
    """Time and count a unary handler, and map its errors to gRPC status codes."""
    name = method.__name__

    @functools.wraps(method)
    async def handler(self: NodeService, request: Req, context: grpc.aio.ServicerContext) -> Resp:
        start = time.perf_counter()
        code = "OK"
        try:
            if name in READS and self.store.bootstrap.state == "BOOTSTRAPPING":
                self._bootstrapping_read(context)
            return await method(self, request)
        except Exception as exc:
            status = errors.status_of(exc)
            if status is None:
                log.exception("%s failed", name)
            code = (status or errors.INTERNAL)[0].name
            await errors.abort(context, exc)
        finally:
            self.metrics.requests.labels(name, code).inc()
            self.metrics.latency.labels(name).observe(time.perf_counter() - start)

    return handler


class NodeService(pb_grpc.NodeServicer):
    def __init__(
        self,
        *,
        group: str,
        region: str,
        store: Store,
        writer: Writer,
        streams: Streams,
        metrics: NodeMetrics,
        conflicts: collections.deque[pb.Conflict],
        refuse_reads_while_bootstrapping: bool = False,
    ) -> None:
        self.group = group
        self.region = region
        self.store = store
        self.writer = writer
        self.streams = streams
        self.metrics = metrics
        self.conflicts = conflicts  # recent last-writer-wins losses, newest last
        self.refuse_bootstrapping_reads = refuse_reads_while_bootstrapping
        self._pin_lock = asyncio.Lock()  # a pin is read, decided and stored as one step

    def _bootstrapping_read(self, context: grpc.aio.ServicerContext) -> None:
        """A half-copied region must not pass for the truth: refuse, or say so in metadata."""
        state = self.store.bootstrap
        if self.refuse_bootstrapping_reads:
            done = f"{state.entries} of about {state.entries_estimate} entries copied"
            raise errors.NotReady(
                f"region {self.region} is bootstrapping from {state.source} ({done}); reads "
                "are refused until it is ACTIVE (replication.reads_while_bootstrapping)"
            )
        context.set_trailing_metadata(((STATE_METADATA, "BOOTSTRAPPING"),))

    def _table(self, name: str) -> Table:
        return self.streams.table(name)

    # ------------------------------------------------------------ tables

    @_rpc
    async def CreateTable(self, req: pb.CreateTableRequest) -> pb.CreateTableResponse:
        spec = pb.TableSpec()
        spec.CopyFrom(req.spec)
        if not spec.view_type:
            spec.view_type = pb.NEW_AND_OLD_IMAGES
        if not spec.retention_seconds:
            spec.retention_seconds = schema.DEFAULT_RETENTION_S
        return pb.CreateTableResponse(table=ensure_table(self.store, spec))

    @_rpc
    async def DescribeTable(self, req: pb.DescribeTableRequest) -> pb.DescribeTableResponse:
        table = self._table(req.table)
        desc = pb.TableDescription()
        desc.CopyFrom(table.description)
        desc.approximate_item_count = sum(
            1
            for _, v in self.store.scan_prefix(table.schema.prefix)
            if not pb.StoredItem.FromString(v).tombstone
        )
        return pb.DescribeTableResponse(table=desc)

    @_rpc
    async def ListTables(self, req: pb.ListTablesRequest) -> pb.ListTablesResponse:
        return pb.ListTablesResponse(tables=sorted(self.store.tables))

    @_rpc
    async def DeleteTable(self, req: pb.DeleteTableRequest) -> pb.DeleteTableResponse:
        table = self._table(req.table)
        self.store.drop_table(req.table)
        return pb.DeleteTableResponse(table=table.description)

    # ------------------------------------------------------------ item writes

    def _item(self, table: Table, item: pb.Item) -> tuple[bytes, pb.Item]:
        check_item(item)
        return table.schema.extract(item)

    def _key(self, table: Table, key: pb.Item) -> tuple[bytes, pb.Item]:
        storage_key, keys = table.schema.check_key(key)
        normalize_item(keys)  # the storage key encodes numbers in their normal form already
        return storage_key, keys

    @_rpc
    async def PutItem(self, req: pb.PutItemRequest) -> pb.WriteResult:
        table = self._table(req.table)
        key, keys = self._item(table, req.item)
        op = PutOp(table, key, keys, req.item, list(req.conditions), req.return_values)
        return await self.writer.submit(op)  # type: ignore[return-value]

    @_rpc
    async def DeleteItem(self, req: pb.DeleteItemRequest) -> pb.WriteResult:
        table = self._table(req.table)
        key, keys = self._key(table, req.key)
        op = DeleteOp(table, key, keys, list(req.conditions), req.return_values)
        return await self.writer.submit(op)  # type: ignore[return-value]

    @_rpc
    async def UpdateItem(self, req: pb.UpdateItemRequest) -> pb.WriteResult:
        table = self._table(req.table)
        key, keys = self._key(table, req.key)
        if not req.actions:
            raise ItemError("actions: at least one update action is required")
        op = UpdateOp(table, key, keys, list(req.actions), list(req.conditions), req.return_values)
        return await self.writer.submit(op)  # type: ignore[return-value]

    @_rpc
    async def BatchWriteItem(self, req: pb.BatchWriteItemRequest) -> pb.BatchWriteItemResponse:
        table = self._table(req.table)
        if not 1 <= len(req.writes) <= MAX_BATCH_WRITES:
            raise ItemError(
                f"writes: expected 1 to {MAX_BATCH_WRITES} requests, got {len(req.writes)}"
            )
        writes: list[tuple[bytes, pb.Item, pb.Item | None]] = []
        seen: set[bytes] = set()
        for index, write in enumerate(req.writes):
            try:
                if write.HasField("put"):
                    key, keys = self._item(table, write.put)
                    writes.append((key, keys, write.put))
                elif write.HasField("delete_key"):
                    key, keys = self._key(table, write.delete_key)
                    writes.append((key, keys, None))
                else:
                    raise ItemError("neither put nor delete_key is set")
            except ItemError as exc:
                raise ItemError(f"writes[{index}]: {exc}") from None
            if key in seen:
                raise ItemError(f"writes[{index}]: the batch already writes this key")
            seen.add(key)
        return await self.writer.submit(BatchOp(table, writes))  # type: ignore[return-value]

    # ------------------------------------------------------------ item reads

    @_rpc
    async def GetItem(self, req: pb.GetItemRequest) -> pb.GetItemResponse:
        table = self._table(req.table)
        key, _ = self._key(table, req.key)
        stored = self.store.get_item(key)
        if stored is None or stored.tombstone:
            return pb.GetItemResponse(found=False)
        return pb.GetItemResponse(found=True, item=stored.item, version=stored.version)

    @_rpc
    async def BatchGetItem(self, req: pb.BatchGetItemRequest) -> pb.BatchGetItemResponse:
        table = self._table(req.table)
        if len(req.keys) > MAX_BATCH_GETS:
            raise ItemError(f"keys: at most {MAX_BATCH_GETS}, got {len(req.keys)}")
        encoded = [self._key(table, key)[0] for key in req.keys]
        response = pb.BatchGetItemResponse()
        for raw in self.store.get_many(encoded):
            if raw is not None:
                stored = pb.StoredItem.FromString(raw)
                if not stored.tombstone:
                    response.items.append(stored.item)
        return response

    @_rpc
    async def Query(self, req: pb.QueryRequest) -> pb.QueryResponse:
        table = self._table(req.table)
        sch = table.schema
        if not req.HasField("partition_key"):
            raise ItemError(f"partition_key: required (the value of {sch.pk_name!r})")
        prefix = sch.partition_prefix(req.partition_key)
        low, high = query.sort_range(sch, prefix, req.sort_key)
        start = (
            self._key(table, req.exclusive_start_key)[0]
            if req.HasField("exclusive_start_key")
            else None
        )
        low, high = query.resume(low, high, start, req.backward)
        rows = self.store.scan_range(low, high, reverse=req.backward)
        items, last = _page(rows, req.limit, sch)
        return pb.QueryResponse(items=items, last_evaluated_key=last)

    @_rpc
    async def Scan(self, req: pb.ScanRequest) -> pb.ScanResponse:
        table = self._table(req.table)
        sch = table.schema
        total = req.total_segments or 1
        if req.segment >= total:
            raise ItemError(f"segment: must be below total_segments ({total})")
        start = (
            self._key(table, req.exclusive_start_key)[0]
            if req.HasField("exclusive_start_key")
            else None
        )
        low, high = query.resume(sch.prefix, query.successor(sch.prefix), start, False)
        rows = (
            (k, v)
            for k, v in self.store.scan_range(low, high)
            if total == 1 or query.in_segment(_partition_of(sch, v), req.segment, total)
        )
        items, last = _page(rows, req.limit, sch)
        return pb.ScanResponse(items=items, last_evaluated_key=last)

    # ------------------------------------------------------------ stream

    @_rpc
    async def DescribeStream(self, req: pb.DescribeStreamRequest) -> pb.DescribeStreamResponse:
        return self.streams.describe(self._table(req.table))

    @_rpc
    async def GetShardIterator(
        self, req: pb.GetShardIteratorRequest
    ) -> pb.GetShardIteratorResponse:
        return pb.GetShardIteratorResponse(shard_iterator=self.streams.iterator(req))

    @_rpc
    async def GetRecords(self, req: pb.GetRecordsRequest) -> pb.GetRecordsResponse:
        return self.streams.get_records(req)

    async def Subscribe(
        self, req: pb.SubscribeRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.SubscribeBatch]:
        async for batch in _streaming("Subscribe", self.streams.subscribe(req), self, context):
            yield batch

    # ------------------------------------------------------------ replication support

    @_rpc
    async def NodeInfo(self, req: pb.NodeInfoRequest) -> pb.NodeInfoResponse:
        response = pb.NodeInfoResponse(
            bootstrap=self.store.bootstrap,
            has_data=self.store.has_data(),
            group=self.group,
            region=self.region,
            node_id=self.store.node_id,
            hlc=self.writer.clock.last,
        )
        for name in sorted(self.store.tables):
            response.tables.append(self.store.tables[name].description)
        response.pins.extend(self.store.pins())
        return response

    @_rpc
    async def PinPeer(self, req: pb.PinPeerRequest) -> pb.PinPeerResponse:
        if not req.region or req.region == self.region:
            raise ItemError(f"region: expected a peer region of {self.region}, got {req.region!r}")
        if not req.node_id:
            raise ItemError("node_id: required")
        async with self._pin_lock:
            current = self.store.pin(req.region)
            new = pins.decide(current, req.region, req.node_id, req.replace, hlc.wall_ms())
            if new is None:
                assert current is not None
                return pb.PinPeerResponse(pin=current)
            await asyncio.to_thread(self.store.put_pin, new)
        if current is None:
            log.info("peer region %s pinned to node %s (first link)", new.region, new.node_id)
        else:
            log.warning(
                "peer region %s re-pinned from node %s to node %s (accepted by an operator)",
                new.region,
                new.previous_node_id,
                new.node_id,
            )
        return pb.PinPeerResponse(pin=new, changed=True)

    async def Snapshot(
        self, req: pb.SnapshotRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.SnapshotBatch]:
        async for batch in _streaming("Snapshot", self._snapshot(req), self, context):
            yield batch

    async def _snapshot(self, req: pb.SnapshotRequest) -> AsyncIterator[pb.SnapshotBatch]:
        table = self._table(req.table)
        async for batch in stream_snapshot(self.store, self.region, table, req):
            yield batch

    @_rpc
    async def ApplySnapshot(self, req: pb.ApplySnapshotRequest) -> pb.ApplySnapshotResponse:
        table = self._table(req.table)
        keys = [entry_key(table, index, entry) for index, entry in enumerate(req.entries)]
        progress = req.progress if req.HasField("progress") else None
        removal = snapshot_removal(self.region, table, req, keys)
        op = SnapshotOp(table, list(req.entries), keys, progress, list(req.install), removal)
        response: pb.ApplySnapshotResponse = await self.writer.submit(op)  # type: ignore[assignment]
        if response.removed:
            self.metrics.snapshot_removed.inc(response.removed)
        return response

    @_rpc
    async def HoldRetention(self, req: pb.HoldRetentionRequest) -> pb.HoldRetentionResponse:
        if not req.holder:
            raise ItemError("holder: required")
        holds = self.streams.holds
        if req.release:
            holds.release(req.holder)
            return pb.HoldRetentionResponse()
        until = time.monotonic() + (req.ttl_seconds or 600)
        for hold in req.holds:
            self._table(hold.table)
            holds.hold(req.holder, hold.table, hold.sequence_number, until)
        return pb.HoldRetentionResponse()

    @_rpc
    async def ApplyReplicated(self, req: pb.ApplyReplicatedRequest) -> pb.ApplyReplicatedResponse:
        table = self._table(req.table)
        keys = record_keys(self.region, table, req)
        op = ApplyOp(
            table,
            req.origin,
            list(req.records),
            keys,
            req.max_clock_offset_ms,
            req.source_sequence,
            req.origin_node_id,
            req.complete_through_ms,
        )
        response: pb.ApplyReplicatedResponse = await self.writer.submit(op)  # type: ignore[assignment]
        counter = self.metrics.replicated
        for outcome in (
            "applied",
            "lost_to_newer",
            "duplicate",
            "stale_sequence",
            "clock_rejected",
        ):
            value = getattr(response, outcome)
            if value:
                counter.labels(req.origin, outcome).inc(value)
        return response

    async def ApplyReplicatedStream(
        self,
        requests: AsyncIterator[pb.ApplyReplicatedRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[pb.ApplyReplicatedResponse]:
        """ApplyReplicated for a whole replication session. A message on an open stream costs
        both ends well under half the CPU of a unary call, and replicators send one per batch."""
        async for req in requests:
            yield await self.ApplyReplicated(req, context)

    @_rpc
    async def GetCheckpoints(self, req: pb.GetCheckpointsRequest) -> pb.GetCheckpointsResponse:
        horizons = [self.store.horizons[p] for p in sorted(self.store.horizons)]
        return pb.GetCheckpointsResponse(checkpoints=self.store.checkpoints(), horizons=horizons)

    @_rpc
    async def RecordPeerProgress(self, req: pb.PeerProgress) -> pb.RecordPeerProgressResponse:
        if not req.region or req.region == self.region:
            raise ItemError(f"region: must name another region, got {req.region!r}")
        report = pb.PeerProgress()
        report.CopyFrom(req)
        await self.writer.submit(ProgressOp(report))
        return pb.RecordPeerProgressResponse()

    @_rpc
    async def ListConflicts(self, req: pb.ListConflictsRequest) -> pb.ListConflictsResponse:
        recent = list(self.conflicts)[-(req.limit or 100) :]
        return pb.ListConflictsResponse(conflicts=recent)

    @_rpc
    async def Digest(self, req: pb.DigestRequest) -> pb.DigestResponse:
        table = self._table(req.table)
        digest = hashlib.sha256()
        response = pb.DigestResponse()
        for key, value in self.store.scan_prefix(table.schema.prefix):
            stored = pb.StoredItem.FromString(value)
            digest.update(key)
            digest.update(_entry_bytes(stored))
            if stored.tombstone:
                response.tombstones += 1
            else:
                response.items += 1
        response.digest = digest.hexdigest()
        return response

    @_rpc
    async def DiffKeys(self, req: pb.DiffKeysRequest) -> pb.DiffKeysResponse:
        table = self._table(req.table)
        start = (
            self._key(table, req.exclusive_start_key)[0]
            if req.HasField("exclusive_start_key")
            else None
        )
        low, high = query.resume(
            table.schema.prefix, query.successor(table.schema.prefix), start, False
        )
        response = pb.DiffKeysResponse()
        limit = req.limit or 1000
        for _, value in self.store.scan_range(low, high):
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


async def _streaming(
    name: str, source: AsyncIterator[Item], service: NodeService, context: grpc.aio.ServicerContext
) -> AsyncIterator[Item]:
    """Count a server-streaming call and map its errors, as `_rpc` does for unary ones."""
    service.metrics.requests.labels(name, "OK").inc()
    try:
        async for item in source:
            yield item
    except Exception as exc:
        if errors.status_of(exc) is None:
            log.exception("%s failed", name)
        await errors.abort(context, exc)


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


def ensure_table(store: Store, spec: pb.TableSpec) -> pb.TableDescription:
    """Create a table, or accept an existing one with the same key schema."""
    if not spec.retention_seconds:
        spec.retention_seconds = schema.DEFAULT_RETENTION_S
    schema.validate_spec(spec)
    existing = store.tables.get(spec.name)
    if existing is not None:
        if schema.fingerprint(existing.description.spec) != schema.fingerprint(spec):
            raise errors.AlreadyExists(
                f"table {spec.name!r} exists with {schema.describe(existing.description.spec)}, "
                f"not {schema.describe(spec)}"
            )
        if existing.description.spec.retention_seconds != spec.retention_seconds or (
            existing.description.spec.view_type != spec.view_type
        ):
            existing.description.spec.CopyFrom(spec)
            store.put_table(existing)
        return existing.description
    desc = pb.TableDescription(
        spec=spec,
        stream_id=uuid.uuid4().hex,
        created_ms=int(time.time() * 1000),
        schema_fingerprint=schema.fingerprint(spec),
    )
    store.put_table(Table(schema.Schema(spec), desc))
    return desc
