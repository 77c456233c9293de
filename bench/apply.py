"""Replicated apply rate: how fast a region takes in a backlog of records from one peer.

With every replicator but the source's stopped, N items are preloaded into the source region
with BatchWriteItem (1000 per request). Then one peer's replicator is started and its node's
checkpoint for the source is polled until it reaches the source's stream head. The sustained
rate counts from the first applied batch to the end, so process start and handshake (given
separately) do not dilute it. The same is then measured for one peer with a table in
attribute merge mode (per-attribute versions merged on apply).
"""

from __future__ import annotations

import asyncio
import time

from bench import load, workload
from bench.cluster import Cluster
from bench.workload import BULK_ATTRIBUTE_TABLE, BULK_TABLE, raw_method

BATCH = 1000


async def _catch_up(
    cluster: Cluster, target: str, source: str, head: int, timeout: float, table: str = BULK_TABLE
) -> dict:
    region = cluster.regions[target]
    assert region.node is not None
    node_cpu = region.node.cpu_seconds()
    spawn = time.monotonic()
    ready_s = await cluster.start_replicator(target)
    procs = [
        p
        for p in (
            region.node,
            region.replicator,
            cluster.regions[source].node,
            cluster.regions[source].replicator,
        )
        if p is not None
    ]
    cpu = load.CpuWindow(procs)
    first = (time.monotonic(), 0)  # replaced by the first poll that sees progress
    timeline: list[tuple[float, int]] = []
    while True:
        ckpts = await cluster.checkpoints(table)
        position = ckpts.get((target, source), 0)
        now = time.monotonic()
        timeline.append((round(now - spawn, 3), position))
        if first[1] == 0 and 0 < position < head:
            first = (now, position)
        if position >= head:
            break
        if now - spawn > timeout:
            raise TimeoutError(f"{target} applied {position} of {head} records from {source}")
        await asyncio.sleep(0.02)
    done = time.monotonic()
    sustained_s = done - first[0]
    return {
        "target": target,
        "records": head,
        "replicator_ready_s": ready_s,
        "total_s": done - spawn,
        "records_per_s_total": head / (done - spawn),
        "records_per_s": (head - first[1]) / sustained_s
        if sustained_s > 0
        else head / (done - spawn),
        "cpu_cores": cpu.stop(),
        "node_cpu_us_per_item": (region.node.cpu_seconds() - node_cpu) / head * 1e6,
        "timeline": timeline,
    }


async def _preload(cluster: Cluster, source: str, items: int, table: str) -> tuple[dict, int]:
    """Write `items` new items into `table` in the source region: (load figures, its head)."""
    region = cluster.regions[source]
    assert region.channel is not None and region.node is not None
    batches = [workload.batch_request(ns, 1, "a", table) for ns in workload.chunks(items, BATCH)]
    call = raw_method(region.channel, "BatchWriteItem")
    preload = await load.drain(call, batches, 2, [region.node], per_call=BATCH)
    return preload, (await cluster.heads(table))[source]


async def measure(cluster: Cluster, items: int) -> dict:
    names = list(cluster.regions)
    source, peers = names[0], names[1:]
    for peer in peers:
        cluster.stop_replicator(peer)
    preload, head = await _preload(cluster, source, items, BULK_TABLE)
    timeout = max(60.0, items / 1000)
    first = await _catch_up(cluster, peers[0], source, head, timeout)
    others = [await _catch_up(cluster, peer, source, head, timeout) for peer in peers[1:]]
    await cluster.wait_streaming()
    for peer in peers:
        cluster.stop_replicator(peer)
    _, head = await _preload(cluster, source, items, BULK_ATTRIBUTE_TABLE)
    attribute = await _catch_up(cluster, peers[0], source, head, timeout, BULK_ATTRIBUTE_TABLE)
    for peer in peers[1:]:
        await cluster.start_replicator(peer)
    await cluster.wait_streaming()
    return {
        "source": source,
        "preload": preload,
        "apply": first,
        "apply_others": others,
        "apply_attribute": attribute,
    }
