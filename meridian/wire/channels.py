"""Connecting to a region node's doors: channels with the node's message-size limits."""

from __future__ import annotations

from collections.abc import Sequence

import grpc

from meridian.pb import client_pb2_grpc, replication_pb2_grpc
from meridian.wire import peer_token

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

# A channel whose server went away reconnects on gRPC's own backoff (by default 1 s, growing
# 1.6x per attempt up to 120 s): a replicator's channel to its node took 9.6 s to come back
# after a 20 s node outage. A capped backoff brings it back within a second; an attempt to a
# local port that refuses costs nothing (docs/performance.md, "Reconnect after a node restart").
RECONNECT_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


def connect(endpoint: str) -> tuple[grpc.Channel, client_pb2_grpc.ClientStub]:
    """A blocking channel to a client door, and its stub (command-line tools)."""
    channel = grpc.insecure_channel(endpoint, options=GRPC_OPTIONS)
    return channel, client_pb2_grpc.ClientStub(channel)


def connect_async(
    endpoint: str, interceptors: Sequence[grpc.aio.ClientInterceptor] = ()
) -> tuple[grpc.aio.Channel, client_pb2_grpc.ClientStub]:
    """An asyncio channel to a client door, and its stub."""
    channel = grpc.aio.insecure_channel(
        endpoint, options=GRPC_OPTIONS, interceptors=list(interceptors) or None
    )
    return channel, client_pb2_grpc.ClientStub(channel)


def connect_peer(
    endpoint: str, token: str
) -> tuple[grpc.aio.Channel, replication_pb2_grpc.ReplicationStub]:
    """An asyncio channel to a node's peer door, carrying the region's token, and its stub."""
    channel = grpc.aio.insecure_channel(
        endpoint,
        options=[*GRPC_OPTIONS, *RECONNECT_OPTIONS],
        interceptors=peer_token.interceptors(token),
    )
    return channel, replication_pb2_grpc.ReplicationStub(channel)
