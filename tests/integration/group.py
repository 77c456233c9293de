"""Several regions in one process: real nodes and replicators on free loopback ports."""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass, field

import grpc
import yaml
from prometheus_client import CollectorRegistry

from meridian.config import GroupConfig, parse
from meridian.pb import node_pb2_grpc
from meridian.wire.channels import connect_async
from regionnode.node import Node, NodeSettings
from replicator.replicator import Replicator
from tests.ports import free_ports


def group_yaml(
    data: pathlib.Path,
    regions: list[str],
    *,
    tables: list[dict] | None = None,
    replication: dict | None = None,
    group: str = "it",
) -> dict:
    ports = free_ports(4 * len(regions))
    doc: dict = {
        "group": group,
        "durability": "buffered",
        "tables": tables
        or [
            {
                "name": "orders",
                "partition_key": {"name": "pk", "type": "S"},
                "sort_key": {"name": "sk", "type": "N"},
            }
        ],
        "replication": replication or {"heartbeat_interval": "200ms"},
        "regions": [],
    }
    for i, name in enumerate(regions):
        p = ports[4 * i : 4 * i + 4]
        doc["regions"].append(
            {
                "name": name,
                "node": {"listen": f"127.0.0.1:{p[0]}", "data_dir": str(data / name)},
                "replicator": {"listen": f"127.0.0.1:{p[1]}", "metrics": f"127.0.0.1:{p[3]}"},
                "metrics": {"listen": f"127.0.0.1:{p[2]}"},
            }
        )
    return doc


def load_doc(doc: dict, path: pathlib.Path) -> GroupConfig:
    return parse(yaml.safe_dump(doc), path)


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
        dead = f"127.0.0.1:{free_ports(1)[0]}"
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


async def eventually(
    check: Callable[[], Awaitable[object]], timeout: float = 10.0, what: str = "condition"
) -> object:
    """Poll `check` until it returns a truthy value; raise with the last result on timeout."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            last = await check()
            if last:
                return last
        except (AssertionError, grpc.aio.AioRpcError) as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        await asyncio.sleep(0.02)
