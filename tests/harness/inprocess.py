"""Several regions in one process: real nodes and replicators on free loopback ports."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field

import grpc
from prometheus_client import CollectorRegistry

from meridian.config import GroupConfig
from meridian.pb import node_pb2_grpc
from meridian.wire.channels import connect_async
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
    stub: node_pb2_grpc.NodeStub = field(default=None)

    async def start_node(self) -> None:
        settings = NodeSettings.from_config(self.config, self.name)
        settings.metrics_listen = None
        self.node = Node(settings, CollectorRegistry())
        await self.node.start()
        self.channel, self.stub = connect_async(str(self.config.region(self.name).node_listen))

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
        if self.channel is not None:
            await self.channel.close()
            self.channel = None
        if self.node is not None:
            await self.node.stop(grace=0.5)
            self.node = None

    async def stop(self) -> None:
        await self.stop_replicator()
        await self.stop_node()


@contextlib.asynccontextmanager
async def running_group(
    config: GroupConfig, *, replicate: bool = True
) -> AsyncIterator[dict[str, Region]]:
    regions = {r.name: Region(r.name, config) for r in config.regions}
    try:
        for region in regions.values():
            await region.start_node()
        if replicate:
            for region in regions.values():
                await region.start_replicator()
        yield regions
    finally:
        for region in regions.values():
            await region.stop()
