"""The peer door (meridian.replication.v1.Replication): what only the region's own
replicator calls. Every replicated record is checked here, whoever sent it: its origin is
another region of the group, its clock within this node's own `max_clock_offset`, and its
sequence numbers ascend (those not beyond the checkpoint are dropped)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import grpc

from meridian.daemon import hop_trace
from meridian.model import catalog as model_catalog
from meridian.model import hlc, schema
from meridian.model.items import ItemError
from meridian.pb import node_pb2 as pb
from meridian.pb import replication_pb2_grpc
from meridian.wire import errors
from regionnode import pins, stored_copy
from regionnode.client_auth import authorize
from regionnode.collection_ops import ProgressOp
from regionnode.replicated_apply import ApplyOp, scan_records
from regionnode.rpc import Core, rpc, streaming
from regionnode.snapshot import stream_snapshot
from regionnode.snapshot_merge import SnapshotOp, entry_key, snapshot_removal
from regionnode.store import Table
from regionnode.writer import Result

log = logging.getLogger(__name__)

APPLY_AHEAD = 8  # batches of one stream queued at the writer before their results go back
OUTCOMES = ("applied", "lost_to_newer", "duplicate", "stale_sequence", "clock_rejected")


class ReplicationService(replication_pb2_grpc.ReplicationServicer):
    def __init__(self, core: Core) -> None:
        self.core = core
        self._pin_lock = asyncio.Lock()  # a pin is read, decided and stored as one step

    @rpc
    async def NodeInfo(self, req: pb.NodeInfoRequest) -> pb.NodeInfoResponse:
        core = self.core
        response = pb.NodeInfoResponse(
            bootstrap=core.store.bootstrap,
            has_data=core.store.has_data(),
            group=core.group,
            region=core.region,
            node_id=core.store.node_id,
            hlc=core.writer.clock.last,
        )
        for name in sorted(core.store.tables):
            response.tables.append(core.store.tables[name].description)
        response.pins.extend(core.store.pins())
        response.set_aside.extend(core.catalog.set_aside)
        return response

    # ------------------------------------------------------------ tables

    @rpc
    async def CreateTable(self, req: pb.CreateTableRequest) -> pb.CreateTableResponse:
        """Create a table group-wide, or accept one that exists with the same key schema."""
        catalog = self.core.catalog
        current = catalog.entries.get(req.spec.name)
        if current is None or current.state == model_catalog.DELETED:
            return pb.CreateTableResponse(table=await catalog.create(req.spec))
        if current.schema_fingerprint != schema.fingerprint(req.spec):
            raise errors.AlreadyExists(
                f"table {req.spec.name!r} exists with {schema.describe(current.spec)}, "
                f"not {schema.describe(req.spec)}"
            )
        return pb.CreateTableResponse(table=current)

    @rpc
    async def DeleteTable(self, req: pb.DeleteTableRequest) -> pb.DeleteTableResponse:
        return pb.DeleteTableResponse(table=await self.core.catalog.delete(req.table))

    @rpc
    async def GetCatalog(self, req: pb.CatalogRequest) -> pb.Catalog:
        return self.core.catalog.snapshot()

    @rpc
    async def MergeCatalog(self, req: pb.MergeCatalogRequest) -> pb.MergeCatalogResponse:
        if req.source not in self.core.members or req.source == self.core.region:
            raise ItemError(f"source: must name another region of the group, got {req.source!r}")
        changed = await self.core.catalog.merge(req.entries)
        if changed:
            log.info("catalog entries from %s changed: %s", req.source, ", ".join(changed))
        return pb.MergeCatalogResponse(changed=changed)

    # ------------------------------------------------------------ stream

    @rpc
    async def DescribeStream(self, req: pb.DescribeStreamRequest) -> pb.DescribeStreamResponse:
        return self.core.streams.describe(self.core.table(req.table))

    async def Subscribe(
        self, req: pb.SubscribeRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.SubscribeBatch]:
        records = self.core.streams.subscribe(req)
        async for batch in streaming("Subscribe", records, self.core, context):
            yield batch

    # ------------------------------------------------------------ replicated writes

    @rpc
    async def ApplyReplicated(self, req: pb.ApplyReplicatedBatch) -> pb.ApplyReplicatedResponse:
        return await self._counted(req.origin, self._queue_apply(req))

    def _queue_apply(self, req: pb.ApplyReplicatedBatch) -> asyncio.Future[Result]:
        """Check a replicated batch and queue it at the writer at once, without awaiting:
        the writer commits operations in the order they were queued."""
        core = self.core
        table = core.table(req.table)
        check_incarnation(table, req.incarnation)
        op = ApplyOp(
            table,
            req.origin,
            scan_records(core.region, core.members, table, req),
            core.max_clock_offset_ms,
            req.source_sequence,
            req.origin_node_id,
            req.complete_through_ms,
            req.after_checkpoint,
        )
        return core.writer.enqueue(op)

    async def _counted(
        self, origin: str, result: asyncio.Future[Result]
    ) -> pb.ApplyReplicatedResponse:
        """The batch's result, counted by outcome."""
        response = await result
        assert isinstance(response, pb.ApplyReplicatedResponse)
        for outcome in OUTCOMES:
            value = getattr(response, outcome)
            if value:
                self.core.metrics.replicated.labels(origin, outcome).inc(value)
        return response

    async def ApplyReplicatedStream(
        self,
        requests: AsyncIterator[pb.ApplyReplicatedBatch],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[pb.ApplyReplicatedResponse]:
        """ApplyReplicated for a whole replication session. A message on an open stream costs
        both ends well under half the CPU of a unary call, and replicators send one per batch.

        Each batch is queued at the writer as soon as it arrives, not after the one before it
        committed: a replicator sends the next batch while the previous one is being written
        (pipelining), so it joins the next group commit instead of waiting a round trip.
        Results go back in order. A batch carries the checkpoint the batch before it brings
        (after_checkpoint), so none is applied after one that failed; after a refused batch
        nothing more is read."""
        results: asyncio.Queue[asyncio.Future[pb.ApplyReplicatedResponse] | None] = asyncio.Queue(
            APPLY_AHEAD
        )
        reader = asyncio.ensure_future(self._queue_applies(requests, results))
        result: asyncio.Future[pb.ApplyReplicatedResponse] | None = None
        try:
            while (result := await results.get()) is not None:
                yield await result
        except Exception as exc:
            code = (errors.status_of(exc) or errors.INTERNAL)[0].name
            self.core.metrics.requests.labels("ApplyReplicated", code).inc()
            if errors.status_of(exc) is None:
                log.exception("ApplyReplicatedStream failed")
            await errors.abort(context, exc)
        finally:
            reader.cancel()
            if result is not None:
                result.cancel()
            while not results.empty():
                pending = results.get_nowait()
                if pending is not None:
                    pending.cancel()

    async def _queue_applies(
        self,
        requests: AsyncIterator[pb.ApplyReplicatedBatch],
        results: asyncio.Queue[asyncio.Future[pb.ApplyReplicatedResponse] | None],
    ) -> None:
        """Queue every batch of the stream at the writer, and its result for the answer loop;
        a refused batch or a broken stream ends the queue with its error."""
        try:
            async for req in requests:
                hop_trace.event(
                    "recv", req.origin, req.table, req.source_sequence, len(req.records)
                )
                authorize("ApplyReplicated", req.table)
                queued = self._queue_apply(req)
                hop_trace.on_done(queued, "durable", req.origin, req.table, req.source_sequence)
                self.core.metrics.requests.labels("ApplyReplicated", "OK").inc()
                await results.put(asyncio.ensure_future(self._counted(req.origin, queued)))
        except Exception as exc:  # noqa: BLE001 - the answer loop raises it in its turn
            failed: asyncio.Future[pb.ApplyReplicatedResponse] = (
                asyncio.get_running_loop().create_future()
            )
            failed.set_exception(exc)
            await results.put(failed)
            return
        await results.put(None)

    @rpc
    async def GetCheckpoints(self, req: pb.GetCheckpointsRequest) -> pb.GetCheckpointsResponse:
        store = self.core.store
        horizons = [store.horizons[p] for p in sorted(store.horizons)]
        return pb.GetCheckpointsResponse(checkpoints=store.checkpoints(), horizons=horizons)

    @rpc
    async def RecordPeerProgress(self, req: pb.PeerProgress) -> pb.RecordPeerProgressResponse:
        if req.region not in self.core.members or req.region == self.core.region:
            raise ItemError(f"region: must name another region of the group, got {req.region!r}")
        report = pb.PeerProgress()
        report.CopyFrom(req)
        await self.core.writer.submit(ProgressOp(report))
        return pb.RecordPeerProgressResponse()

    @rpc
    async def PinPeer(self, req: pb.PinPeerRequest) -> pb.PinPeerResponse:
        core = self.core
        if req.region not in core.members or req.region == core.region:
            raise ItemError(f"region: expected a peer region of {core.region}, got {req.region!r}")
        if not req.node_id:
            raise ItemError("node_id: required")
        async with self._pin_lock:
            current = core.store.pin(req.region)
            new = pins.decide(current, req.region, req.node_id, req.replace, hlc.wall_ms())
            if new is None:
                assert current is not None
                return pb.PinPeerResponse(pin=current)
            await asyncio.to_thread(core.store.put_pin, new)
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

    # ------------------------------------------------------------ bootstrap and resync

    async def Snapshot(
        self, req: pb.SnapshotRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.SnapshotBatch]:
        async for batch in streaming("Snapshot", self._snapshot(req), self.core, context):
            yield batch

    async def _snapshot(self, req: pb.SnapshotRequest) -> AsyncIterator[pb.SnapshotBatch]:
        table = self.core.table(req.table)
        async for batch in stream_snapshot(self.core.store, self.core.region, table, req):
            yield batch

    @rpc
    async def ApplySnapshot(self, req: pb.ApplySnapshotRequest) -> pb.ApplySnapshotResponse:
        core = self.core
        table = core.table(req.table)
        check_incarnation(table, req.incarnation)
        if req.stored and req.entries:
            raise ItemError("entries: not with stored entries in the same request")
        if req.keys and not req.stored:
            raise ItemError("keys: given without stored entries")
        stored = list(req.stored) if req.stored else None
        if stored is not None:
            keys = list(req.keys)
            entries = stored_copy.decode(table, keys, stored)
        else:
            entries = list(req.entries)
            keys = [entry_key(table, index, entry) for index, entry in enumerate(entries)]
        progress = req.progress if req.HasField("progress") else None
        removal = snapshot_removal(core.region, table, req, keys)
        op = SnapshotOp(table, entries, keys, progress, list(req.install), removal, stored)
        response: pb.ApplySnapshotResponse = await core.writer.submit(op)  # type: ignore[assignment]
        if response.removed:
            core.metrics.snapshot_removed.inc(response.removed)
        return response

    @rpc
    async def HoldRetention(self, req: pb.HoldRetentionRequest) -> pb.HoldRetentionResponse:
        if not req.holder:
            raise ItemError("holder: required")
        holds = self.core.streams.holds
        if req.release:
            holds.release(req.holder)
            return pb.HoldRetentionResponse()
        until = time.monotonic() + (req.ttl_seconds or 600)
        for hold in req.holds:
            self.core.table(hold.table)
            holds.hold(req.holder, hold.table, hold.sequence_number, until)
        return pb.HoldRetentionResponse()

    @rpc
    async def ListConflicts(self, req: pb.ListConflictsRequest) -> pb.ListConflictsResponse:
        return self.core.recent_conflicts(req.limit)


def check_incarnation(table: Table, incarnation: str) -> None:
    """Records of another incarnation of the table (deleted and created again, or created
    elsewhere with another key schema) never land here: the link starts over instead."""
    if incarnation and incarnation != model_catalog.incarnation(table.description):
        raise errors.TableChanged(
            f"table {table.description.spec.name!r}: records of incarnation {incarnation}, "
            f"this region holds {model_catalog.incarnation(table.description)}"
        )


def add_to_server(service: ReplicationService, server: grpc.aio.Server) -> None:
    """Register the service as the generated code does, except that the apply methods read
    their requests as ApplyReplicatedBatch (an ApplyReplicatedRequest on the wire): one parse
    of the whole request leaves each record as its bytes."""
    handlers: dict[str, dict[str, grpc.RpcMethodHandler]] = {}

    class Capture:
        def add_generic_rpc_handlers(self, _handlers: object) -> None:
            pass

        def add_registered_method_handlers(
            self, name: str, methods: dict[str, grpc.RpcMethodHandler]
        ) -> None:
            handlers[name] = methods

    replication_pb2_grpc.add_ReplicationServicer_to_server(service, Capture())
    ((name, methods),) = handlers.items()
    answer = pb.ApplyReplicatedResponse.SerializeToString
    methods["ApplyReplicated"] = grpc.unary_unary_rpc_method_handler(
        service.ApplyReplicated,
        request_deserializer=pb.ApplyReplicatedBatch.FromString,
        response_serializer=answer,
    )
    methods["ApplyReplicatedStream"] = grpc.stream_stream_rpc_method_handler(
        service.ApplyReplicatedStream,
        request_deserializer=pb.ApplyReplicatedBatch.FromString,
        response_serializer=answer,
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, methods),))
    server.add_registered_method_handlers(name, methods)
