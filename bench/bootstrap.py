"""Bootstrap of a new region from a peer holding N items, and peak memory while it runs.

A new empty region copies a snapshot only when some peer's stream no longer starts at
sequence 1 (replicator/join.py); otherwise it would stream the history. So the table here
keeps its stream for 1 s. Steps: the source region's node and replicator start with a group
file of that region alone (so it is ACTIVE at once); N items go into it with BatchWriteItem
(1000 per request, two in flight); its replicator restarts with the group file of both
regions (how a region is added to a group), and the harness waits until the source's stream
is trimmed. Then every process's peak resident set is reset, the new region's node and
replicator start, and its node's bootstrap state is polled until it is ACTIVE.

The rate counts the entries copied from the first poll that saw some to the end, so process
start, handshake and the source's RocksDB checkpoint (given separately) do not dilute it.
"""

from __future__ import annotations

import asyncio
import pathlib
import time
from collections.abc import Iterator

from bench import load, workload
from bench.cluster import REGION_NAMES, Cluster
from bench.workload import raw_method
from meridian.pb import node_pb2 as pb
from tests.harness import eventually

TABLE = "boot"
BATCH = 1000
RETENTION = "1s"
POLL_S = 0.1
TABLE_SPEC = {
    "name": TABLE,
    "partition_key": {"name": "pk", "type": "S"},
    "sort_key": {"name": "sk", "type": "N"},
    "stream": {"retention": RETENTION},
}


def _requests(items: int) -> Iterator[bytes]:
    """BatchWriteItem requests, built as they are sent (1M items would not fit in memory)."""
    for numbers in workload.chunks(items, BATCH):
        yield workload.batch_request(numbers, 1, "boot", TABLE)


async def _wait_trimmed(cluster: Cluster, source: str, timeout: float = 60.0) -> float:
    """Seconds until the source's stream no longer starts at sequence 1."""
    stub = cluster.regions[source].stub
    start = time.monotonic()

    async def trimmed() -> bool:
        reply = await stub.DescribeStream(pb.DescribeStreamRequest(table=TABLE), timeout=10)
        return bool(reply.trim_sequence_number > 1)

    what = f"the stream of {source} trimmed"
    await eventually(trimmed, timeout, what, logs=cluster.running(), interval=POLL_S)
    return time.monotonic() - start


async def _copy(cluster: Cluster, target: str, source: str, timeout: float) -> dict:
    """Start the new region and wait until it is ACTIVE; the copy's timeline and rates."""
    spawn = time.monotonic()
    node_ready_s = await cluster.start_node(target)
    replicator_ready_s = await cluster.start_replicator(target)
    region = cluster.regions[target]
    assert region.node is not None
    node_cpu = region.node.cpu_seconds()
    cpu = load.CpuWindow(cluster.running())
    first: tuple[float, int] | None = None
    timeline: list[tuple[float, int]] = []
    while True:
        state = (await region.peer.NodeInfo(pb.NodeInfoRequest(), timeout=10)).bootstrap
        now = time.monotonic()
        timeline.append((round(now - spawn, 2), state.entries))
        if first is None and state.entries > 0:
            first = (now, state.entries)
        if state.state == "ACTIVE":
            break
        if now - spawn > timeout:
            raise TimeoutError(f"{target} copied {state.entries} entries in {timeout}s")
        await asyncio.sleep(POLL_S)
    first = first or (now, 0)
    return {
        "source": source,
        "target": target,
        "entries": state.entries,
        "bytes": state.bytes,
        "reason": state.reason,
        "node_ready_s": node_ready_s,
        "replicator_ready_s": replicator_ready_s,
        "started_s": first[0] - spawn,
        "total_s": now - spawn,
        "items_per_s": (state.entries - first[1]) / (now - first[0])
        if now > first[0]
        else state.entries / (now - spawn),
        "items_per_s_total": state.entries / (now - spawn),
        "cpu_cores": cpu.stop(),
        "node_cpu_us_per_item": (region.node.cpu_seconds() - node_cpu) / state.entries * 1e6
        if state.entries
        else 0.0,
        "timeline": timeline,
    }


async def measure(work: pathlib.Path, items: int, durability: str) -> dict:
    source, target = REGION_NAMES[:2]
    cluster = Cluster(work, "bootstrap", [source, target], durability, [TABLE_SPEC])
    try:
        alone = cluster.subgroup("bootstrap-alone", [source])
        await cluster.start_node(source, alone)
        await cluster.start_replicator(source, alone)
        region = cluster.regions[source]
        assert region.channel is not None and region.node is not None
        call = raw_method(region.channel, "BatchWriteItem")
        preload = await load.drain(call, _requests(items), 2, [region.node], per_call=BATCH)
        # The group grows: the source's processes restart knowing the target (as operators do).
        cluster.stop_replicator(source)
        await cluster.restart_node(source)
        await cluster.start_replicator(source)
        trimmed_s = await _wait_trimmed(cluster, source)
        preload_rss = {p.role: p.peak_rss() for p in cluster.processes()}
        reset = all([p.reset_peak_rss() for p in cluster.running()])
        copy = await _copy(cluster, target, source, timeout=max(120.0, items / 1000))
        return {
            "items": items,
            "retention": RETENTION,
            "durability": durability,
            "preload": preload,
            "trimmed_after_s": trimmed_s,
            "copy": copy,
            "peak_rss_kb": {p.role: p.peak_rss() for p in cluster.running()},
            "peak_rss_since": "copy start" if reset else "process start",
            "peak_rss_kb_preload": preload_rss,
        }
    finally:
        await cluster.close()
