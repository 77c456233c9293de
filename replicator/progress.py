"""Progress reports between regions, and the rebuild-horizon guards built on them.

A link asks its peer's replicator, after the handshake and then every few heartbeats, what
that region has applied (its checkpoints) and which peers it holds rebuild horizons for;
the local node stores the answer, and tombstone collection waits for these
acknowledgements (`regionnode/collection.py`). When this region collected tombstones
without a peer's confirmation (a rebuild horizon), it neither streams that peer's older
records nor copies from the peer until the peer has applied every region's stream past the
horizon, so it cannot hand back what those tombstones deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from meridian.model import collection
from meridian.pb import node_pb2 as pb
from meridian.pb import replication_pb2_grpc as pb_grpc
from meridian.pb import replicator_pb2 as rpb
from meridian.pb import replicator_pb2_grpc as rpb_grpc
from replicator.handshake import Identity
from replicator.identity import hello

RPC_TIMEOUT_S = 5.0


def interval(heartbeat_s: float) -> float:
    """How often a link refreshes its peer's report: every five heartbeats, at least 0.5 s."""
    return max(0.5, 5 * heartbeat_s)


async def fetch(peer: rpb_grpc.ReplicatorStub, me: Identity, region: str) -> pb.PeerProgress:
    request = rpb.ProgressRequest(hello=hello(me, region))
    report: pb.PeerProgress = await peer.Progress(request, timeout=RPC_TIMEOUT_S)
    return report


async def record(node: pb_grpc.ReplicationStub, report: pb.PeerProgress) -> None:
    await node.RecordPeerProgress(report, timeout=RPC_TIMEOUT_S)


def horizon_for(horizons: Iterable[pb.RebuildHorizon], peer: str) -> int:
    return next((h.horizon_ms for h in horizons if h.peer == peer), 0)


class Behind(Exception):
    """The peer is behind this region's rebuild horizon for it: do not copy from it yet."""


def check_source(
    horizon_ms: int,
    report: pb.PeerProgress | None,
    members: Sequence[str],
    tables: Iterable[str],
) -> None:
    """Raise Behind unless `report`'s region applied every region's stream past the horizon
    this region holds for it (it then holds every delete that went without its word)."""
    if not horizon_ms:
        return
    if report is None:
        raise Behind("the peer fell behind a forced tombstone collection and reports no progress")
    progress = collection.progress_of(report.checkpoints)
    settled = collection.settled_through(progress, report.region, members, tables)
    if settled < horizon_ms:
        raise Behind(
            f"{report.region} fell behind a forced tombstone collection here: it must apply "
            f"every region's stream past {collection.clock_text(horizon_ms)} before this "
            f"region takes its data (it has, through {collection.clock_text(settled)})"
        )


def rebuild_reason(
    report: pb.PeerProgress | None,
    region: str,
    own: pb.GetCheckpointsResponse,
    members: Sequence[str],
    tables: Iterable[str],
    rebuilt_ms: int,
) -> tuple[str, int]:
    """Why this region must rebuild from `report`'s region ("" when it need not), and the
    horizon that asks for it: the peer dropped tombstones older than its rebuild horizon for
    this region without this region's confirmation, this region has not applied every
    region's stream past it (it may still hold what they deleted), and it has not rebuilt
    from this peer against that horizon yet."""
    if report is None:
        return "", 0
    theirs = horizon_for(report.horizons, region)
    if theirs <= rebuilt_ms:
        return "", theirs
    progress = collection.progress_of(own.checkpoints)
    settled = collection.settled_through(progress, region, members, tables)
    if settled >= theirs:
        return "", theirs
    return (
        f"{report.region} dropped tombstones older than {collection.clock_text(theirs)} without "
        f"this region's confirmation, and this region has applied every region's stream only "
        f"through {collection.clock_text(settled)}: rebuild from {report.region}'s snapshot, "
        f"removing what it shows deleted"
    ), theirs


def note(
    report: pb.PeerProgress | None,
    region: str,
    horizon_ms: int,
    complete_ms: int,
    members: Sequence[str],
    tables: Iterable[str],
) -> str:
    """What `meridian status` shows on a streaming link from `report`'s region about forced
    collections: the peer is behind this region's horizon for it, or this region has not
    yet streamed past the peer's horizon for it ("" when neither)."""
    if report is None:
        return ""
    theirs = horizon_for(report.horizons, region)
    if theirs > complete_ms:
        return (
            f"{report.region} dropped tombstones older than {collection.clock_text(theirs)} "
            f"without this region's confirmation: the deletes arrive by stream, or by a "
            f"resync that removes what {report.region} shows deleted"
        )
    try:
        check_source(horizon_ms, report, members, tables)
    except Behind as exc:
        return str(exc)
    return ""
