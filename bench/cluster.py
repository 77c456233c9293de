"""A group of regions run as real processes (one node and one replicator per region).

The group file is written to the run's work directory with free loopback ports; nodes and
replicators are started and stopped one by one so the benchmarks can partition a region or
hold a peer back. Stubs talk to the nodes over byte-level or typed gRPC methods.
"""

from __future__ import annotations

import asyncio
import pathlib
import socket
import time
from dataclasses import dataclass, field

import grpc
import yaml

from bench.procs import Proc, python, wait_serving
from bench.workload import TABLES
from meridian.pb import node_pb2 as pb
from meridian.pb import node_pb2_grpc as pb_grpc
from meridian.pb import replicator_pb2 as rpb
from meridian.pb import replicator_pb2_grpc as rpb_grpc
from meridian.wire.channels import connect_async

REGION_NAMES = ["us-east", "eu-west", "ap-south"]


def free_ports(count: int) -> list[int]:
    sockets = []
    for _ in range(count):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def group_doc(
    data: pathlib.Path, regions: list[str], durability: str, tables: list[dict] | None = None
) -> dict:
    ports = free_ports(4 * len(regions))
    doc: dict = {
        "group": "bench",
        "durability": durability,
        "tables": tables or TABLES,
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


@dataclass
class Region:
    name: str
    node_addr: str
    replicator_addr: str
    replicator_metrics: str
    node_metrics: str
    node: Proc | None = None
    replicator: Proc | None = None
    channel: grpc.aio.Channel | None = None
    stub: pb_grpc.NodeStub = field(default=None)
    retired: list[Proc] = field(default_factory=list)  # stopped processes, for peak RSS


class Cluster:
    def __init__(
        self,
        work: pathlib.Path,
        label: str,
        regions: list[str],
        durability: str,
        tables: list[dict] | None = None,
    ) -> None:
        self.work = work
        self.label = label
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        doc = group_doc(work / label, regions, durability, tables)
        self.doc = doc
        self.config = work / f"{label}.yaml"
        self.config.write_text(yaml.safe_dump(doc, sort_keys=False))
        self.durability = durability
        self.regions = {
            r["name"]: Region(
                r["name"],
                r["node"]["listen"],
                r["replicator"]["listen"],
                r["replicator"]["metrics"],
                r["metrics"]["listen"],
            )
            for r in doc["regions"]
        }
        self._starts = 0

    def subgroup(self, label: str, regions: list[str]) -> pathlib.Path:
        """A group file with only some of the regions (same ports and data directories), for
        processes that must not know the others yet; returns its path."""
        doc = dict(self.doc, regions=[r for r in self.doc["regions"] if r["name"] in regions])
        path = self.work / f"{label}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    def _proc(self, kind: str, region: str, config: pathlib.Path | None) -> Proc:
        self._starts += 1
        name = f"{self.label}-{kind}-{region}-{self._starts}"
        argv = python(kind, "--config", str(config or self.config), "--region", region)
        role = f"{'node' if kind == 'regionnode' else kind} {region}"
        return Proc(name, argv, self.logs, role)

    async def start_node(self, name: str, config: pathlib.Path | None = None) -> float:
        region = self.regions[name]
        region.node = self._proc("regionnode", name, config).start()
        waited = await wait_serving(region.node_addr, region.node)
        region.channel, region.stub = connect_async(region.node_addr)
        return waited

    async def start_replicator(self, name: str, config: pathlib.Path | None = None) -> float:
        """Start a region's replicator; returns seconds until its gRPC service was serving."""
        region = self.regions[name]
        region.replicator = self._proc("replicator", name, config).start()
        return await wait_serving(region.replicator_addr, region.replicator)

    def stop_replicator(self, name: str) -> None:
        region = self.regions[name]
        if region.replicator is not None:
            region.replicator.stop()
            region.retired.append(region.replicator)
            region.replicator = None

    async def start(self, *, replicators: bool = True) -> None:
        """Start every node, then every replicator (each kind all at once)."""
        await asyncio.gather(*(self.start_node(name) for name in self.regions))
        if replicators:
            await asyncio.gather(*(self.start_replicator(name) for name in self.regions))

    async def close(self) -> None:
        for region in self.regions.values():
            if region.channel is not None:
                await region.channel.close()
                region.channel = None
        for region in self.regions.values():
            self.stop_replicator(region.name)
        for region in self.regions.values():
            if region.node is not None:
                region.node.stop()
                region.retired.append(region.node)
                region.node = None

    def processes(self) -> list[Proc]:
        """Every process this cluster started (running or stopped), in start order."""
        out = []
        for region in self.regions.values():
            out.extend(region.retired)
            out.extend(p for p in (region.node, region.replicator) if p is not None)
        return out

    def running(self) -> list[Proc]:
        return [p for r in self.regions.values() for p in (r.node, r.replicator) if p is not None]

    def start_loadgen(
        self, name: str, rate: int, seconds: float, keys: int, result: pathlib.Path, prefix: str
    ) -> Proc:
        """The load generator (`bench.loadgen`) writing to every region's node."""
        command = python(
            "bench.loadgen",
            "--endpoints",
            ",".join(r.node_addr for r in self.regions.values()),
            "--regions",
            ",".join(self.regions),
            "--rate",
            str(rate),
            "--seconds",
            str(seconds),
            "--keys",
            str(keys),
            "--prefix",
            prefix,
            "--result",
            str(result),
        )
        return Proc(name, command, self.logs).start()

    def peak_rss_kb(self) -> dict[str, int]:
        """Peak resident set (kB) per role ("node us-east", ...), the largest over restarts."""
        out: dict[str, int] = {}
        for proc in self.processes():
            out[proc.role] = max(out.get(proc.role, 0), proc.peak_rss())
        return out

    async def heads(self, table: str) -> dict[str, int]:
        out = {}
        for name, region in self.regions.items():
            reply = await region.stub.DescribeStream(
                pb.DescribeStreamRequest(table=table), timeout=10
            )
            out[name] = reply.head_sequence_number
        return out

    async def checkpoints(self, table: str) -> dict[tuple[str, str], int]:
        """(target, origin) -> the origin sequence number the target has applied up to."""
        out = {}
        for name, region in self.regions.items():
            reply = await region.stub.GetCheckpoints(pb.GetCheckpointsRequest(), timeout=10)
            for ckpt in reply.checkpoints:
                if ckpt.table == table:
                    out[(name, ckpt.origin)] = ckpt.sequence_number
        return out

    async def wait_streaming(self, timeout: float = 30.0) -> float:
        """Wait until every running replicator's links are STREAMING; returns seconds waited."""
        start = time.monotonic()
        while True:
            states: list[str] = []
            for region in self.regions.values():
                if region.replicator is None:
                    continue
                async with grpc.aio.insecure_channel(region.replicator_addr) as channel:
                    reply = await rpb_grpc.ReplicatorStub(channel).Status(
                        rpb.StatusRequest(), timeout=5
                    )
                states.extend(link.state for link in reply.links)
            if states and all(state == "STREAMING" for state in states):
                return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"replication links not streaming after {timeout}s: {states}")
            await asyncio.sleep(0.05)

    async def wait_caught_up(
        self, table: str, heads: dict[str, int], timeout: float, poll: float = 0.02
    ) -> float:
        """Wait until every region has applied every other region's stream up to `heads`
        (origin -> sequence number); returns the monotonic time it was first seen."""
        deadline = time.monotonic() + timeout
        pairs = [(t, o) for t in self.regions for o in self.regions if t != o and heads[o]]
        while True:
            ckpts = await self.checkpoints(table)
            now = time.monotonic()
            if all(ckpts.get(pair, 0) >= heads[pair[1]] for pair in pairs):
                return now
            if now > deadline:
                behind = {f"{t}<-{o}": (ckpts.get((t, o), 0), heads[o]) for t, o in pairs}
                raise TimeoutError(f"not caught up after {timeout}s: {behind}")
            await asyncio.sleep(poll)

    async def digests(self, table: str) -> dict[str, str]:
        out = {}
        for name, region in self.regions.items():
            reply = await region.stub.Digest(pb.DigestRequest(table=table), timeout=120)
            out[name] = reply.digest
        return out
