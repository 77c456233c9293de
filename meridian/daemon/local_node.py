"""Reaching this region's own node from a daemon of the same region (replicator, trigger
runner): through its peer door, with the token from its data directory, once it answers."""

from __future__ import annotations

import asyncio

import grpc

from meridian.config import GroupConfig, RegionConfig
from meridian.daemon.errors import StartupError
from meridian.pb import node_pb2 as pb
from meridian.pb import replication_pb2_grpc
from meridian.wire import peer_token
from meridian.wire.channels import connect_peer

Peer = tuple[grpc.aio.Channel, replication_pb2_grpc.ReplicationStub, pb.NodeInfoResponse]


async def local_node(config: GroupConfig, region: RegionConfig, wait_s: float) -> Peer:
    """A channel to the node's peer door, its stub and the node's info, once the node has
    written its token and answers (it may still be starting). StartupError when it does not
    in time, or when it is the node of another group or region."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    endpoint = str(region.node_peer_listen)
    problem = f"its token {peer_token.path_of(region.data_dir)} does not exist yet"
    while loop.time() <= deadline:
        token = peer_token.read(region.data_dir)
        if token is not None:
            channel, node = connect_peer(endpoint, token)
            try:
                info: pb.NodeInfoResponse = await node.NodeInfo(pb.NodeInfoRequest(), timeout=2)
            except grpc.aio.AioRpcError as exc:
                await channel.close()
                problem = f"{exc.code().name}: {exc.details()}"
            else:
                _check(info, config.group, region.name, endpoint)
                return channel, node, info
        await asyncio.sleep(0.1)
    raise StartupError(f"node {region.name} at {endpoint} is not reachable: {problem}")


def _check(info: pb.NodeInfoResponse, group: str, region: str, endpoint: str) -> None:
    if info.group != group or info.region != region:
        raise StartupError(
            f"the node at {endpoint} is region {info.region!r} of group {info.group!r}, "
            f"not region {region!r} of group {group!r}"
        )
