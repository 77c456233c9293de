"""What TLS costs, measured in the same run as plaintext.

- PutItem on one node, one call at a time (latency) and saturated (many calls in flight),
  in three setups: plaintext, TLS on the client door, and TLS with access keys (every call
  signed, the secure default of `make run`). Durability buffered, where the transport's
  share of a write is largest; with fsync the disk hides most of it.
- Replication lag at one low rate over a group of regions, plaintext and with TLS (mutual
  TLS between replicators, TLS from the load generator to the nodes).

Everything runs on the loopback, so the figures show what handshakes and encryption cost
the processes, not the network. The setups run one after the other on the same machine;
the ratio to plaintext is the figure to read. On a shared machine the CPU figures (the
node's CPU per PutItem, the group's CPU while replicating) move much less than latencies
and rates, and they are what TLS adds.
"""

from __future__ import annotations

import pathlib

from bench import load, replication, workload
from bench.cluster import REGION_NAMES, Cluster
from bench.profile import Profile
from bench.workload import raw_method

REGION = "us-east"
# name -> (tls, access keys)
PUT_SETUPS = {"plaintext": (False, False), "tls": (True, False), "tls_keys": (True, True)}
LAG_SETUPS = {"plaintext": False, "tls": True}


async def _puts(work: pathlib.Path, p: Profile, name: str, tls: bool, keys: bool) -> dict:
    cluster = Cluster(work, f"tls-put-{name}", [REGION], "buffered", tls=tls, access_key=keys)
    try:
        await cluster.start(replicators=False)
        region = cluster.regions[REGION]
        node, channel = region.node, region.channel
        assert node is not None and channel is not None
        put = raw_method(channel, "PutItem")
        for n in range(100):  # warm up (and the TLS session is up)
            await put(workload.put_request(n, 0, "w"))
        requests = [workload.put_request(n, 1, "s") for n in range(p.put_sequential)]
        sequential = await load.sequential(put, requests, [node])
        saturated = await load.saturated(
            put, lambda n: workload.put_request(n, 2, "c"), p.concurrency, p.saturate_s, [node]
        )
        for result in (sequential, saturated):
            result["node_cpu_us_per_call"] = (
                result["cpu_cores"][node.name] / result["calls_per_s"] * 1e6
            )
        return {"put_sequential": sequential, "put_saturated": saturated}
    finally:
        await cluster.close()


async def _lag(
    work: pathlib.Path, p: Profile, name: str, tls: bool, durability: str, keys: int
) -> dict:
    names = REGION_NAMES[: p.regions]
    cluster = Cluster(work, f"tls-lag-{name}", names, durability, tls=tls)
    try:
        await cluster.start()
        await cluster.wait_streaming()
        result = await replication.measure(cluster, (p.tls_lag_load,), keys)
        (one,) = result["loads"]
        group = {proc.name for proc in cluster.processes()}
        one["group_cpu_cores"] = sum(v for k, v in one["cpu_cores"].items() if k in group)
        return result
    finally:
        await cluster.close()


async def measure(work: pathlib.Path, p: Profile, durability: str, keys: int) -> dict:
    puts = {name: await _puts(work, p, name, *flags) for name, flags in PUT_SETUPS.items()}
    lags = {
        name: await _lag(work, p, name, tls, durability, keys) for name, tls in LAG_SETUPS.items()
    }
    return {
        "put_durability": "buffered",
        "put": puts,
        "lag_rate": p.tls_lag_load[0],
        "lag_regions": p.regions,
        "lag_durability": durability,
        "lag": lags,
    }
