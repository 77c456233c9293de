"""`python -m bench.run [--quick | --smoke] [--items N] [--out DIR]`: the whole benchmark.

Order: raw limits; the CPU time per record of the node's hot paths in one process
(bench/cpu.py); one region (buffered, then fsync); a group of three regions (nodes and
replicators as processes) for replication lag at fixed loads, replicated apply rate, peak
memory, then convergence after a partition; then what TLS costs (PutItem on one node and
replication lag at one low rate, TLS on and off, bench/tls.py); then the peers' replication
lag (PostgreSQL logical replication, a Redis replica: bench/peers.py) at Meridian's two
lowest lag loads, skipped in smoke mode; then the TTL sweep rate with writes running
(bench/ttl_sweep.py, one node in this process); then a new region bootstrapping from a peer holding
N items, with the peak memory of every process meanwhile; then replication lag with WAN
latency between regions in network namespaces (bench/wan.py; root only, skipped in smoke
mode); `--only wan`, `--only tls`, `--only peers`, `--only cpu`, `--only lag`,
`--only apply`, `--only convergence`, `--only region`, `--only apply-convergence`,
`--only sustained`, `--only group`, `--only bootstrap` or `--only late` runs just that phase
(late: the peers, TTL sweep, bootstrap and WAN phases in the full run's order; peers: with
Meridian's lag at the same loads; cpu: CPU per record in one process, bench/cpu.py; lag:
Meridian's lag at 100 and 1000 writes/s; apply: the replicated apply rate, bench/apply.py;
convergence: convergence after a partition, with every process's peak RSS; region: the raw
limits and one region's client doors; apply-convergence: the apply phase then convergence on
one group, the full run's order; sustained: the three-region loads of the profile; group:
the whole three-region phase). Before each phase after the first the machine settles
(bench/settle.py: what the phase before left written back, a quiet moment, both with
deadlines, recorded under `settled`; `--no-settle` leaves it out). Prints the figures table,
writes <out>/<timestamp>.json (and PNG plots when matplotlib is importable). Every process
started is stopped on the way out, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import json
import os
import pathlib
import platform
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench import (
    apply,
    bootstrap,
    convergence,
    cpu,
    peers,
    plots,
    raw,
    region,
    replication,
    report,
    settle,
    tls,
    ttl_sweep,
    wan,
)
from bench.cluster import REGION_NAMES, Cluster
from bench.profile import PROFILES, Profile
from bench.workload import item_bytes
from tests.harness import stop_all
from tests.harness.process import REPO

LAG_KEYS = 100_000
RESULTS = REPO / "bench" / "results"


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


class Phases:
    """Prints each phase as it starts and records how long each took."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._name = ""
        self._start = time.monotonic()

    def __call__(self, name: str) -> None:
        self.end()
        self._name, self._start = name, time.monotonic()
        print(f"{name} ...", flush=True)

    def end(self) -> None:
        if self._name:
            self.seconds[self._name] = round(time.monotonic() - self._start, 1)
            self._name = ""


async def settled(p: Profile, phase: Phases, results: dict[str, Any], key: str) -> None:
    """Before the phase `key`: the machine settled (bench/settle.py), recorded under
    `settled` with what was waited for; not when the profile says not to."""
    if not p.settle_s:
        return
    phase(f"settle before {key}: write-back, a quiet machine")
    results.setdefault("settled", {})[key] = found = await settle.machine(p.settle_s)
    print(f"  {settle.summary(found)}", flush=True)


async def run_all(work: pathlib.Path, p: Profile, durability: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    phase = Phases()
    results["phase_s"] = phase.seconds
    phase("raw limits")
    results["raw"] = await raw.measure(work, p)
    phase("CPU per record of the node's hot paths, in process")
    results["cpu"] = await cpu.measure(work, smoke=p.name == "smoke")
    await settled(p, phase, results, "region")
    phase("one region (buffered, then fsync)")
    results["region"] = await region.measure(work, p)
    await settled(p, phase, results, "group")
    await run_group(work, p, durability, phase, results)
    await settled(p, phase, results, "tls")
    phase(
        f"TLS cost: PutItem on one node, lag at {p.tls_lag_load[0]}/s over {p.regions} "
        f"regions, TLS on and off"
    )
    results["tls"] = await tls.measure(work, p, durability, LAG_KEYS)
    await run_late(work, p, durability, phase, results)
    phase.end()
    return results


async def run_late(
    work: pathlib.Path, p: Profile, durability: str, phase: Phases, results: dict[str, Any]
) -> None:
    """The full run's late phases in its order: the peers, the TTL sweep, the bootstrap of a
    new region, the WAN; each after the machine settled from the one before."""
    if p.peers:
        await settled(p, phase, results, "peers")
    results["peers"] = await run_peers(work, p, phase)
    await settled(p, phase, results, "ttl")
    phase(f"TTL: sweep of {p.apply_items:,} expired items with writes running (one node)")
    results["ttl"] = await ttl_sweep.measure(work, p.apply_items)
    await settled(p, phase, results, "bootstrap")
    phase(f"bootstrap of a new region from a peer holding {p.bootstrap_items:,} items")
    results["bootstrap"] = await bootstrap.measure(work, p.bootstrap_items, durability)
    if p.wan_loads:
        await settled(p, phase, results, "wan")
    results["wan"] = await run_wan(work, p, durability, phase)


async def run_only_late(work: pathlib.Path, p: Profile, durability: str) -> dict[str, Any]:
    """The full run's late phases alone, in its order (peers, TTL, bootstrap, WAN)."""
    phase = Phases()
    results: dict[str, Any] = {"phase_s": phase.seconds}
    await run_late(work, p, durability, phase, results)
    phase.end()
    return results


async def run_group(
    work: pathlib.Path, p: Profile, durability: str, phase: Phases, results: dict[str, Any]
) -> None:
    """The group of the profile's regions: replication lag at the loads, replicated apply,
    peak memory, then convergence after a partition, all on the same processes."""
    names = REGION_NAMES[: p.regions]
    n = len(names)
    results["regions"] = names
    results["group_durability"] = durability
    cluster = Cluster(work, "group", names, durability)
    try:
        phase(f"{n} regions: start")
        await cluster.start()
        await cluster.wait_streaming()
        loads = ", ".join(f"{rate}/s" for rate, _ in p.lag_loads)
        phase(f"{n} regions: replication lag at {loads}")
        results["replication"] = await replication.measure(cluster, p.lag_loads, LAG_KEYS)
        phase(f"{n} regions: replicated apply of {p.apply_items} records")
        results["apply"] = await apply.measure(cluster, p.apply_items)
        results["peak_rss_kb"] = cluster.peak_rss_kb()
        phase(f"{n} regions: convergence after a {p.partition_s:g} s partition")
        results["convergence"] = await convergence.measure(
            cluster, p.partition_rate, p.partition_s, p.partition_keys
        )
        results["peak_rss_kb_all_phases"] = cluster.peak_rss_kb()
        phase(f"{n} regions: stop")
    finally:
        await cluster.close()


async def run_only_group(work: pathlib.Path, p: Profile, durability: str) -> dict[str, Any]:
    """The full run's group phase alone: lag loads, apply, then convergence."""
    phase = Phases()
    results: dict[str, Any] = {"phase_s": phase.seconds}
    await run_group(work, p, durability, phase, results)
    phase.end()
    return results


async def run_wan(work: pathlib.Path, p: Profile, durability: str, phase: Phases) -> dict:
    if p.wan_loads:
        loads = ", ".join(f"{rate}/s" for rate, _ in p.wan_loads)
        phase(
            f"WAN: 3 regions in network namespaces, {p.wan_delay_ms:g} ms one-way, "
            f"replication lag at {loads}"
        )
    result = await wan.measure(work, p, durability, LAG_KEYS)
    if "skipped" in result:
        print(f"WAN phase skipped: {result['skipped']}", flush=True)
    return result


async def run_only_wan(work: pathlib.Path, p: Profile, durability: str) -> dict[str, Any]:
    phase = Phases()
    results: dict[str, Any] = {"phase_s": phase.seconds}
    results["wan"] = await run_wan(work, p, durability, phase)
    phase.end()
    return results


async def run_only_cpu(work: pathlib.Path, p: Profile, durability: str) -> dict[str, Any]:
    phase = Phases()
    results: dict[str, Any] = {"phase_s": phase.seconds}
    phase("CPU per record of the node's hot paths, in process (bench/cpu.py)")
    results["cpu"] = await cpu.measure(work, smoke=p.name == "smoke")
    phase.end()
    return results


async def run_only_bootstrap(work: pathlib.Path, p: Profile, durability: str) -> dict[str, Any]:
    """The bootstrap of a new region alone (bench/bootstrap.py: its own group)."""
    phase = Phases()
    results: dict[str, Any] = {"phase_s": phase.seconds}
    phase(f"bootstrap of a new region from a peer holding {p.bootstrap_items:,} items")
    results["bootstrap"] = await bootstrap.measure(work, p.bootstrap_items, durability)
    phase.end()
    return results


async def run_only_region(work: pathlib.Path, p: Profile, durability: str) -> dict[str, Any]:
    """The raw limits (the ratios' denominators) and the one-region phase (client writes)."""
    phase = Phases()
    results: dict[str, Any] = {"phase_s": phase.seconds}
    phase("raw limits")
    results["raw"] = await raw.measure(work, p)
    phase("one region (buffered, then fsync)")
    results["region"] = await region.measure(work, p)
    phase.end()
    return results


async def run_only_tls(work: pathlib.Path, p: Profile, durability: str) -> dict[str, Any]:
    phase = Phases()
    results: dict[str, Any] = {"phase_s": phase.seconds}
    phase("TLS cost: PutItem on one node, lag at one low rate, TLS on and off")
    results["tls"] = await tls.measure(work, p, durability, LAG_KEYS)
    phase.end()
    return results


async def run_peers(work: pathlib.Path, p: Profile, phase: Phases) -> dict:
    if not p.peers:
        return {"skipped": f"not run in {p.name} mode"}
    loads = peers.lowest_loads(p.lag_loads)
    rates = ", ".join(f"{rate}/s" for rate, _ in loads)
    phase(f"peers: PostgreSQL logical replication and a Redis replica, lag at {rates}")
    result = await peers.measure(work, loads, LAG_KEYS)
    for system in ("postgres", "redis"):
        if "skipped" in result.get(system, {}):
            print(f"{system} skipped: {result[system]['skipped']}", flush=True)
    return result


LOW_LAG_RATES = (100, 1000)  # `--only lag`: where waiting, not CPU, decides the lag


async def _on_group(
    work: pathlib.Path,
    p: Profile,
    durability: str,
    title: str,
    measure: Callable[[Cluster, dict[str, Any]], Awaitable[None]],
    after: Callable[[Phases, dict[str, Any]], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """One phase alone on a group of the profile's regions: `measure` fills the results;
    `after`, once the group is stopped, adds more."""
    phase = Phases()
    results: dict[str, Any] = {"phase_s": phase.seconds}
    names = REGION_NAMES[: p.regions]
    results["regions"] = names
    results["group_durability"] = durability
    cluster = Cluster(work, "group", names, durability)
    try:
        phase(f"{len(names)} regions: start")
        await cluster.start()
        await cluster.wait_streaming()
        phase(f"{len(names)} regions: {title}")
        await measure(cluster, results)
    finally:
        await cluster.close()
    if after is not None:
        await after(phase, results)
    phase.end()
    return results


async def run_only_lag(work: pathlib.Path, p: Profile, durability: str) -> dict[str, Any]:
    """Meridian's replication lag alone, at 100 and 1000 writes/s (the profile's duration)."""
    seconds = max(duration for _, duration in p.lag_loads)
    loads = tuple((rate, seconds) for rate in LOW_LAG_RATES)

    async def measure(cluster: Cluster, results: dict[str, Any]) -> None:
        results["replication"] = await replication.measure(cluster, loads, LAG_KEYS)

    title = "replication lag at " + ", ".join(f"{r}/s" for r, _ in loads)
    return await _on_group(work, p, durability, title, measure)


async def run_only_apply(work: pathlib.Path, p: Profile, durability: str) -> dict[str, Any]:
    """The replicated apply rate alone (bench/apply.py)."""

    async def measure(cluster: Cluster, results: dict[str, Any]) -> None:
        results["apply"] = await apply.measure(cluster, p.apply_items)

    title = f"replicated apply of {p.apply_items} records"
    return await _on_group(work, p, durability, title, measure)


async def run_only_convergence(work: pathlib.Path, p: Profile, durability: str) -> dict[str, Any]:
    """Convergence after a partition alone (the profile's), with every process's peak RSS."""

    async def measure(cluster: Cluster, results: dict[str, Any]) -> None:
        results["convergence"] = await convergence.measure(
            cluster, p.partition_rate, p.partition_s, p.partition_keys
        )
        results["peak_rss_kb_all_phases"] = cluster.peak_rss_kb()

    title = f"convergence after a {p.partition_s:g} s partition"
    return await _on_group(work, p, durability, title, measure)


async def run_only_apply_convergence(
    work: pathlib.Path, p: Profile, durability: str
) -> dict[str, Any]:
    """The replicated apply phase, then convergence on the same group: the full run's order
    without the lag loads before them."""

    async def measure(cluster: Cluster, results: dict[str, Any]) -> None:
        results["apply"] = await apply.measure(cluster, p.apply_items)
        results["convergence"] = await convergence.measure(
            cluster, p.partition_rate, p.partition_s, p.partition_keys
        )
        results["peak_rss_kb_all_phases"] = cluster.peak_rss_kb()

    title = f"replicated apply of {p.apply_items} records, then convergence"
    return await _on_group(work, p, durability, title, measure)


async def run_only_sustained(work: pathlib.Path, p: Profile, durability: str) -> dict[str, Any]:
    """The three-region loads alone: replication lag at every load of the profile (the full
    run's, 5,000 writes/s included), from which the highest sustained rate is reported."""

    async def measure(cluster: Cluster, results: dict[str, Any]) -> None:
        results["replication"] = await replication.measure(cluster, p.lag_loads, LAG_KEYS)

    title = "replication lag at " + ", ".join(f"{r}/s" for r, _ in p.lag_loads)
    return await _on_group(work, p, durability, title, measure)


async def run_only_peers(work: pathlib.Path, p: Profile, durability: str) -> dict[str, Any]:
    """Meridian's lag at its two lowest loads, then the peers' at the same loads."""
    loads = tuple(peers.lowest_loads(p.lag_loads))

    async def measure(cluster: Cluster, results: dict[str, Any]) -> None:
        results["replication"] = await replication.measure(cluster, loads, LAG_KEYS)

    async def after(phase: Phases, results: dict[str, Any]) -> None:
        results["peers"] = await run_peers(work, dataclasses.replace(p, peers=True), phase)

    title = "replication lag at " + ", ".join(f"{r}/s" for r, _ in loads)
    return await _on_group(work, p, durability, title, measure, after)


def noise(results: Any) -> dict[str, float]:
    """CPU cores taken by processes outside this run, over every measured window."""
    found: list[float] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "others" in node and "machine" in node:
                found.append(node["others"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(results)
    if not found:
        return {}
    return {
        "others_cores_mean": round(sum(found) / len(found), 3),
        "others_cores_max": max(found),
        "windows": len(found),
    }


def _on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="about two minutes")
    mode.add_argument("--smoke", action="store_true", help="a few seconds, for the test suite")
    parser.add_argument(
        "--items",
        type=int,
        help="items preloaded for the apply-rate test and held by the bootstrap source",
    )
    parser.add_argument(
        "--out", default=str(RESULTS), help="where the JSON and plots go (default: bench/results)"
    )
    parser.add_argument(
        "--durability",
        choices=("fsync", "buffered"),
        default="fsync",
        help="durability of the multi-region group (default: fsync, the default)",
    )
    parser.add_argument("--keep", action="store_true", help="keep data directories and logs")
    parser.add_argument(
        "--only",
        choices=(
            "wan",
            "tls",
            "peers",
            "cpu",
            "lag",
            "apply",
            "convergence",
            "region",
            "apply-convergence",
            "sustained",
            "group",
            "bootstrap",
            "late",
        ),
        help="run one phase alone: `wan`, the WAN lag phase; `tls`, what TLS costs; `peers`, "
        "PostgreSQL's and Redis's lag and Meridian's at the same two loads; `cpu`, the CPU "
        "time per record of the node's hot paths in one process (bench/cpu.py); `lag`, "
        "Meridian's replication lag at 100 and 1000 writes/s; `apply`, the replicated apply "
        "rate; `convergence`, convergence after a partition, with peak RSS; `region`, the raw "
        "limits and one region's client doors; `apply-convergence`, the apply phase then "
        "convergence on one group (the full run's order); `sustained`, the three-region loads "
        "(the highest sustained rate); `group`, the full run's three-region phase (loads, "
        "apply, convergence, on the same processes); `bootstrap`, a new region bootstrapping "
        "from a peer holding the profile's items; `late`, the full run's late phases in its "
        "order (peers, TTL sweep, bootstrap, WAN)",
    )
    parser.add_argument(
        "--no-settle",
        action="store_true",
        help="start each phase right after the one before, without the write-back and the "
        "wait for a quiet machine (bench/settle.py), to see what they change",
    )
    args = parser.parse_args(argv)
    profile = PROFILES["smoke" if args.smoke else "quick" if args.quick else "full"]
    if args.no_settle:
        profile = dataclasses.replace(profile, settle_s=0.0)
    if args.items:
        profile = dataclasses.replace(profile, apply_items=args.items, bootstrap_items=args.items)
    started = datetime.datetime.now(datetime.UTC)
    load_before = pathlib.Path("/proc/loadavg").read_text().split()[:3]
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    work = REPO / "var" / "bench" / f"{stamp}-{os.getpid()}"  # two runs may share a second
    (work / "logs").mkdir(parents=True, exist_ok=True)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _on_sigterm)
    ok = False
    try:
        only = {
            "wan": run_only_wan,
            "tls": run_only_tls,
            "peers": run_only_peers,
            "cpu": run_only_cpu,
            "lag": run_only_lag,
            "apply": run_only_apply,
            "convergence": run_only_convergence,
            "region": run_only_region,
            "apply-convergence": run_only_apply_convergence,
            "sustained": run_only_sustained,
            "group": run_only_group,
            "bootstrap": run_only_bootstrap,
            "late": run_only_late,
        }
        run = only.get(args.only or "", run_all)
        results = asyncio.run(run(work, profile, args.durability))
        ok = True
    except KeyboardInterrupt:
        print("interrupted; processes stopped", file=sys.stderr)
        return 130
    finally:
        stop_all()
        if ok and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        elif not ok:
            print(f"logs and data kept in {work}", file=sys.stderr)
    finished = datetime.datetime.now(datetime.UTC)
    results = {
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round((finished - started).total_seconds(), 1),
        "mode": profile.name,
        "profile": dataclasses.asdict(profile),
        "machine": machine(),
        "item_bytes": item_bytes(),
        "loadavg_before": load_before,
        "loadavg_after": pathlib.Path("/proc/loadavg").read_text().split()[:3],
        **results,
    }
    results["noise"] = noise(results)
    rows = report.rows(results)
    results["figures"] = report.as_json(rows)
    baseline_path = RESULTS / "baseline.json"
    baseline = json.loads(baseline_path.read_text()) if baseline_path.exists() else None
    path = out / f"{stamp}.json"
    path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    print()
    print(report.table(rows, baseline))
    print()
    m = results["machine"]
    print(
        f"machine: {m['nproc']} x {m['cpu_model']}; mode {profile.name}; "
        f"{results['duration_s']} s; results in {path}"
    )
    written = plots.write(results, out / stamp)
    if written is None:
        print("plots skipped: matplotlib is not installed (pip install 'matplotlib>=3.8,<4')")
    elif written:
        print("plots: " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
