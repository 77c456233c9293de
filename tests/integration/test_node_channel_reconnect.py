"""A daemon's channel to its node (meridian.wire.channels.connect_peer) retries a lost node
on a capped backoff, not gRPC's default (1 s growing to 120 s), so a replicator is back soon
after its node restarts."""

from __future__ import annotations

import asyncio

import grpc

from meridian.pb import node_pb2 as pb
from meridian.wire.channels import connect_peer
from tests.harness import free_address

WINDOW_S = 6.0


def test_the_channel_to_a_node_retries_at_least_every_second() -> None:
    async def scenario() -> int:
        host, port = free_address().rsplit(":", 1)
        attempts = 0

        async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal attempts
            attempts += 1  # a connection attempt of the channel; closed at once (a dead node)
            writer.close()

        server = await asyncio.start_server(refuse, host, int(port))
        channel, node = connect_peer(f"{host}:{port}", "token")
        try:
            call = node.NodeInfo(pb.NodeInfoRequest(), timeout=WINDOW_S, wait_for_ready=True)
            try:
                await call
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED, exc
        finally:
            await channel.close()
            server.close()
            await server.wait_closed()
        return attempts

    attempts = asyncio.run(scenario())
    # Capped at 1 s from 100 ms: about 10 attempts in 6 s; gRPC's default makes 4 (0, 1, 2.6,
    # 5.2 s).
    assert attempts >= 7, f"{attempts} connection attempts in {WINDOW_S:g} s"
