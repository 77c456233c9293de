"""Connecting to a region node: channels with the node's message-size limits."""

from __future__ import annotations

import asyncio

import grpc

from meridian.daemon.errors import StartupError
from meridian.pb import node_pb2 as pb
from meridian.pb import node_pb2_grpc as pb_grpc

GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    # Keepalive pings find dead connections that no write would reveal (long streams).
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    # Servers accept those pings (the default minimum interval would refuse them).
    ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
]


def connect(endpoint: str) -> tuple[grpc.Channel, pb_grpc.NodeStub]:
    """A blocking channel and stub (command-line tools)."""
    channel = grpc.insecure_channel(endpoint, options=GRPC_OPTIONS)
    return channel, pb_grpc.NodeStub(channel)


def connect_async(endpoint: str) -> tuple[grpc.aio.Channel, pb_grpc.NodeStub]:
    """An asyncio channel and stub (replicator, tests)."""
    channel = grpc.aio.insecure_channel(endpoint, options=GRPC_OPTIONS)
    return channel, pb_grpc.NodeStub(channel)


async def wait_for_node(
    node: pb_grpc.NodeStub, endpoint: str, group: str, region: str, wait_s: float
) -> pb.NodeInfoResponse:
    """The local node's info once it answers (it may still be starting); StartupError when
    it does not answer in time or is the node of another group or region."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        try:
            info: pb.NodeInfoResponse = await node.NodeInfo(pb.NodeInfoRequest(), timeout=2)
            break
        except grpc.aio.AioRpcError as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise StartupError(
                    f"node {region} at {endpoint} is not reachable: {exc.details()}"
                ) from exc
            await asyncio.sleep(0.1)
    if info.group != group or info.region != region:
        raise StartupError(
            f"the node at {endpoint} is region {info.region!r} of group {info.group!r}, "
            f"not region {region!r} of group {group!r}"
        )
    return info
