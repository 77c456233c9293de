"""Replication lag over a WAN: three regions in network namespaces, a delay on every link.

The network is the chaos suite's (`chaos.net`, see chaos/README.md): one namespace per
region holding its node and replicator, joined through a hub namespace that routes every
packet between two regions through `chaos.shaper`, a user-space packet scheduler with tc
netem's semantics (this kernel has no sch_netem). Each directed pair gets the same one-way
delay and jitter, no loss. The root namespace is not touched.

The harness runs in the root namespace and cannot reach addresses inside the namespaces, so
the measuring part runs as a driver process inside the hub, `python -m bench.wan --plan
FILE`, and reuses bench.replication unchanged (lag probe, load generator, sustained rule) on
a bench.cluster.Cluster whose processes start inside their region's namespace. From the hub
each node is one veth away and unshaped (only packets routed between regions go through the
shaper), so the load generator's writes and the probe's subscriptions see no WAN delay, like
clients inside each region: only replication crosses the WAN. Replication is one server
stream per link (Pull), so a record should need one one-way delay; lag minus that delay is
what Meridian adds.

The shaper is a Python process that shares the machine's cores with the group; its CPU is
in every load's `cpu_cores` ("shaper") and sampled with its packet counters. What it adds
to the delay is measured beside the lag: a probe in one region times refused TCP connects
to the others (`--probe`), one round trip through the shaper without application work.

Teardown: the driver stops its processes on SIGTERM; the phase stops the driver, and
`Network.teardown` kills whatever is left in the namespaces (by pid) and deletes them, also
after errors and Ctrl-C. Namespaces left by a SIGKILLed run are removed by the next run
(`cleanup_leftovers`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import pathlib
import shutil
import signal
import socket
import time
from typing import Any

from bench import replication
from bench.cluster import REGION_NAMES, Cluster, bench_process
from bench.profile import Profile
from bench.stats import summary_ms
from chaos.net import Link, NetError, Network, cleanup_leftovers, sh
from meridian.pb import replicator_pb2 as rpb
from meridian.pb import replicator_pb2_grpc as rpb_grpc
from tests.harness import NotYet, Process, eventually, in_namespace, python_argv

SAMPLE_S = 0.5  # how often the shaper's CPU and packet counters are sampled
PROBE_PORT = 1  # closed in every region namespace: a connect is refused by the kernel
PROBE_INTERVAL_S = 0.1


def unavailable() -> str:
    """Why this host cannot run the phase ("" when it can)."""
    if os.geteuid() != 0:
        return "not root (network namespaces need it)"
    if shutil.which("ip") is None:
        return "`ip` not found (apt-get install -y iproute2)"
    try:
        sh("ip", "netns", "list")
    except (NetError, OSError) as exc:
        return f"`ip netns` does not work: {exc}"
    if not pathlib.Path("/dev/net/tun").exists():
        return "/dev/net/tun is missing (the packet shaper needs CONFIG_TUN)"
    return ""


class Pid(Process):
    """A process started elsewhere (the shaper), known by pid: enough for CPU windows."""

    def __init__(self, name: str, pid: int) -> None:
        super().__init__(name, [], pathlib.Path("/nonexistent"))
        self._pid = pid

    @property
    def pid(self) -> int:
        return self._pid


CAUGHT_UP_HOLD_S = 1.5  # longer than the replicators' heartbeat interval (1 s by default)


class WanCluster(Cluster):
    """A Cluster whose region processes run in their namespaces, bound to the region's
    address; `running()` includes the shaper and the probe (`extra`), so CPU windows count
    them as this run's, not as other programs'."""

    def __init__(self, work: pathlib.Path, plan: dict[str, Any]) -> None:
        # Free ports of the loopback (here: the hub's) on each region's address: every
        # namespace has ports of its own.
        super().__init__(work, "wan", list(plan["ips"]), plan["durability"], hosts=plan["ips"])
        self.namespaces: dict[str, str] = plan["namespaces"]
        self.extra: list[Process] = [Pid("shaper", plan["shaper_pid"])]

    def _proc(self, kind: str, region: str, config: pathlib.Path | None) -> Process:
        proc = super()._proc(kind, region, config)
        proc.argv = in_namespace(self.namespaces[region], proc.argv)
        return proc

    def running(self) -> list[Process]:
        return [*super().running(), *self.extra]

    async def wait_caught_up(
        self, table: str, heads: dict[str, int], timeout: float, poll: float = 0.02
    ) -> float:
        """Every link STREAMING with nothing pending, as the replicators report it, for longer
        than a heartbeat (so no link judges by a stale head); returns the monotonic time it
        was first seen. The nodes' checkpoints (what the base class compares with `heads`)
        are behind the peer doors, which listen on each region's own loopback, out of reach
        of this harness in the hub."""
        since: float | None = None

        async def caught_up() -> float:
            nonlocal since
            now = time.monotonic()
            behind = [link for link in await self._links() if link]
            if behind:
                since = None
                raise NotYet(f"{table}: {behind}")
            if since is None:
                since = now
            if now - since < CAUGHT_UP_HOLD_S:
                raise NotYet(f"{table}: caught up for {now - since:.1f} s")
            return since

        logs = self.running()
        return await eventually(caught_up, timeout, "every link caught up", logs=logs, interval=0.1)

    async def _links(self) -> list[str]:
        """Each link: "" when streaming with nothing pending, else what it is doing."""
        out = []
        for region in self.regions.values():
            async with self.operator.channel(region.replicator_addr, region.name) as channel:
                reply = await rpb_grpc.ReplicatorStub(channel).Status(
                    rpb.StatusRequest(), timeout=5
                )
            out += [
                ""
                if link.state == "STREAMING" and not link.lag_records
                else f"{link.source}->{link.target} {link.state}, {link.lag_records} pending"
                for link in reply.links
            ]
        return out


def rtt_probe(targets: list[str], out: pathlib.Path) -> None:
    """In a region's namespace, until killed: connect to a closed port of each target in
    turn. The refusal (SYN there, RST back) takes one round trip through the shaper and no
    application work: the network's own latency under the same load, as a control.
    One line per probe: wall ms, target, round trip ms."""
    with out.open("a", buffering=1) as f:
        for target in itertools.cycle(targets):
            with socket.socket() as sock:
                sock.settimeout(5)
                start = time.perf_counter()
                try:
                    sock.connect((target, PROBE_PORT))
                except ConnectionRefusedError:
                    pass
                except OSError:  # timed out or unreachable: no round trip to report
                    continue
                rtt_ms = (time.perf_counter() - start) * 1000
            f.write(f"{time.time_ns() / 1e6:.1f} {target} {rtt_ms:.3f}\n")
            time.sleep(PROBE_INTERVAL_S)


def _network_lag(path: pathlib.Path, loads: list[dict]) -> None:
    """Add each load's network one-way latency (probe round trip / 2) to its result."""
    text = path.read_text() if path.exists() else ""
    probes = [line.split() for line in text.splitlines()]
    for load in loads:
        start, end = load["load"]["start_ms"], load["load"]["end_ms"]
        one_way = [float(rtt) / 2 for at, _, rtt in probes if start <= float(at) <= end]
        load["network_one_way_ms"] = summary_ms(one_way)


async def drive(plan: dict[str, Any]) -> dict[str, Any]:
    """Inside the hub: start the group, measure lag at each load, stop the group."""
    work = pathlib.Path(plan["work"])
    cluster = WanCluster(work, plan)
    first, *others = plan["ips"]
    probes = work / "wan-probes.txt"
    targets = ",".join(plan["ips"][r] for r in others)
    prober = bench_process(
        "wan-rtt-probe",
        in_namespace(
            plan["namespaces"][first],
            python_argv("bench.wan", "--probe", targets, "--out", str(probes)),
        ),
        cluster.logs,
    )
    try:
        start = time.monotonic()
        await cluster.start()
        streaming_s = await cluster.wait_streaming(timeout=60)
        started_s = time.monotonic() - start
        cluster.extra.append(prober.start())
        loads = tuple((rate, seconds) for rate, seconds in plan["loads"])
        result = await replication.measure(cluster, loads, plan["keys"])
        result["peak_rss_kb"] = cluster.peak_rss_kb()
        result["started_s"] = round(started_s, 2)
        result["streaming_wait_s"] = round(streaming_s, 2)
    finally:
        prober.stop()
        await cluster.close()
    _network_lag(probes, result["loads"])
    return result


async def _sample(net: Network, shaper: Pid, out: list[tuple[float, float, int]]) -> None:
    """(wall ms, shaper CPU s, packets into the shaper) every SAMPLE_S, until cancelled."""
    while True:
        pairs = net.shaper_stats()["pairs"]
        packets = sum(int(counts.get("in", 0)) for counts in pairs.values())
        out.append((time.time_ns() / 1e6, shaper.cpu_seconds(), packets))
        await asyncio.sleep(SAMPLE_S)


def shaper_load(samples: list[tuple[float, float, int]], start_ms: float, end_ms: float) -> dict:
    """The shaper's packets/s, CPU cores and CPU per packet between two wall times (from
    the samples closest inside them)."""
    inside = [s for s in samples if start_ms <= s[0] <= end_ms]
    if len(inside) < 2:
        return {}
    (t0, cpu0, n0), (t1, cpu1, n1) = inside[0], inside[-1]
    wall = (t1 - t0) / 1000
    packets = n1 - n0
    return {
        "packets_per_s": round(packets / wall, 1),
        "cores": round((cpu1 - cpu0) / wall, 3),
        "cpu_us_per_packet": round((cpu1 - cpu0) / packets * 1e6, 1) if packets else None,
    }


async def _run_driver(net: Network, work: pathlib.Path, p: Profile, plan: dict) -> dict:
    """Start the driver in the hub, sample the shaper meanwhile, return the driver's result."""
    plan_path, result_path = work / "wan-plan.json", work / "wan-result.json"
    plan_path.write_text(json.dumps({**plan, "result": str(result_path)}))
    argv = in_namespace(net.hub, python_argv("bench.wan", "--plan", str(plan_path)))
    driver = bench_process("wan-driver", argv, work / "logs").start()
    samples: list[tuple[float, float, int]] = []
    sampler = asyncio.create_task(_sample(net, Pid("shaper", plan["shaper_pid"]), samples))
    try:
        budget = 180 + sum(3 * seconds + 30 for _, seconds in p.wan_loads)
        await driver.finish(timeout=budget)
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError, NetError):
            await sampler  # NetError: the shaper died; the driver's failure says more
        driver.stop()
    result: dict = json.loads(result_path.read_text())
    for load in result["loads"]:
        load["shaper"] = shaper_load(samples, load["load"]["start_ms"], load["load"]["end_ms"])
    result["shaper_totals"] = net.shaper_stats()
    return result


async def measure(work: pathlib.Path, p: Profile, durability: str, keys: int) -> dict[str, Any]:
    """The WAN phase, or {"skipped": reason} when this host or mode cannot run it."""
    if not p.wan_loads:
        return {"skipped": f"not run in {p.name} mode"}
    reason = unavailable()
    if reason:
        return {"skipped": reason}
    regions = list(REGION_NAMES[:3])
    link = Link(delay_ms=p.wan_delay_ms, jitter_ms=p.wan_jitter_ms)
    base = {(a, b): link for a in regions for b in regions if a != b}
    net = Network(regions, work / "logs", base=base)
    try:
        cleanup_leftovers()
        try:
            net.setup()
        except NetError as exc:
            return {"skipped": f"network namespaces could not be set up: {exc}"}
        pids = sh("ip", "netns", "pids", net.hub).split()
        if len(pids) != 1:
            raise NetError(f"expected the packet shaper alone in {net.hub}, found pids {pids}")
        plan = {
            "work": str(work),
            "durability": durability,
            "keys": keys,
            "loads": p.wan_loads,
            "ips": {r: net.ip(r) for r in regions},
            "namespaces": {r: net.ns(r) for r in regions},
            "shaper_pid": int(pids[0]),
        }
        result = await _run_driver(net, work, p, plan)
    finally:
        net.teardown()
    return {
        "one_way_delay_ms": p.wan_delay_ms,
        "jitter_ms": p.wan_jitter_ms,
        "regions": regions,
        "durability": durability,
        "replication": result,
    }


def _on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """`python -m bench.wan --plan FILE`: the driver, run by measure() inside the hub;
    `--probe IP,IP --out FILE`: the round-trip probe, run by the driver in a region."""
    parser = argparse.ArgumentParser(prog="python -m bench.wan")
    parser.add_argument("--plan")
    parser.add_argument("--probe", help="addresses to probe, comma-separated")
    parser.add_argument("--out", help="where the probe writes its lines")
    args = parser.parse_args()
    if args.probe:
        rtt_probe(args.probe.split(","), pathlib.Path(args.out))
        return
    plan = json.loads(pathlib.Path(args.plan).read_text())
    signal.signal(signal.SIGTERM, _on_sigterm)
    result = asyncio.run(drive(plan))
    pathlib.Path(plan["result"]).write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
