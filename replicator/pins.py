"""The node each peer region is pinned to (kept by the local node), checked at every handshake.

The first node of a peer region to link is pinned; another node claiming that region is
refused (`check`) and remembered, so `meridian status` can show it and `meridian accept-node`
can accept it once an operator says it is the replacement (`accept`).
"""

from __future__ import annotations

from dataclasses import dataclass

from meridian.model import hlc
from meridian.pb import node_pb2 as pb
from meridian.pb import replication_pb2_grpc as pb_grpc
from meridian.pb import replicator_pb2 as rpb
from replicator.handshake import check_pin

MAX_CLAIMANTS = 8  # other nodes remembered per peer region, most recent first


class NothingToAccept(Exception):
    """`accept` cannot tell which node to accept; the message says what to give."""


@dataclass
class Claimant:
    node_id: str
    pinned: str
    refusals: int = 0
    last_ms: int = 0


def choose(peer: str, requested: str, pinned: str, claimants: list[str]) -> str:
    """The node to accept for `peer`: the one requested, else the only other node that
    claimed the region. Pure."""
    if requested:
        return requested
    if len(claimants) == 1:
        return claimants[0]
    if not claimants:
        raise NothingToAccept(
            f"no node other than the pinned one ({pinned or 'none'}) has claimed region "
            f"{peer!r} since this replicator started; give the new node's id (--node-id)"
        )
    raise NothingToAccept(
        f"several nodes claimed region {peer!r}: {', '.join(claimants)}; give the id of the "
        "one to accept (--node-id)"
    )


class Pins:
    def __init__(self, node: pb_grpc.ReplicationStub, region: str) -> None:
        self.node = node
        self.region = region
        self._claimants: dict[str, list[Claimant]] = {}

    async def check(self, peer: str, node_id: str) -> None:
        """Pin `peer` to `node_id` if nothing is pinned yet; Refused if another node is."""
        reply = await self.node.PinPeer(pb.PinPeerRequest(region=peer, node_id=node_id), timeout=5)
        if reply.pin.node_id != node_id:
            self._remember(peer, node_id, reply.pin.node_id)
        check_pin(self.region, peer, reply.pin.node_id, node_id)

    def _remember(self, peer: str, node_id: str, pinned: str) -> None:
        known = self._claimants.setdefault(peer, [])
        claimant = next((c for c in known if c.node_id == node_id), None)
        if claimant is None:
            claimant = Claimant(node_id, pinned)
        else:
            known.remove(claimant)
        claimant.pinned, claimant.refusals, claimant.last_ms = (
            pinned,
            claimant.refusals + 1,
            hlc.wall_ms(),
        )
        known.insert(0, claimant)
        del known[MAX_CLAIMANTS:]

    async def accept(self, peer: str, node_id: str) -> rpb.AcceptNodeResponse:
        """Pin `peer` to `node_id`, or to the one other node that claimed it."""
        info = await self.node.NodeInfo(pb.NodeInfoRequest(), timeout=5)
        pinned = next((p.node_id for p in info.pins if p.region == peer), "")
        claimants = [c.node_id for c in self._claimants.get(peer, []) if c.node_id != pinned]
        chosen = choose(peer, node_id, pinned, claimants)
        reply = await self.node.PinPeer(
            pb.PinPeerRequest(region=peer, node_id=chosen, replace=True), timeout=5
        )
        self._claimants.pop(peer, None)
        return rpb.AcceptNodeResponse(
            peer=peer,
            previous_node_id=reply.pin.previous_node_id if reply.changed else pinned,
            node_id=reply.pin.node_id,
            changed=reply.changed,
        )

    def refused(self) -> list[rpb.RefusedNode]:
        return [
            rpb.RefusedNode(
                peer=peer,
                node_id=c.node_id,
                pinned_node_id=c.pinned,
                refusals=c.refusals,
                last_ms=c.last_ms,
            )
            for peer, known in sorted(self._claimants.items())
            for c in known
        ]
