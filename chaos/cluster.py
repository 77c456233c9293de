"""A Meridian group of real processes in network namespaces, as one object.

Start order: network (namespaces, links, shaper), one agent per region, every node (wait
until its health check says SERVING), every replicator (same), then wait until every
replication link is STREAMING. Stop order: replicators, then nodes, each with SIGTERM (exit
codes kept), then agents; close() tears down whatever is left, also after a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import time
from dataclasses import dataclass, field
from typing import Any

import yaml

from chaos.agent import AgentClient
from chaos.net import Network
from chaos.procs import CLOCK_OFFSET_ENV, Proc, meridian

REGION_NAMES = ("us-east", "eu-west", "ap-south", "sa-east", "af-south")
TABLE = "chaos"
NODE_PORT, REPLICATOR_PORT, NODE_METRICS_PORT, REPLICATOR_METRICS_PORT = 7100, 7200, 9100, 9200
COMPONENTS = {"node": "regionnode", "replicator": "replicator"}


@dataclass
class Settings:
    regions: int = 3
    durability: str = "fsync"
    batch_size: int = 64
    max_clock_offset_ms: int = 2000
    heartbeat_ms: int = 200
    ready_timeout_s: float = 30.0
    clock_offsets_ms: dict[str, int] = field(default_factory=dict)  # skew from the start
    retention: str = "24h"  # of the table's stream
    tombstone_lifetime: str = "24h"
    tombstone_max_lifetime: str = "7d"


class Cluster:
    def __init__(self, out: pathlib.Path, settings: Settings, net: Network) -> None:
        self.out = out
        self.settings = settings
        self.net = net
        self.regions = list(net.regions)
        self.config = out / "group.yaml"
        self.procs: dict[tuple[str, str], Proc] = {}
        self.agents: dict[str, AgentClient] = {}

    # ---------------------------------------------------------------- addresses

    def node_endpoint(self, region: str) -> str:
        return f"{self.net.ip(region)}:{NODE_PORT}"

    def replicator_endpoint(self, region: str) -> str:
        return f"{self.net.ip(region)}:{REPLICATOR_PORT}"

    def metrics_url(self, region: str) -> str:
        return f"http://{self.net.ip(region)}:{REPLICATOR_METRICS_PORT}/metrics"

    def group_doc(self) -> dict[str, Any]:
        s = self.settings
        return {
            "group": "chaos",
            "durability": s.durability,
            "tables": [
                {
                    "name": TABLE,
                    "partition_key": {"name": "pk", "type": "S"},
                    "stream": {"view_type": "NEW_AND_OLD_IMAGES", "retention": s.retention},
                }
            ],
            "replication": {
                "batch_size": s.batch_size,
                "max_clock_offset": f"{s.max_clock_offset_ms}ms",
                "tombstone_lifetime": s.tombstone_lifetime,
                "tombstone_max_lifetime": s.tombstone_max_lifetime,
                "heartbeat_interval": f"{s.heartbeat_ms}ms",
            },
            "regions": [
                {
                    "name": r,
                    "node": {
                        "listen": self.node_endpoint(r),
                        "data_dir": str(self.out / "data" / r),
                    },
                    "replicator": {
                        "listen": self.replicator_endpoint(r),
                        "metrics": f"{self.net.ip(r)}:{REPLICATOR_METRICS_PORT}",
                    },
                    "metrics": {"listen": f"{self.net.ip(r)}:{NODE_METRICS_PORT}"},
                }
                for r in self.regions
            ],
        }

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self.net.setup()
        self.config.write_text(yaml.safe_dump(self.group_doc(), sort_keys=False))
        for region in self.regions:
            for component, module in COMPONENTS.items():
                self.procs[(region, component)] = Proc(
                    f"{component} {region}",
                    self.net.ns(region),
                    meridian(module, self.config, region),
                    self.out / f"{component}-{region}.log",
                )
            self.set_clock(region, self.settings.clock_offsets_ms.get(region, 0))
            agent = AgentClient(
                region,
                self.net.ns(region),
                self.node_endpoint(region),
                self.out / f"agent-{region}.log",
            )
            self.agents[region] = agent
            await agent.start()
        for component in COMPONENTS:
            for region in self.regions:
                self.procs[(region, component)].start()
            await asyncio.gather(*(self.wait_ready(r, component) for r in self.regions))
        await self.wait_streaming()

    async def wait_ready(self, region: str, component: str) -> float:
        endpoint = (
            self.node_endpoint(region) if component == "node" else self.replicator_endpoint(region)
        )
        agent = self.agents[region]

        async def serving() -> bool:
            reply = await agent.call("health", endpoint=endpoint, timeout=5)
            return bool(reply["status"] == "SERVING")

        return await self.procs[(region, component)].wait_ready(
            serving, self.settings.ready_timeout_s, "serving"
        )

    async def wait_streaming(self, timeout: float = 60.0) -> None:
        """Until every replicator reports every link from its peers as STREAMING."""
        deadline = time.monotonic() + timeout
        missing: list[str] = []
        while time.monotonic() < deadline:
            missing = []
            for region in self.regions:
                try:
                    sample = await self.agents[region].call("metrics", url=self.metrics_url(region))
                except Exception as exc:
                    missing.append(f"{region}: {exc}")
                    continue
                for peer in self.regions:
                    if peer != region and sample["streaming"].get(peer) != 1.0:
                        missing.append(f"{peer}->{region}")
            if not missing:
                return
            await asyncio.sleep(0.2)
        tails = "\n".join(
            f"== {p.name}\n{p.log_tail(10)}"
            for (_, c), p in self.procs.items()
            if c == "replicator"
        )
        raise TimeoutError(f"links not STREAMING after {timeout:.0f} s: {missing}\n{tails}")

    def set_clock(self, region: str, offset_ms: int) -> None:
        """Skew the region's wall clock by offset_ms from its processes' next start on."""
        for component in COMPONENTS:
            env = self.procs[(region, component)].env
            env.pop(CLOCK_OFFSET_ENV, None)
            if offset_ms:
                env[CLOCK_OFFSET_ENV] = str(offset_ms)

    def clock_ms(self, region: str) -> int:
        return int(self.procs[(region, "node")].env.get(CLOCK_OFFSET_ENV, 0))

    async def restart_region(self, region: str) -> None:
        """Graceful restart of the region's replicator and node (e.g. with a new clock)."""
        await asyncio.to_thread(self.procs[(region, "replicator")].stop)
        await asyncio.to_thread(self.procs[(region, "node")].stop)
        for component in COMPONENTS:
            await self.restart(region, component)

    async def restart(self, region: str, component: str) -> None:
        proc = self.procs[(region, component)]
        if not proc.alive():
            proc.start()
        await self.wait_ready(region, component)

    def proc(self, region: str, component: str) -> Proc:
        return self.procs[(region, component)]

    async def stop(self) -> dict[str, list[int]]:
        """Graceful stop, replicators first; every exit code each process ever had."""
        for component in ("replicator", "node"):
            procs = [p for (_, c), p in self.procs.items() if c == component]
            await asyncio.gather(*(asyncio.to_thread(p.stop) for p in procs))
        return {p.name: list(p.exit_codes) for p in self.procs.values()}

    async def close(self) -> None:
        """Tear everything down; safe after any failure and more than once."""
        for agent in self.agents.values():
            with contextlib.suppress(Exception):
                await agent.close()
        for proc in self.procs.values():
            with contextlib.suppress(Exception):
                await asyncio.to_thread(proc.stop, 5.0)
        self.net.teardown()
