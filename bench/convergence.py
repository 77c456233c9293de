"""Convergence after a partition: one region's replicator is stopped while every region,
that one included, takes writes on a shared key space (so the two sides conflict); when the
writes end the replicator is started again (the heal) and the time until every region's
Digest is identical is measured. Checkpoints are polled first (cheap): once every region has
applied every other region's stream up to where it stood when the writes ended, the digests
are compared, and again every 100 ms until they agree; the convergence time is when the round
that agreed started (confirmed when it ended). Along the way: when the healed replicator
served again, and when every link was streaming (peers reconnect with backoff).
"""

from __future__ import annotations

import asyncio
import json
import time

from bench.cluster import Cluster
from bench.workload import TABLE


async def measure(cluster: Cluster, rate: int, seconds: float, keys: int) -> dict:
    names = list(cluster.regions)
    isolated = names[-1]
    await cluster.wait_caught_up(TABLE, await cluster.heads(TABLE), timeout=120)
    cluster.stop_replicator(isolated)
    result_path = cluster.work / "loadgen-partition.json"
    gen = cluster.start_loadgen("loadgen-partition", rate, seconds, keys, result_path, "shared")
    await gen.finish(timeout=seconds + 120)
    load = json.loads(result_path.read_text())
    heads = await cluster.heads(TABLE)
    heal = time.monotonic()
    ready_s = await cluster.start_replicator(isolated)
    await cluster.wait_streaming(timeout=max(60.0, seconds * 2))
    streaming = time.monotonic()
    caught_up = await cluster.wait_caught_up(TABLE, heads, timeout=max(120.0, seconds * 4))
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
        "partition_s": seconds,
        "load": load,
        "replicator_ready_s": ready_s,
        "links_streaming_s": streaming - heal,
        "caught_up_s": caught_up - heal,
        "converged_s": start - heal,
        "confirmed_s": done - heal,
        "digest_s": digest_times,
        "digest_rounds": len(digest_times),
    }
