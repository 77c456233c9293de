"""A group of regions run as real processes (one node and one replicator per region).

The group file is written to the run's work directory with free loopback ports; nodes and
replicators are started and stopped one by one so the benchmarks can partition a region or
hold a peer back. Stubs talk to the nodes over byte-level or typed gRPC methods.

With `tls`, the group runs with a `tls` section (certificates for the loopback, written next
to the group file) and every client, health check and load generator dials over TLS; with
`access_key`, the node asks for access keys and every client call is signed with one.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import pathlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.workload import TABLES
from meridian.pb import client_pb2_grpc as pb_grpc
from meridian.pb import node_pb2 as pb
from meridian.pb import replication_pb2_grpc
from meridian.pb import replicator_pb2 as rpb
from meridian.pb import replicator_pb2_grpc as rpb_grpc
from meridian.security import access, certs, keystore
from meridian.security.dial import Dialer
from meridian.wire import peer_token
from meridian.wire.channels import connect_peer
from tests.harness import (
    NotYet,
    Process,
    daemon_argv,
    eventually,
    group_doc,
    load_doc,
    only_regions,
    python_argv,
    stop_all,
    write_group,
)

REGION_NAMES = ["us-east", "eu-west", "ap-south"]

atexit.register(stop_all)  # whatever a failed or interrupted run left running


KEY_ID_ENV, SECRET_ENV = "MERIDIAN_ACCESS_KEY_ID", "MERIDIAN_SECRET_ACCESS_KEY"


def bench_process(
    name: str,
    argv: Sequence[str],
    log_dir: pathlib.Path,
    role: str = "",
    env: Mapping[str, str] | None = None,
) -> Process:
    """A child of the benchmark, its log in LOG_DIR/NAME.log, quiet unless LOG_LEVEL says
    otherwise; `env` adds to its environment."""
    env = {"LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"), **(env or {})}
    return Process(name, argv, log_dir / f"{name}.log", env=env, role=role)


@dataclass
class Region:
    name: str
    node_addr: str
    replicator_addr: str
    replicator_metrics: str
    node_metrics: str
    peer_addr: str  # the node's peer door (the replicator's), for checkpoints and states
    data_dir: pathlib.Path
    node: Process | None = None
    replicator: Process | None = None
    channel: grpc.aio.Channel | None = None
    stub: pb_grpc.ClientStub = field(default=None)
    peer_channel: grpc.aio.Channel | None = None
    peer: replication_pb2_grpc.ReplicationStub = field(default=None)
    retired: list[Process] = field(default_factory=list)  # stopped processes, for peak RSS
    api_addr: str | None = None  # the node's DynamoDB door


class Cluster:
    def __init__(
        self,
        work: pathlib.Path,
        label: str,
        regions: list[str],
        durability: str,
        tables: list[dict] | None = None,
        hosts: Mapping[str, str] | None = None,
        tls: bool = False,
        access_key: bool = False,
    ) -> None:
        """`hosts`: where each region's processes listen (default: the loopback)."""
        self.work = work
        self.label = label
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        doc = group_doc(
            work / label,
            regions,
            tables=tables or TABLES,
            group="bench",
            durability=durability,
            hosts=hosts,
            api=not hosts,  # the DynamoDB door, on the loopback
        )
        if hosts:
            doc["insecure"] = True  # the regions' namespace addresses, plaintext
        self.key = access.generate(access.Permission.READ_WRITE) if access_key else None
        if tls:
            self._add_tls(doc, work / f"{label}-certs")
        if self.key is not None:
            credentials = work / f"{label}-credentials.yaml"
            keystore.write_keys(credentials, {self.key.key_id: self.key})
            doc["auth"] = {"credentials": str(credentials)}
        self.doc = doc
        self.config = write_group(work / f"{label}.yaml", doc)
        config = load_doc(doc, self.config)
        self.operator = Dialer.for_operator(config)  # health checks, replicator status
        self.client = Dialer(config)
        if self.key is not None:
            self.client = self.client.with_access_key(self.key.key_id, self.key.secret)
        self.durability = durability
        self.regions = {
            r["name"]: Region(
                r["name"],
                r["node"]["listen"],
                r["replicator"]["listen"],
                r["replicator"]["metrics"],
                r["metrics"]["listen"],
                r["node"]["peer_listen"],
                pathlib.Path(r["node"]["data_dir"]),
                api_addr=r.get("api", {}).get("listen"),
            )
            for r in doc["regions"]
        }
        self._starts = 0

    @staticmethod
    def _add_tls(doc: dict, directory: pathlib.Path) -> None:
        """The group CA, a certificate per region for the loopback, the operator's pair."""
        layout = certs.Layout(directory)
        certs.write_group_layout(directory, doc["group"], {r["name"]: [] for r in doc["regions"]})
        ca, _ = layout.ca
        cert, key = layout.operator
        doc["tls"] = {"ca": str(ca), "operator": {"cert": str(cert), "key": str(key)}}
        for region in doc["regions"]:
            cert, key = layout.region(region["name"])
            region["tls"] = {"cert": str(cert), "key": str(key)}

    def subgroup(self, label: str, regions: list[str]) -> pathlib.Path:
        """A group file with only some of the regions (same ports and data directories), for
        processes that must not know the others yet; returns its path."""
        return write_group(self.work / f"{label}.yaml", only_regions(self.doc, regions))

    def _proc(self, kind: str, region: str, config: pathlib.Path | None) -> Process:
        self._starts += 1
        name = f"{self.label}-{kind}-{region}-{self._starts}"
        argv = daemon_argv(kind, config or self.config, region)
        role = f"{'node' if kind == 'regionnode' else kind} {region}"
        return bench_process(name, argv, self.logs, role)

    async def start_node(self, name: str, config: pathlib.Path | None = None) -> float:
        region = self.regions[name]
        region.node = self._proc("regionnode", name, config).start()
        waited = await self._wait_serving(region.node, region.node_addr, name)
        region.channel = self.client.channel(region.node_addr, name)
        region.stub = pb_grpc.ClientStub(region.channel)
        token = peer_token.read(region.data_dir)
        assert token is not None, f"node {name} is serving, so it has written its token"
        region.peer_channel, region.peer = connect_peer(region.peer_addr, token)
        return waited

    async def restart_node(self, name: str, config: pathlib.Path | None = None) -> float:
        """Stop a region's node and start it again (with another group file, say)."""
        region = self.regions[name]
        await self._close_channels(region)
        if region.node is not None:
            region.node.stop()
            region.retired.append(region.node)
        return await self.start_node(name, config)

    async def _close_channels(self, region: Region) -> None:
        for channel in (region.channel, region.peer_channel):
            if channel is not None:
                await channel.close()
        region.channel = region.peer_channel = None

    async def start_replicator(self, name: str, config: pathlib.Path | None = None) -> float:
        """Start a region's replicator; returns seconds until its gRPC service was serving."""
        region = self.regions[name]
        region.replicator = self._proc("replicator", name, config).start()
        return await self._wait_serving(region.replicator, region.replicator_addr, name)

    async def _wait_serving(self, proc: Process, address: str, region: str) -> float:
        """Until the health service at `address` says SERVING; seconds waited."""
        async with self.operator.channel(address, region) as channel:
            stub = health_pb2_grpc.HealthStub(channel)

            async def probe() -> bool:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

            return await proc.wait_ready_async(probe, what=f"serving at {address}")

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
            await self._close_channels(region)
        for region in self.regions.values():
            self.stop_replicator(region.name)
        for region in self.regions.values():
            if region.node is not None:
                region.node.stop()
                region.retired.append(region.node)
                region.node = None

    def processes(self) -> list[Process]:
        """Every process this cluster started (running or stopped), in start order."""
        out = []
        for region in self.regions.values():
            out.extend(region.retired)
            out.extend(p for p in (region.node, region.replicator) if p is not None)
        return out

    def running(self) -> list[Process]:
        return [p for r in self.regions.values() for p in (r.node, r.replicator) if p is not None]

    def start_loadgen(
        self, name: str, rate: int, seconds: float, keys: int, result: pathlib.Path, prefix: str
    ) -> Process:
        """The load generator (`bench.loadgen`) writing to every region's node."""
        command = python_argv(
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
            "--config",
            str(self.config),
        )
        env = {KEY_ID_ENV: self.key.key_id, SECRET_ENV: self.key.secret} if self.key else {}
        return bench_process(name, command, self.logs, env=env).start()

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
            reply = await region.peer.GetCheckpoints(pb.GetCheckpointsRequest(), timeout=10)
            for ckpt in reply.checkpoints:
                if ckpt.table == table:
                    out[(name, ckpt.origin)] = ckpt.sequence_number
        return out

    async def wait_streaming(self, timeout: float = 30.0) -> float:
        """Wait until every running replicator's links are STREAMING; returns seconds waited."""
        start = time.monotonic()

        async def streaming() -> bool:
            states: list[str] = []
            for region in self.regions.values():
                if region.replicator is None:
                    continue
                async with self.operator.channel(region.replicator_addr, region.name) as channel:
                    reply = await rpb_grpc.ReplicatorStub(channel).Status(
                        rpb.StatusRequest(), timeout=5
                    )
                states.extend(link.state for link in reply.links)
            if not states or any(state != "STREAMING" for state in states):
                raise NotYet(f"link states {states}")
            return True

        await eventually(
            streaming, timeout, "replication links streaming", logs=self.running(), interval=0.05
        )
        return time.monotonic() - start

    async def wait_caught_up(
        self, table: str, heads: dict[str, int], timeout: float, poll: float = 0.02
    ) -> float:
        """Wait until every region has applied every other region's stream up to `heads`
        (origin -> sequence number); returns the monotonic time it was first seen."""
        pairs = [(t, o) for t in self.regions for o in self.regions if t != o and heads[o]]

        async def caught_up() -> float:
            ckpts = await self.checkpoints(table)
            now = time.monotonic()
            behind = {
                f"{t}<-{o}": (ckpts.get((t, o), 0), heads[o])
                for t, o in pairs
                if ckpts.get((t, o), 0) < heads[o]
            }
            if behind:
                raise NotYet(f"behind (applied, head): {behind}")
            return now

        return await eventually(
            caught_up,
            timeout,
            f"every region caught up on {table}",
            logs=self.running(),
            interval=poll,
        )

    async def digests(self, table: str) -> dict[str, str]:
        out = {}
        for name, region in self.regions.items():
            reply = await region.stub.Digest(pb.DigestRequest(table=table), timeout=120)
            out[name] = reply.digest
        return out
