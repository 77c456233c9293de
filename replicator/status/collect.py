"""What the status page shows, gathered from where it lives: this region's state and links
from the replicator itself, every other region's from its replicator's Status call (as this
region, over mutual TLS when the group has TLS), the recent conflicts from this region's
node (its peer door), and this region's triggers from their runner's metrics and checkpoint
files. Every source fails on its own: an unreachable peer is a row that says so."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from meridian.config import GroupConfig
from meridian.daemon import trigger_status
from meridian.model import hlc
from meridian.pb import node_pb2 as pb
from meridian.pb import replication_pb2_grpc as pb_grpc
from meridian.pb import replicator_pb2 as rpb
from meridian.pb import replicator_pb2_grpc as rpb_grpc
from meridian.security.dial import Dialer
from meridian.wire.oneline import describe
from replicator.link import Link
from replicator.pins import Pins
from replicator.service import region_status

CONFLICTS_SHOWN = 20


@dataclass(frozen=True)
class RegionReply:
    """One region's Status answer, or why there is none."""

    region: str
    reply: rpb.StatusResponse | None
    error: str = ""


@dataclass(frozen=True)
class Collected:
    """Everything the page shows, as it was at `at_ms` (the serving replicator's clock)."""

    group: str
    region: str  # the region whose replicator serves the page
    at_ms: int
    regions: list[RegionReply]
    conflicts: list[pb.Conflict] = field(default_factory=list)
    conflicts_error: str = ""
    triggers: list[dict[str, Any]] = field(default_factory=list)  # daemon/trigger_status rows


class Collector:
    """Gathers a `Collected`; keeps one channel per peer replicator until closed."""

    def __init__(
        self,
        config: GroupConfig,
        region: str,
        node: pb_grpc.ReplicationStub,
        links: Callable[[], list[Link]],
        pins: Pins,
        dialer: Dialer,
        timeout: float = 2.0,
    ) -> None:
        self.config = config
        self.region = config.region(region)
        self.node = node
        self.links = links
        self.pins = pins
        self.dialer = dialer
        self.timeout = timeout
        self._channels: dict[str, grpc.aio.Channel] = {}

    async def collect(self) -> Collected:
        regions, conflicts, triggers = await asyncio.gather(
            asyncio.gather(*(self._status(r.name) for r in self.config.regions)),
            self._conflicts(),
            self._triggers(),
        )
        return Collected(
            group=self.config.group,
            region=self.region.name,
            at_ms=hlc.wall_ms(),
            regions=list(regions),
            conflicts=conflicts[0],
            conflicts_error=conflicts[1],
            triggers=triggers,
        )

    async def close(self) -> None:
        channels, self._channels = self._channels, {}
        for channel in channels.values():
            await channel.close()

    async def _status(self, name: str) -> RegionReply:
        try:
            if name == self.region.name:
                reply = await region_status(name, self.node, self.links(), self.pins)
            else:
                stub = rpb_grpc.ReplicatorStub(self._channel(name))
                reply = await stub.Status(rpb.StatusRequest(), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            return RegionReply(name, None, f"replicator {name} unreachable: {describe(exc)}")
        return RegionReply(name, reply)

    def _channel(self, name: str) -> grpc.aio.Channel:
        channel = self._channels.get(name)
        if channel is None:
            address = str(self.config.region(name).replicator_address)
            channel = self._channels[name] = self.dialer.channel(address, name)
        return channel

    async def _conflicts(self) -> tuple[list[pb.Conflict], str]:
        request = pb.ListConflictsRequest(limit=CONFLICTS_SHOWN)
        try:
            reply = await self.node.ListConflicts(request, timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            return [], f"node {self.region.name}: {describe(exc)}"
        return list(reply.conflicts), ""

    async def _triggers(self) -> list[dict[str, Any]]:
        config, region = self.config, self.region
        if not config.triggers_of(region.name):
            return []
        samples = await asyncio.to_thread(trigger_status.scrape, config, region, self.timeout)
        heads: dict[str, int] = {}
        for table in sorted(trigger_status.tables_of(config, region)):
            request = pb.DescribeStreamRequest(table=table)
            try:
                reply = await self.node.DescribeStream(request, timeout=self.timeout)
            except grpc.aio.AioRpcError:
                continue
            heads[table] = int(reply.head_sequence_number)
        return await asyncio.to_thread(trigger_status.rows, config, region, samples, heads)
