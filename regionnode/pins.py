"""Which node of each peer region this region replicates with. Pure.

A region's identity must not go to whichever node connects first after a restart: the node
a peer region first linked with is pinned, and another node claiming that region is refused
until an operator accepts it as the replacement (`meridian accept-node`).
"""

from __future__ import annotations

from meridian.pb import node_pb2 as pb


def decide(
    current: pb.PeerPin | None, region: str, node_id: str, replace: bool, now_ms: int
) -> pb.PeerPin | None:
    """The pin to store for `region` when `node_id` offers itself; None keeps the stored one.

    Nothing pinned yet: `node_id` is pinned (its first link). Pinned to another node: kept,
    unless an operator replaces it.
    """
    if current is not None and (current.node_id == node_id or not replace):
        return None
    previous = current.node_id if current is not None else ""
    return pb.PeerPin(region=region, node_id=node_id, pinned_ms=now_ms, previous_node_id=previous)
