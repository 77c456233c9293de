"""Replication lag at fixed offered loads, over all regions of a running group.

Lag of a replicated record = when it became visible in the target region minus when it was
written in its origin region, on one machine and one clock. The origin write time is the
physical part of the record's version (hybrid logical clock, milliseconds), stamped by the
origin node when it accepted the write. A subscriber on every node (Subscribe, all origins)
receives the target's copies; for each record it keeps:
  visible lag: receive time at the subscriber - origin write time  (headline figure)
  apply lag:   the target's stamp on its copy (creation_time_ms, taken when the target
               stages the record, before its commit) - origin write time.
Both are in whole milliseconds at the origin side, so figures carry up to 1 ms of rounding.
The replicators' own latency histogram (bucketed, measured after ApplyReplicated returns)
is reported beside them as a cross-check.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import defaultdict

import grpc

from bench import load as load_mod
from bench import metrics
from bench.cluster import Cluster
from bench.stats import histogram_quantile, summary_ms
from bench.workload import TABLE
from meridian.model import hlc
from meridian.pb import node_pb2 as pb

SUSTAINED_SHARE = 0.95  # of the offered rate, achieved by the load generator
SUSTAINED_LAG_MS = 1000.0  # median lag of the last second of writes stays below this
CATCH_UP_S = 900.0  # longest wait for a backlog to drain between loads


class LagProbe:
    """Follows every node's stream and timestamps the records that came from other regions."""

    def __init__(self, cluster: Cluster, table: str = TABLE) -> None:
        self.cluster = cluster
        self.table = table
        # (receive ms, origin ms, target apply ms, source, target)
        self.samples: list[tuple[float, int, int, str, str]] = []
        self._calls: list[grpc.aio.UnaryStreamCall] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        heads = await self.cluster.heads(self.table)
        for name, region in self.cluster.regions.items():
            call = region.stub.Subscribe(
                pb.SubscribeRequest(
                    table=self.table,
                    after_sequence_number=heads[name],
                    max_batch=1000,
                )
            )
            self._calls.append(call)
            self._tasks.append(asyncio.create_task(self._follow(name, call)))

    async def _follow(self, target: str, call: grpc.aio.UnaryStreamCall) -> None:
        append = self.samples.append
        physical = hlc.physical_ms
        try:
            async for batch in call:
                now = time.time_ns() / 1e6
                for record in batch.records:
                    source = record.version.region
                    if source != target:
                        append(
                            (
                                now,
                                physical(record.version.hlc),
                                record.creation_time_ms,
                                source,
                                target,
                            )
                        )
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                raise

    def window(self, start_ms: float, end_ms: float) -> list[tuple[float, int, int, str, str]]:
        return [s for s in self.samples if start_ms - 1 <= s[1] <= end_ms + 1]

    async def stop(self) -> None:
        for call in self._calls:
            call.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _series(samples: list, start_ms: float) -> list[dict]:
    """Per second of origin write time: count, p50, p99 and max visible lag."""
    by_second: dict[int, list[float]] = defaultdict(list)
    for recv, origin, _, _, _ in samples:
        by_second[int((origin - start_ms) // 1000)].append(recv - origin)
    out = []
    for second in sorted(by_second):
        s = summary_ms(by_second[second])
        out.append(
            {
                "second": second,
                "count": s["count"],
                "p50": s["p50"],
                "p99": s["p99"],
                "max": s["max"],
            }
        )
    return out


NODE_COUNTERS = {
    "apply_calls": ("meridian_node_requests_total", {"operation": "ApplyReplicated"}),
    "applied": ("meridian_node_replicated_records_total", {"outcome": "applied"}),
    "commits": ("meridian_node_commit_operations_count", {}),
}


async def _scrape(cluster: Cluster) -> dict[str, list]:
    """Replication latency buckets of every replicator, and counters of every node."""
    out: dict[str, list] = {"latency": [], "nodes": []}
    for region in cluster.regions.values():
        if region.replicator is not None:
            samples = await metrics.scrape(region.replicator_metrics)
            out["latency"].append(metrics.latency_buckets(samples))
        samples = await metrics.scrape(region.node_metrics)
        out["nodes"].append(
            {
                key: metrics.total(samples, name, **labels)
                for key, (name, labels) in NODE_COUNTERS.items()
            }
        )
    return out


def _histogram(before: dict, after: dict) -> dict:
    """Latency percentiles from the replicators' histograms (bucket-interpolated), and how
    many records each ApplyReplicated call carried (from the nodes' counters)."""
    total: dict[float, float] = defaultdict(float)
    for b, a in zip(before["latency"], after["latency"], strict=True):
        for le, count in metrics.delta(a, b):
            total[le] += count
    buckets = sorted(total.items())
    added = {
        key: sum(a[key] - b[key] for a, b in zip(after["nodes"], before["nodes"], strict=True))
        for key in NODE_COUNTERS
    }
    return {
        "count": buckets[-1][1] if buckets else 0,
        "p50_ms": histogram_quantile(buckets, 0.5) * 1000,
        "p99_ms": histogram_quantile(buckets, 0.99) * 1000,
        "apply_calls": added["apply_calls"],
        "applied_records": added["applied"],
        "records_per_apply_call": added["applied"] / added["apply_calls"]
        if added["apply_calls"]
        else 0.0,
        "node_commits": added["commits"],
    }


async def one_load(cluster: Cluster, probe: LagProbe, rate: int, seconds: float, keys: int) -> dict:
    result_path = cluster.work / f"loadgen-{rate}.json"
    before = await _scrape(cluster)
    gen = cluster.start_loadgen(f"loadgen-{rate}", rate, seconds, keys, result_path, "region")
    cpu = load_mod.CpuWindow(cluster.running())
    await gen.finish(timeout=seconds + 120)
    load = json.loads(result_path.read_text())
    cpu_cores = cpu.stop({"loadgen": load["cpu_s"]})
    expected = load["acked"] * (len(cluster.regions) - 1)
    drain_limit = max(10.0, seconds)
    drain_start = time.monotonic()
    while len(probe.window(load["start_ms"], load["end_ms"])) < expected:
        if time.monotonic() - drain_start > drain_limit:
            break
        await asyncio.sleep(0.05)
    samples = probe.window(load["start_ms"], load["end_ms"])
    after = await _scrape(cluster)
    visible = [recv - origin for recv, origin, _, _, _ in samples]
    applied = [float(apply - origin) for _, origin, apply, _, _ in samples]
    series = _series(samples, load["start_ms"])
    last_p50 = series[-1]["p50"] if series else math.inf
    sustained = (
        load["achieved_per_s"] >= SUSTAINED_SHARE * rate
        and len(samples) >= expected
        and last_p50 < SUSTAINED_LAG_MS
    )
    return {
        "offered_per_s": rate,
        "seconds": seconds,
        "load": load,
        "expected_records": expected,
        "received_records": len(samples),
        "drain_wait_s": round(time.monotonic() - drain_start, 2),
        "visible_lag_ms": summary_ms(visible),
        "apply_lag_ms": summary_ms(applied),
        "histogram": _histogram(before, after),
        "series": series,
        "cpu_cores": cpu_cores,
        "sustained": sustained,
    }


async def measure(cluster: Cluster, loads: tuple[tuple[int, float], ...], keys: int) -> dict:
    """Each load starts from a caught-up group, and the group is caught up again at the end
    (so later phases do not inherit a backlog)."""
    probe = LagProbe(cluster)
    await probe.start()
    results = []
    try:
        for rate, seconds in loads:
            start = time.monotonic()
            await cluster.wait_caught_up(TABLE, await cluster.heads(TABLE), timeout=CATCH_UP_S)
            waited = time.monotonic() - start
            result = await one_load(cluster, probe, rate, seconds, keys)
            result["caught_up_before_s"] = round(waited, 2)
            results.append(result)
        start = time.monotonic()
        await cluster.wait_caught_up(TABLE, await cluster.heads(TABLE), timeout=CATCH_UP_S)
        drained_s = time.monotonic() - start
    finally:
        await probe.stop()
    sustained = [r["offered_per_s"] for r in results if r["sustained"]]
    return {
        "loads": results,
        "highest_sustained_per_s": max(sustained) if sustained else 0,
        "caught_up_after_s": drained_s,
        "sustained_rule": (
            f"achieved >= {SUSTAINED_SHARE:.0%} of offered, every record delivered, median lag "
            f"of the last second of writes < {SUSTAINED_LAG_MS:.0f} ms"
        ),
    }
