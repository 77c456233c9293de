"""A link stops when cancelled, even when gRPC turns the cancellation into a call error."""

from __future__ import annotations

import asyncio

import grpc
from prometheus_client import CollectorRegistry

from replicator.link import Link, LinkSettings
from replicator.metrics import ReplicatorMetrics
from replicator.pins import Pins


class PlainDialer:
    """Plaintext channels, as a group without a tls section dials."""

    def channel(self, address: str, region: str) -> grpc.aio.Channel:
        return grpc.aio.insecure_channel(address)


class SwallowingNode:
    """A node stub whose call, cancelled while it waits, fails with a call error instead of
    passing the cancellation on (what gRPC does when a cancel meets a failing call)."""

    async def NodeInfo(self, request: object, timeout: float | None = None) -> object:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            raise grpc.aio.AioRpcError(
                grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata()
            ) from None
        raise AssertionError("not reached")


def test_cancel_ends_the_link_even_when_a_call_swallows_it() -> None:
    async def scenario() -> None:
        link = Link(
            peer="eu",
            address="127.0.0.1:9",  # never dialled: the node call comes first
            node=SwallowingNode(),  # type: ignore[arg-type]
            region="us",
            members=["us", "eu"],
            settings=LinkSettings(),
            metrics=ReplicatorMetrics(CollectorRegistry()),
            pins=Pins(None, "us"),  # type: ignore[arg-type]
            dialer=PlainDialer(),  # type: ignore[arg-type]
        )
        task = asyncio.ensure_future(link.run())
        await asyncio.sleep(0.05)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=3)
        assert done, "the link kept reconnecting after it was cancelled"
        assert task.cancelled()

    asyncio.run(scenario())
