"""Several regions in one process: real nodes and replicators on free loopback ports."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field

import grpc
from prometheus_client import CollectorRegistry

from meridian.config import GroupConfig
from meridian.pb import client_pb2_grpc, replication_pb2_grpc
from meridian.security.dial import Dialer
from meridian.wire import peer_token
from meridian.wire.channels import connect_peer
from regionnode.node import Node, NodeSettings
from replicator.replicator import Replicator
from tests.harness.ports import free_address


@dataclass
class Region:
    name: str
    config: GroupConfig
    node: Node | None = None
    replicator: Replicator | None = None
    channel: grpc.aio.Channel | None = None
    stub: client_pb2_grpc.ClientStub = field(default=None)  # the client door
    peer_channel: grpc.aio.Channel | None = None
    peer: replication_pb2_grpc.ReplicationStub = field(default=None)  # the peer door

    async def start_node(self, metrics: bool = False) -> None:
        settings = NodeSettings.from_config(self.config, self.name)
        if not metrics:  # most tests read the registry itself
            settings.metrics_listen = None
        self.node = Node(settings, CollectorRegistry())
        await self.node.start()
        region = self.config.region(self.name)
        token = peer_token.read(region.data_dir)
        assert token is not None, "a started node has written its token"
        # The client door as the region's own processes reach it: TLS when the group has
        # it, the region's token as the caller's credentials.
        dialer = Dialer.for_region(
            self.config, self.name, lambda method: [(peer_token.METADATA_KEY, token)]
        )
        self.channel = dialer.channel(str(region.node_listen), self.name)
        self.stub = client_pb2_grpc.ClientStub(self.channel)
        self.peer_channel, self.peer = connect_peer(str(region.node_peer_listen), token)

    async def start_replicator(self, cut_from: Collection[str] = ()) -> None:
        """Start the region's replicator; its links from the regions in `cut_from` dial a
        dead address (a one-way outage: those regions still pull from this one)."""
        self.replicator = Replicator(
            self.config, self.name, CollectorRegistry(), serve_metrics=False, node_wait_s=5
        )
        await self.replicator.start()  # the links start once this returns and the loop runs
        dead = free_address()
        for link in self.replicator.links:
            if link.peer in cut_from:
                link.address = dead

    async def stop_replicator(self) -> None:
        if self.replicator is not None:
            await self.replicator.stop()
            self.replicator = None

    async def stop_node(self) -> None:
        for channel in (self.channel, self.peer_channel):
            if channel is not None:
                await channel.close()
        self.channel = self.peer_channel = None
        if self.node is not None:
            await self.node.stop(grace=0.5)
            self.node = None

    async def stop(self) -> None:
        await self.stop_replicator()
        await self.stop_node()


@contextlib.asynccontextmanager
async def running_group(
    config: GroupConfig, *, replicate: bool = True, metrics: bool = False
) -> AsyncIterator[dict[str, Region]]:
    """Every region's node (serving /metrics with `metrics`) and, with `replicate`, its
    replicator; all stopped on the way out."""
    regions = {r.name: Region(r.name, config) for r in config.regions}
    try:
        for region in regions.values():
            await region.start_node(metrics)
        if replicate:
            for region in regions.values():
                await region.start_replicator()
        yield regions
    finally:
        for region in regions.values():
            await region.stop()
