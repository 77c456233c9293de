"""Connecting to a region node: channels with the node's message-size limits."""

from __future__ import annotations

import grpc

from regionnode.pb import node_pb2_grpc as pb_grpc

GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
]


def connect(endpoint: str) -> tuple[grpc.Channel, pb_grpc.NodeStub]:
    """A blocking channel and stub (command-line tools)."""
    channel = grpc.insecure_channel(endpoint, options=GRPC_OPTIONS)
    return channel, pb_grpc.NodeStub(channel)


def connect_async(endpoint: str) -> tuple[grpc.aio.Channel, pb_grpc.NodeStub]:
    """An asyncio channel and stub (replicator, tests)."""
    channel = grpc.aio.insecure_channel(endpoint, options=GRPC_OPTIONS)
    return channel, pb_grpc.NodeStub(channel)
