"""A Meridian group of real processes in network namespaces, as one object.

Start order: network (namespaces, links, shaper), one agent per region, every node (wait
until its health check says SERVING), every replicator (same), then wait until every
replication link is STREAMING. Stop order: replicators, then nodes, each with SIGTERM (exit
codes kept), then agents; close() tears down whatever is left, also after a failure.

Each node and replicator runs as `ip netns exec <namespace> python -m regionnode|replicator
--config FILE --region NAME` (tests.harness.Process: its own session, stdout and stderr
appended to a log file under the run's output directory, a marker line at each start).

Security: by default (Settings.tls) the group runs as in production: TLS on every door, with
certificates for the namespace addresses issued by a CA of this run (chaos/out/.../certs),
mutual TLS between replicators, and one read-write access key (credentials.yaml) that the
agents sign every client call with. `tls=False` runs plaintext (`insecure: true`).

Clock skew: a process's env may set MERIDIAN_TEST_CLOCK_OFFSET_MS, the test-only offset that
meridian.model.hlc adds to the wall clock of the process (read once at start; see README,
"Clock skew"); changing it takes a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
from dataclasses import dataclass, field
from typing import Any

from chaos.agent import KEY_ID_ENV, SECRET_ENV, AgentClient
from chaos.net import Network
from meridian.security import access, certs, keystore
from tests.harness import (
    NotYet,
    Process,
    RegionPorts,
    daemon_argv,
    eventually,
    group_doc,
    in_namespace,
    write_group,
)

REGION_NAMES = ("us-east", "eu-west", "ap-south", "sa-east", "af-south")
GROUP = "chaos"
TABLE = "chaos"
PORTS = RegionPorts(node=7100, replicator=7200, metrics=9100, replicator_metrics=9200, peer=8100)
COMPONENTS = {"node": "regionnode", "replicator": "replicator"}
CLOCK_OFFSET_ENV = "MERIDIAN_TEST_CLOCK_OFFSET_MS"


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
    tls: bool = True  # TLS on every door and access keys; False: plaintext (insecure: true)
    merge: str = "item"  # the table's merge mode


class Cluster:
    def __init__(
        self,
        out: pathlib.Path,
        settings: Settings,
        net: Network,
        members: list[str] | None = None,
    ) -> None:
        """`members`: the regions of the group (default: every namespace of `net`)."""
        self.out = out
        self.settings = settings
        self.net = net
        self.regions = list(members or net.regions)
        self.config = out / "group.yaml"
        self.certs = certs.Layout(out / "certs")
        self.credentials = out / "credentials.yaml"
        self.key = access.generate(access.Permission.READ_WRITE)
        self.procs: dict[tuple[str, str], Process] = {}
        self.agents: dict[str, AgentClient] = {}

    # ---------------------------------------------------------------- addresses

    def node_endpoint(self, region: str) -> str:
        return f"{self.net.ip(region)}:{PORTS.node}"

    def replicator_endpoint(self, region: str) -> str:
        return f"{self.net.ip(region)}:{PORTS.replicator}"

    def metrics_url(self, region: str) -> str:
        scheme = "https" if self.settings.tls else "http"
        return f"{scheme}://{self.net.ip(region)}:{PORTS.replicator_metrics}/metrics"

    def group_doc(self) -> dict[str, Any]:
        s = self.settings
        doc = group_doc(
            self.out / "data",
            self.regions,
            tables=[
                {
                    "name": TABLE,
                    "partition_key": {"name": "pk", "type": "S"},
                    "stream": {"view_type": "NEW_AND_OLD_IMAGES", "retention": s.retention},
                    "merge": s.merge,
                }
            ],
            group=GROUP,
            durability=s.durability,
            replication={
                "batch_size": s.batch_size,
                "max_clock_offset": f"{s.max_clock_offset_ms}ms",
                "tombstone_lifetime": s.tombstone_lifetime,
                "tombstone_max_lifetime": s.tombstone_max_lifetime,
                "heartbeat_interval": f"{s.heartbeat_ms}ms",
            },
            hosts={r: self.net.ip(r) for r in self.regions},
            ports=PORTS,
        )
        if not s.tls:
            doc["insecure"] = True  # the regions' own addresses in their namespaces, plaintext
            return doc
        ca, _ = self.certs.ca
        cert, key = self.certs.operator
        doc["tls"] = {"ca": str(ca), "operator": {"cert": str(cert), "key": str(key)}}
        for region in doc["regions"]:
            cert, key = self.certs.region(region["name"])
            region["tls"] = {"cert": str(cert), "key": str(key)}
        doc["auth"] = {"credentials": str(self.credentials)}
        return doc

    def write_security(self) -> None:
        """The group CA, a certificate per region for its namespace address (what
        `meridian certs` writes) and the credentials file with the agents' access key."""
        hosts = {r: [self.net.ip(r)] for r in self.regions}
        certs.write_group_layout(self.certs.directory, GROUP, hosts)
        keystore.write_keys(self.credentials, {self.key.key_id: self.key})

    def agent_env(self) -> dict[str, str]:
        if not self.settings.tls:
            return {}
        return {KEY_ID_ENV: self.key.key_id, SECRET_ENV: self.key.secret}

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        self.net.setup()
        if self.settings.tls:
            self.write_security()
        write_group(self.config, self.group_doc())
        log_level = os.environ.get("LOG_LEVEL", "INFO")
        for region in self.regions:
            for component, module in COMPONENTS.items():
                self.procs[(region, component)] = Process(
                    f"{component} {region}",
                    in_namespace(self.net.ns(region), daemon_argv(module, self.config, region)),
                    self.out / f"{component}-{region}.log",
                    env={"LOG_LEVEL": log_level},
                )
            self.set_clock(region, self.settings.clock_offsets_ms.get(region, 0))
            agent = AgentClient(
                region,
                self.net.ns(region),
                self.node_endpoint(region),
                self.out / f"agent-{region}.log",
                self.config,
                self.agent_env(),
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

        return await self.procs[(region, component)].wait_ready_async(
            serving, self.settings.ready_timeout_s, "serving", retry=(Exception,)
        )

    async def wait_streaming(self, timeout: float = 60.0) -> None:
        """Until every replicator reports every link from its peers as STREAMING."""

        async def streaming() -> bool:
            missing: list[str] = []
            for region in self.regions:
                try:
                    sample = await self.agents[region].call("metrics", url=self.metrics_url(region))
                except Exception as exc:
                    missing.append(f"{region}: {exc}")
                    continue
                for peer in self.regions:
                    if peer != region and sample["streaming"].get(peer) != 1.0:
                        missing.append(f"{peer}->{region}")
            if missing:
                raise NotYet(f"not streaming: {missing}")
            return True

        logs = self.of("replicator")
        await eventually(streaming, timeout, "every link STREAMING", logs=logs, interval=0.2)

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
        if not proc.running:
            proc.start()
        await self.wait_ready(region, component)

    def proc(self, region: str, component: str) -> Process:
        return self.procs[(region, component)]

    def of(self, component: str) -> list[Process]:
        """Every region's process of one component."""
        return [p for (_, c), p in self.procs.items() if c == component]

    async def stop(self) -> dict[str, list[int]]:
        """Graceful stop, replicators first; every exit code each process ever had."""
        for component in ("replicator", "node"):
            await asyncio.gather(*(asyncio.to_thread(p.stop) for p in self.of(component)))
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
