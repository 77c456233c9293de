"""One region: a real node process, durability buffered and fsync measured separately.

PutItem one call at a time (latency) and saturated (many calls in flight), BatchWriteItem of
1000 writes per request, then GetItem and Query (10 items per partition) saturated. Reads do
not depend on durability and are measured on the buffered node only. Then PutItem and
GetItem again over the DynamoDB HTTP door (keep-alive connections, one per caller).
"""

from __future__ import annotations

import pathlib

import grpc

from bench import http_door, load, metrics, workload
from bench.cluster import Cluster
from bench.profile import Profile
from bench.workload import raw_method
from tests.harness import Process

BATCH = 1000
REGION = "us-east"


async def _one(work: pathlib.Path, durability: str, p: Profile) -> dict:
    cluster = Cluster(work, f"region-{durability}", [REGION], durability)
    try:
        await cluster.start(replicators=False)
        region = cluster.regions[REGION]
        node, channel = region.node, region.channel
        assert node is not None and channel is not None
        procs = [node]
        put, batch = raw_method(channel, "PutItem"), raw_method(channel, "BatchWriteItem")
        for n in range(100):  # warm up
            await put(workload.put_request(n, 0, "w"))
        out: dict = {"durability": durability}
        requests = [workload.put_request(n, 1, "s") for n in range(p.put_sequential)]
        out["put_sequential"] = await load.sequential(put, requests, procs)
        before = await metrics.scrape(region.node_metrics)
        out["put_saturated"] = await load.saturated(
            put, lambda n: workload.put_request(n, 2, "c"), p.concurrency, p.saturate_s, procs
        )
        out["put_saturated"]["ops_per_commit"] = _ops_per_commit(
            before, await metrics.scrape(region.node_metrics)
        )
        batches = [
            workload.batch_request(ns, 3, "b") for ns in workload.chunks(p.batch_items, BATCH)
        ]
        cpu_before = node.cpu_seconds()
        out["batch_write"] = await load.drain(batch, batches, 2, procs, per_call=BATCH)
        out["batch_write"]["items_per_request"] = BATCH
        out["batch_write"]["node_cpu_us_per_item"] = (
            (node.cpu_seconds() - cpu_before) / p.batch_items * 1e6
        )
        if durability == "buffered":
            out.update(await _reads(channel, p, procs))
        assert region.api_addr is not None
        out["http"] = await _http(region.api_addr, durability, p, procs)
        out["node_peak_rss_kb"] = node.peak_rss()
        return out
    finally:
        await cluster.close()


def _ops_per_commit(before: metrics.Samples, after: metrics.Samples) -> float:
    """Operations per group-committed WriteBatch between two scrapes of the node."""
    name = "meridian_node_commit_operations"
    commits = metrics.total(after, name + "_count") - metrics.total(before, name + "_count")
    ops = metrics.total(after, name + "_sum") - metrics.total(before, name + "_sum")
    return ops / commits if commits else 0.0


async def _reads(channel: grpc.aio.Channel, p: Profile, procs: list[Process]) -> dict:
    get, query = raw_method(channel, "GetItem"), raw_method(channel, "Query")
    items = p.batch_items
    partitions = max(1, items // workload.SORT_KEYS_PER_PARTITION)
    step = 7919  # a prime: spread the keys read over the table
    gets = await load.saturated(
        get, lambda n: workload.get_request(n * step % items, "b"), p.concurrency, p.read_s, procs
    )
    queries = await load.saturated(
        query,
        lambda n: workload.query_request(n * step % partitions, "b"),
        p.concurrency,
        p.read_s,
        procs,
        per_call=workload.SORT_KEYS_PER_PARTITION,
    )
    return {"get_saturated": gets, "query_saturated": queries}


async def _http(address: str, durability: str, p: Profile, procs: list[Process]) -> dict:
    """PutItem (and GetItem) over the DynamoDB door, as the gRPC figures above."""
    client = http_door.DoorClient(address)
    try:
        put, get = client.method("PutItem"), client.method("GetItem")
        for n in range(100):  # warm up
            await put(http_door.put_body(n, 0, "hw"))
        out: dict = {}
        bodies = [http_door.put_body(n, 1, "hs") for n in range(p.put_sequential)]
        out["put_sequential"] = await load.sequential(put, bodies, procs)
        out["put_saturated"] = await load.saturated(
            put, lambda n: http_door.put_body(n, 2, "hc"), p.concurrency, p.saturate_s, procs
        )
        if durability == "buffered":
            items = p.batch_items
            step = 7919
            out["get_saturated"] = await load.saturated(
                get,
                lambda n: http_door.get_body(n * step % items, "b"),
                p.concurrency,
                p.read_s,
                procs,
            )
        return out
    finally:
        await client.close()


async def measure(work: pathlib.Path, p: Profile) -> dict:
    return {d: await _one(work, d, p) for d in ("buffered", "fsync")}
