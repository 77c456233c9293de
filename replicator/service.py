"""The replicator's gRPC service (meridian.replicator.v1.Replicator)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import NoReturn

import grpc

from meridian.model import hlc
from meridian.pb import node_pb2 as pb
from meridian.pb import replication_pb2_grpc as pb_grpc
from meridian.pb import replicator_pb2 as rpb
from meridian.pb import replicator_pb2_grpc as rpb_grpc
from meridian.security import identity
from meridian.security.dial import Dialer
from meridian.wire import errors
from replicator.bootstrap import BATCH_ENTRIES, copy_from, new_state
from replicator.feeds import Feeds
from replicator.handshake import Claims, Refused, check_peer, compare_tables
from replicator.identity import from_hello, hello, local_identity
from replicator.link import Link
from replicator.metrics import ReplicatorMetrics
from replicator.pins import NothingToAccept, Pins
from replicator.progress import Behind
from replicator.source import serve_pull

log = logging.getLogger(__name__)


class ReplicatorService(rpb_grpc.ReplicatorServicer):
    def __init__(
        self,
        *,
        region: str,
        members: list[str],
        node: pb_grpc.ReplicationStub,
        links: Callable[[], list[Link]],
        metrics: ReplicatorMetrics,
        pins: Pins,
        dialer: Dialer,
        addresses: dict[str, str] | None = None,
        bootstrap_batch: int = BATCH_ENTRIES,
        feeds: Feeds | None = None,
    ) -> None:
        self.dialer = dialer  # to peers, as this region; with TLS, callers prove who they are
        self.addresses = addresses or {}  # peer region -> replicator address
        self.region = region
        self.members = members
        self.node = node
        self.links = links
        self.metrics = metrics
        self.pins = pins
        self.claims = Claims()
        self.bootstrap_batch = bootstrap_batch  # entries per message of a resync's copy
        self.feeds = feeds  # node subscriptions shared by the peers' pulls

    async def _admit(
        self, req: rpb.HandshakeRequest, context: grpc.aio.ServicerContext, claim: bool = False
    ) -> None:
        """Refuse a peer that cannot replicate with this region, or a node other than the
        one its region is pinned to; with `claim`, also one while another node pulls for it.
        The claim is taken before the pin is checked, so a pull admitted just before an
        operator accepts another node is still ended by that acceptance."""
        me = await local_identity(self.node)
        try:
            self._check_certificate(req.region, context)
            check_peer(me, from_hello(req), self.members)
            if claim:
                self.claims.acquire(req.region, req.node_id)
            try:
                await self.pins.check(req.region, req.node_id)
            except BaseException:
                if claim:
                    self.claims.release(req.region, req.node_id)
                raise
        except Refused as exc:
            await self._refuse(req, exc, context)

    def _check_certificate(self, region: str, context: grpc.aio.ServicerContext) -> None:
        """With TLS, the caller's certificate must be the region's its hello claims."""
        if self.dialer.config.tls is None:
            return
        who = identity.from_auth_context(context.auth_context())
        try:
            identity.check_region_claim(who, self.dialer.config.group, region)
        except identity.IdentityRefused as exc:
            raise Refused(str(exc)) from exc

    async def _operator_only(self, command: str, context: grpc.aio.ServicerContext) -> None:
        """With TLS, an operator's commands need an operator's certificate."""
        if self.dialer.config.tls is None:
            return
        who = identity.from_auth_context(context.auth_context())
        try:
            identity.check_operator(who, self.dialer.config.group)
        except identity.IdentityRefused as exc:
            log.warning("%s refused: %s", command, exc)
            await errors.abort(context, errors.PermissionDenied(f"{command}: {exc}"))

    async def _refuse(
        self, req: rpb.HandshakeRequest, exc: Refused, context: grpc.aio.ServicerContext
    ) -> NoReturn:
        self.metrics.refusals.labels(self.region, req.region or "?", "source").inc()
        log.warning("handshake from %s (node %s) refused: %s", req.region, req.node_id, exc)
        await errors.abort(context, exc)

    async def Handshake(
        self, req: rpb.HandshakeRequest, context: grpc.aio.ServicerContext
    ) -> rpb.HandshakeResponse:
        await self._admit(req, context)
        for link in self.links():
            if link.peer == req.region:
                link.peer_is_up()
        me = await local_identity(self.node)
        msg = hello(me)
        return rpb.HandshakeResponse(
            group=msg.group, region=msg.region, node_id=msg.node_id, tables=msg.tables
        )

    async def Pull(
        self, req: rpb.PullRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[rpb.PullBatch]:
        await self._admit(req.hello, context, claim=True)
        peer, node_id = req.hello.region, req.hello.node_id
        try:
            me = await local_identity(self.node)
            shared, _ = compare_tables(me.tables, from_hello(req.hello).tables, peer)
            kept = [p for p in req.positions if p.table in shared]
            del req.positions[:]
            req.positions.extend(kept)
            async for batch in serve_pull(self.node, self.region, me, req, self.feeds):
                if not self.claims.holds(peer, node_id):
                    replaced = Refused(
                        f"region {peer!r} is no longer pinned to node {node_id} in "
                        f"{self.region}: an operator accepted another node"
                    )
                    await self._refuse(req.hello, replaced, context)
                yield batch
        except grpc.aio.AioRpcError as exc:
            await errors.forward(context, exc)
        finally:
            self.claims.release(peer, node_id)

    async def Snapshot(
        self, req: rpb.SnapshotPullRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.SnapshotBatch]:
        await self._admit(req.hello, context)
        log.info("snapshot of %s for %s", req.snapshot.table, req.hello.region)
        try:
            async for batch in self.node.Snapshot(req.snapshot):
                yield batch
        except grpc.aio.AioRpcError as exc:
            await errors.forward(context, exc)

    async def Hold(
        self, req: rpb.HoldRequest, context: grpc.aio.ServicerContext
    ) -> pb.HoldRetentionResponse:
        await self._admit(req.hello, context)
        hold = pb.HoldRetentionRequest()
        hold.CopyFrom(req.hold)
        hold.holder = req.hello.region
        try:
            reply: pb.HoldRetentionResponse = await self.node.HoldRetention(hold, timeout=5)
        except grpc.aio.AioRpcError as exc:
            await errors.forward(context, exc)
        return reply

    async def AcceptNode(
        self, req: rpb.AcceptNodeRequest, context: grpc.aio.ServicerContext
    ) -> rpb.AcceptNodeResponse:
        """Pin a peer region to another node by an operator's word; end the old one's pulls."""
        await self._operator_only("accept-node", context)
        if req.peer == self.region or req.peer not in self.members:
            others = ", ".join(m for m in self.members if m != self.region)
            await errors.abort_with(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                errors.Reason.INVALID_ARGUMENT,
                f"peer: expected one of {others}, got {req.peer!r}",
            )
        try:
            reply = await self.pins.accept(req.peer, req.node_id)
        except NothingToAccept as exc:  # the caller has to say which node
            await errors.abort_with(
                context, grpc.StatusCode.INVALID_ARGUMENT, errors.Reason.INVALID_ARGUMENT, str(exc)
            )
        self.claims.evict(req.peer, reply.node_id)
        if reply.changed:
            log.warning(
                "region %s: node %s accepted by an operator in place of node %s",
                req.peer,
                reply.node_id,
                reply.previous_node_id or "(none)",
            )
        return reply

    async def Progress(
        self, req: rpb.ProgressRequest, context: grpc.aio.ServicerContext
    ) -> pb.PeerProgress:
        """This region's checkpoints and rebuild horizons: what peers' collection waits for."""
        await self._admit(req.hello, context)
        me = await local_identity(self.node)
        try:
            ckpts = await self.node.GetCheckpoints(pb.GetCheckpointsRequest(), timeout=5)
        except grpc.aio.AioRpcError as exc:
            await errors.forward(context, exc)
        return pb.PeerProgress(
            region=self.region,
            node_id=me.node_id,
            checkpoints=ckpts.checkpoints,
            horizons=ckpts.horizons,
        )

    async def Catalog(
        self, req: rpb.ProgressRequest, context: grpc.aio.ServicerContext
    ) -> rpb.PeerCatalog:
        """This region's table catalog and the tables it holds now, for a peer to merge."""
        await self._admit(req.hello, context)
        me = await local_identity(self.node)
        try:
            catalog = await self.node.GetCatalog(pb.CatalogRequest(), timeout=5)
        except grpc.aio.AioRpcError as exc:
            await errors.forward(context, exc)
        return rpb.PeerCatalog(entries=catalog.entries, tables=hello(me).tables)

    async def Resync(
        self, req: rpb.ResyncRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[rpb.ResyncProgress]:
        """Merge a peer's snapshot by hand, streaming progress to the caller."""
        await self._operator_only("resync", context)
        address = self.addresses.get(req.source)
        if address is None or req.source == self.region:
            await errors.abort_with(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                errors.Reason.INVALID_ARGUMENT,
                f"source: expected one of {', '.join(sorted(self.addresses))}, got {req.source!r}",
            )
        me = await local_identity(self.node)
        queue: asyncio.Queue[rpb.ResyncProgress | None] = asyncio.Queue()

        def progress(state: pb.BootstrapState, table: str) -> None:
            queue.put_nowait(
                rpb.ResyncProgress(
                    state="RESYNCING",
                    entries=state.entries,
                    bytes=state.bytes,
                    table=table,
                    entries_estimate=state.entries_estimate,
                )
            )

        async def work() -> pb.BootstrapState:
            try:
                async with self.dialer.channel(address, req.source) as channel:
                    peer = rpb_grpc.ReplicatorStub(channel)
                    response = await peer.Handshake(hello(me, req.source), timeout=5)
                    check_peer(me, from_hello(response), self.members, req.source)
                    await self.pins.check(req.source, response.node_id)
                    return await copy_from(
                        node=self.node,
                        peer=peer,
                        me=me,
                        source=req.source,
                        state=new_state(req.source, "by hand"),
                        bootstrap=False,
                        on_progress=progress,
                        members=self.members,
                        batch=self.bootstrap_batch,
                    )
            finally:
                queue.put_nowait(None)

        task = asyncio.ensure_future(work())
        try:
            while (item := await queue.get()) is not None:
                yield item
            state = await task
        except grpc.aio.AioRpcError as exc:
            await errors.forward(context, exc, f"resync from {req.source} failed: {exc.details()}")
        except Refused as exc:
            self.metrics.refusals.labels(req.source, self.region, "target").inc()
            await errors.abort_with(
                context,
                grpc.StatusCode.FAILED_PRECONDITION,
                errors.Reason.HANDSHAKE_REFUSED,
                f"resync from {req.source} refused: {exc}",
            )
        except Behind as exc:
            await errors.abort_with(
                context, grpc.StatusCode.FAILED_PRECONDITION, errors.Reason.NOT_READY, str(exc)
            )
        finally:
            task.cancel()
        log.info("resynced %d entries from %s by hand", state.entries, req.source)
        yield rpb.ResyncProgress(state="DONE", entries=state.entries, bytes=state.bytes)

    async def Status(
        self, req: rpb.StatusRequest, context: grpc.aio.ServicerContext
    ) -> rpb.StatusResponse:
        return await region_status(self.region, self.node, self.links(), self.pins)


async def region_status(
    region: str, node: pb_grpc.ReplicationStub, links: list[Link], pins: Pins
) -> rpb.StatusResponse:
    """This region's state, bootstrap progress and incoming links (Status, the status page)."""
    now = hlc.wall_ms()
    info = await node.NodeInfo(pb.NodeInfoRequest(), timeout=5)
    response = rpb.StatusResponse(
        region=region,
        region_state=info.bootstrap.state or "STARTING",
        bootstrap=info.bootstrap,
        pins=info.pins,
        refused_nodes=pins.refused(),
        set_aside=info.set_aside,
    )
    for table in info.tables:
        stream = await node.DescribeStream(
            pb.DescribeStreamRequest(table=table.spec.name), timeout=5
        )
        response.stream_trimmed |= stream.trim_sequence_number > 1
    for link in links:
        s = link.status
        response.links.append(
            rpb.LinkStatus(
                source=link.peer,
                target=region,
                state=s.state,
                lag_seconds=link.lag_seconds(now),
                lag_records=sum(s.pending.values()),
                applied=s.applied,
                conflicts=s.conflicts,
                clock_rejected=s.clock_rejected,
                error=s.error,
                reconnects=s.reconnects,
                lag_history=s.lag_history,
                excluded_tables=[
                    rpb.TableMismatch(table=t, reason=r) for t, r in sorted(s.excluded.items())
                ],
            )
        )
    return response
