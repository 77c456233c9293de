"""Joining the group: decide whether this region must bootstrap, pick a source, copy.

A region is ACTIVE once its node says so. A node that was never bootstrapped and holds
nothing needs the group's data. While every peer's stream still starts at sequence 1 (a new
group, or one younger than its retention), streaming each origin from the start brings it
all, so the region becomes ACTIVE at once. Otherwise it copies a peer's snapshot first: also
when a peer is pinned to an earlier node of this region, whose own writes only the peers
still hold (a replaced node; the peers refuse it until an operator accepts it). A
node that already holds data, or has no peers, just becomes ACTIVE. ACTIVE peers are
preferred as the source; a peer still bootstrapping is a safe fallback (the positions of a
half-done copy are not installed yet, so this region would stream those origins from the
start). Any origin whose stream later turns out trimmed is resynced by its link.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import grpc

from meridian.config import RegionConfig
from meridian.daemon import backoff
from meridian.pb import node_pb2 as pb
from meridian.pb import replication_pb2_grpc as pb_grpc
from meridian.pb import replicator_pb2 as rpb
from meridian.pb import replicator_pb2_grpc as rpb_grpc
from meridian.security.dial import Dialer
from replicator.bootstrap import BATCH_ENTRIES, Progress, copy_from, mark_active, new_state
from replicator.handshake import Identity
from replicator.identity import hello

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Survey:
    source: str | None  # an ACTIVE peer if one answers, else any that answers
    trimmed: bool  # some answering peer's streams lost their beginning to retention
    replaced: bool  # some answering peer knew an earlier node of this region


async def survey(dialer: Dialer, peers: Sequence[RegionConfig], me: Identity) -> Survey:
    source, fallback, trimmed, replaced = None, None, False, False
    for peer in peers:
        async with dialer.channel(str(peer.replicator_address), peer.name) as channel:
            try:
                reply = await rpb_grpc.ReplicatorStub(channel).Status(
                    rpb.StatusRequest(), timeout=2
                )
            except grpc.aio.AioRpcError:
                continue
        trimmed |= reply.stream_trimmed
        replaced |= any(p.region == me.region and p.node_id != me.node_id for p in reply.pins)
        if reply.region_state == "ACTIVE":
            source = source or peer.name
        fallback = fallback or peer.name
    return Survey(source or fallback, trimmed, replaced)


HOLD_TTL_S = 600
HOLD_REFRESH_S = 60
HOLD_GRACE_S = 120  # after ACTIVE: time for the links to read past the copy's positions


async def hold_origins(
    dialer: Dialer,
    me: Identity,
    addresses: dict[str, str],
    watermarks: Sequence[pb.Checkpoint],
    ttl_s: int,
) -> None:
    """Ask each origin to keep its stream records after the copy's position for it."""
    by_origin: dict[str, list[pb.RetentionHold]] = {}
    for mark in watermarks:
        if mark.origin in addresses:
            hold = pb.RetentionHold(table=mark.table, sequence_number=mark.sequence_number + 1)
            by_origin.setdefault(mark.origin, []).append(hold)
    for origin, holds in by_origin.items():
        async with dialer.channel(addresses[origin], origin) as channel:
            request = rpb.HoldRequest(
                hello=hello(me, origin),
                hold=pb.HoldRetentionRequest(holds=holds, ttl_seconds=ttl_s),
            )
            try:
                await rpb_grpc.ReplicatorStub(channel).Hold(request, timeout=5)
            except grpc.aio.AioRpcError as exc:
                log.warning("retention hold at %s not set: %s", origin, exc.details())


async def keep_holds(
    dialer: Dialer, me: Identity, addresses: dict[str, str], state: pb.BootstrapState
) -> None:
    """Renew the holds for the copy's positions until cancelled."""
    while True:
        await asyncio.sleep(HOLD_REFRESH_S)
        await hold_origins(dialer, me, addresses, state.watermarks, HOLD_TTL_S)


async def join(
    dialer: Dialer,
    node: pb_grpc.ReplicationStub,
    me: Identity,
    peers: Sequence[RegionConfig],
    on_progress: Progress,
    batch: int = BATCH_ENTRIES,
) -> pb.BootstrapState:
    """Return once this region is ACTIVE, bootstrapping it first when needed."""
    info = await node.NodeInfo(pb.NodeInfoRequest(), timeout=5)
    state = info.bootstrap
    if state.state == "ACTIVE":
        return state
    table = sorted(me.tables)[0]  # a new region holds its group file's tables
    if not state.state and not peers:
        await mark_active(node, pb.BootstrapState(reason="no peers"), table)
        return state
    if not state.state and info.has_data:
        # Data written here already, but if the peers knew an earlier node of this region,
        # this one replaces it: what that node wrote lives only in the peers now (its
        # deletes too, as tombstones no stream brings back), so copy from them all the same.
        found = await survey(dialer, peers, me)
        if not found.replaced or found.source is None:
            await mark_active(node, pb.BootstrapState(reason="holds data already"), table)
            return state
        state = new_state(found.source, "replaces an earlier node of this region")
    addresses = {p.name: str(p.replicator_address) for p in peers}
    attempt = 0
    while True:
        if state.source:
            source, trimmed = state.source, True
        else:
            found = await survey(dialer, peers, me)
            source, trimmed = found.source, found.trimmed or found.replaced
        if source is not None and not trimmed:
            # Every stream still holds its whole history: streaming each origin from its
            # start brings everything, with one stream record per write here too.
            await mark_active(node, pb.BootstrapState(reason="streams hold all history"), table)
            return state
        if source is not None:
            if not state.state:
                state = new_state(source, "new region")
            log.info("bootstrapping %s from %s (%s)", me.region, source, state.reason)
            if state.watermarks:  # resuming: renew the holds before copying on
                await hold_origins(dialer, me, addresses, state.watermarks, HOLD_TTL_S)
            holder = asyncio.ensure_future(keep_holds(dialer, me, addresses, state))
            try:
                async with dialer.channel(addresses[source], source) as ch:
                    state = await copy_from(
                        node=node,
                        peer=rpb_grpc.ReplicatorStub(ch),
                        me=me,
                        source=source,
                        state=state,
                        bootstrap=True,
                        on_progress=on_progress,
                        on_positions=lambda marks: hold_origins(
                            dialer, me, addresses, marks, HOLD_TTL_S
                        ),
                        batch=batch,
                    )
                await mark_active(node, state, table)
                await hold_origins(dialer, me, addresses, state.watermarks, HOLD_GRACE_S)
                log.info(
                    "%s is ACTIVE: copied %d entries from %s", me.region, state.entries, source
                )
                return state
            except grpc.aio.AioRpcError as exc:
                log.warning("bootstrap from %s interrupted: %s; retrying", source, exc.details())
            finally:
                holder.cancel()
        await asyncio.sleep(backoff.delay(attempt, base=0.2, cap=5.0))
        attempt += 1
