"""How much work each mode does: full (`make bench`), quick (`QUICK=1`) and smoke (tests)."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Profile:
    name: str
    # raw limits
    raw_batches: int = 100  # WriteBatches of 1000 pairs, WAL without fsync
    raw_sync_batches: int = 30  # the same with an fsync per batch
    raw_gets: int = 100_000
    raw_pb_iterations: int = 200_000
    raw_unary_calls: int = 5_000
    raw_stream_messages: int = 20_000
    # one region
    concurrency: int = 32  # concurrent calls when saturating
    put_sequential: int = 5_000
    saturate_s: float = 5.0
    batch_items: int = 200_000  # BatchWriteItem, 1000 writes per request
    read_s: float = 5.0
    # several regions
    regions: int = 3
    lag_loads: tuple[tuple[int, float], ...] = (  # ascending: the highest sustained is reported
        (100, 15.0),
        (500, 15.0),
        (1000, 15.0),
        (2000, 15.0),
        (3000, 15.0),
        (5000, 15.0),  # issue 15's sustained-rate target: p99 <= 250 ms at 5,000 writes/s
        (10000, 15.0),
    )
    apply_items: int = 200_000
    partition_s: float = 30.0
    partition_rate: int = 3000
    partition_keys: int = 20_000
    # what TLS costs (bench/tls.py): replication lag at this (rate, seconds), TLS on and off
    tls_lag_load: tuple[int, float] = (100, 15.0)
    # bootstrap of a new region
    bootstrap_items: int = 1_000_000
    # WAN (bench/wan.py): three regions in network namespaces, this one-way delay (+- jitter)
    # on every link. The packet shaper carries these rates with a few percent of a core; at
    # 500 writes/s the group itself already takes the machine's two cores (docs/performance.md)
    wan_loads: tuple[tuple[int, float], ...] = ((100, 15.0), (500, 15.0))
    wan_delay_ms: float = 25.0
    wan_jitter_ms: float = 2.5
    # peers (bench/peers.py): PostgreSQL and Redis replication lag at the two lowest lag loads
    peers: bool = True
    # before each phase after the first: write-back, then at most this long for a quiet
    # machine (bench/settle.py); 0: no settling
    settle_s: float = 10.0


FULL = Profile("full")
QUICK = replace(
    FULL,
    name="quick",
    raw_batches=30,
    raw_sync_batches=10,
    raw_gets=30_000,
    raw_pb_iterations=50_000,
    raw_unary_calls=2_000,
    raw_stream_messages=5_000,
    put_sequential=1_000,
    saturate_s=3.0,
    batch_items=20_000,
    read_s=2.0,
    lag_loads=((500, 5.0), (3000, 5.0)),
    apply_items=20_000,
    partition_s=5.0,
    partition_rate=1000,
    partition_keys=5_000,
    tls_lag_load=(100, 5.0),
    bootstrap_items=100_000,
    wan_loads=((100, 5.0),),
)
SMOKE = replace(
    FULL,
    name="smoke",
    raw_batches=3,
    raw_sync_batches=2,
    raw_gets=1_000,
    raw_pb_iterations=2_000,
    raw_unary_calls=200,
    raw_stream_messages=200,
    concurrency=8,
    put_sequential=100,
    saturate_s=0.5,
    batch_items=2_000,
    read_s=0.3,
    regions=2,
    lag_loads=((200, 1.0),),
    apply_items=2_000,
    partition_s=1.0,
    partition_rate=200,
    partition_keys=500,
    tls_lag_load=(100, 1.0),
    bootstrap_items=2_000,
    wan_loads=(),  # needs root and network namespaces; the smoke run must not
    peers=False,  # installs and runs other databases: kept out of the test suite
    settle_s=1.0,  # the test suite runs on a busy machine: write-back, a short wait
)
PROFILES = {p.name: p for p in (FULL, QUICK, SMOKE)}
