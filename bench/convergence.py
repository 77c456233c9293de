"""Convergence after a partition: one region's replicator is stopped while every region,
that one included, takes writes on a shared key space (so the two sides conflict); when the
writes end the replicator is started again (the heal) and the time until every region's
Digest is identical is measured. Checkpoints are polled first (cheap): once every region has
applied every other region's stream up to where it stood when the writes ended, the digests
are compared, and again every 100 ms until they agree; the convergence time is when the round
that agreed started (confirmed when it ended). Along the way: when the healed replicator
served again, when every link was streaming (peers reconnect with backoff), and when each
(target, origin) pair had caught up (which pair is the critical path).

Before the partition the group settles: every region applies what earlier phases left it
(the full run's apply phase leaves its last peer 200,000 attribute-mode records, which that
region otherwise applied during the heal); `settled` records what was behind and how long
the wait took.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import time

from bench.cluster import Cluster
from bench.load import machine_busy_seconds
from bench.workload import TABLE, TABLES

PAIR_POLL_S = 0.1
SETTLE_S = 600.0  # longest wait for what earlier phases left the group to apply


def _cpu_seconds(cluster: Cluster) -> dict[str, float]:
    """CPU seconds used so far by each running process of the cluster, and the machine's."""
    out = {proc.name: proc.cpu_seconds() for proc in cluster.running()}
    out["machine"] = machine_busy_seconds()
    return out


def _cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each process (and the machine) used between two readings; a process
    started in between counts from zero."""
    return {name: round(after[name] - before.get(name, 0.0), 2) for name in after}


async def _pairs_caught_up(cluster: Cluster, heads: dict[str, int], heal: float) -> dict:
    """Seconds after the heal at which each target had applied each origin up to `heads`
    (polled until every pair is there; cancelled by the caller once it knows)."""
    names = list(cluster.regions)
    pending = {(t, o) for t in names for o in names if t != o and heads[o]}
    seen: dict[str, float] = {}
    while pending:
        ckpts = await cluster.checkpoints(TABLE)
        now = time.monotonic() - heal
        for t, o in sorted(pending):
            if ckpts.get((t, o), 0) >= heads[o]:
                seen[f"{t}<-{o}"] = round(now, 3)
                pending.discard((t, o))
        await asyncio.sleep(PAIR_POLL_S)
    return seen


async def backlog(cluster: Cluster) -> dict[str, dict[str, int]]:
    """Records each target has yet to apply from each origin, per table (pairs behind only):
    what earlier phases left for the group to do."""
    out: dict[str, dict[str, int]] = {}
    for table in (str(t["name"]) for t in TABLES):
        heads = await cluster.heads(table)
        ckpts = await cluster.checkpoints(table)
        behind = {
            f"{t}<-{o}": heads[o] - ckpts.get((t, o), 0)
            for t in cluster.regions
            for o in cluster.regions
            if t != o and ckpts.get((t, o), 0) < heads[o]
        }
        if behind:
            out[table] = behind
    return out


def dirty_kb() -> dict[str, int]:
    """The machine's page cache not yet written back (kB): what a file-heavy phase before
    leaves the disk to do."""
    out = {}
    for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("Dirty", "Writeback"):
            out[name] = int(value.split()[0])
    return out


async def settle(cluster: Cluster) -> dict:
    """Wait until every region has applied every other region's records of every table (an
    earlier phase's backlog: the apply phase leaves its last peer a table in attribute merge
    mode to catch up), so the partition starts on a group with nothing else to do. Returns
    what was behind, how long it took and the dirty page cache before and after."""
    start = time.monotonic()
    dirty = dirty_kb()
    behind = await backlog(cluster)
    for table in behind:
        heads = await cluster.heads(table)
        await cluster.wait_caught_up(table, heads, timeout=SETTLE_S, poll=PAIR_POLL_S)
    return {
        "backlog": behind,
        "waited_s": round(time.monotonic() - start, 2),
        "dirty_kb_before": dirty,
        "dirty_kb_after": dirty_kb(),
    }


async def measure(cluster: Cluster, rate: int, seconds: float, keys: int) -> dict:
    names = list(cluster.regions)
    isolated = names[-1]
    settled = await settle(cluster)
    cluster.stop_replicator(isolated)
    result_path = cluster.work / "loadgen-partition.json"
    gen = cluster.start_loadgen("loadgen-partition", rate, seconds, keys, result_path, "shared")
    await gen.finish(timeout=seconds + 120)
    load = json.loads(result_path.read_text())
    heads = await cluster.heads(TABLE)
    backlog_at_heal = await backlog(cluster)
    heal = time.monotonic()
    cpu_before = _cpu_seconds(cluster)
    pairs = asyncio.ensure_future(_pairs_caught_up(cluster, heads, heal))
    try:
        ready_s = await cluster.start_replicator(isolated)
        await cluster.wait_streaming(timeout=max(60.0, seconds * 2))
        streaming = time.monotonic()
        caught_up = await cluster.wait_caught_up(TABLE, heads, timeout=max(120.0, seconds * 4))
        cpu = _cpu_used(cpu_before, _cpu_seconds(cluster))
        pair_s = await asyncio.wait_for(pairs, timeout=5.0)
    finally:
        pairs.cancel()
    digest_times: list[float] = []
    while True:
        # No writes are in flight, so nothing changes during a round: when a round's digests
        # agree, the regions were identical when it started.
        start = time.monotonic()
        digests = await cluster.digests(TABLE)
        done = time.monotonic()
        digest_times.append(done - start)
        if len(set(digests.values())) == 1:
            break
        if done - heal > max(120.0, seconds * 4):
            raise TimeoutError(f"digests still differ: {digests}")
        await asyncio.sleep(0.1)
    return {
        "isolated": isolated,
        "settled": settled,
        "backlog_at_heal": backlog_at_heal,
        "partition_s": seconds,
        "load": load,
        "replicator_ready_s": ready_s,
        "links_streaming_s": streaming - heal,
        "caught_up_s": caught_up - heal,
        "pairs_caught_up_s": pair_s,
        "cpu_s_until_caught_up": cpu,
        "converged_s": start - heal,
        "confirmed_s": done - heal,
        "digest_s": digest_times,
        "digest_rounds": len(digest_times),
    }
