"""The scenarios: which faults, when and where, drawn from a seed.

A scenario's builder gets a random generator seeded from (run seed, scenario name) and the
region names, and returns its fault schedule; the same seed always gives the same schedule,
latencies and workload (only packet timing and process scheduling differ between runs).
Most scenarios add, with a seeded coin, a second fault on top of their main one, so the
suite also covers faults in combination. README.md says what each scenario proves.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from chaos.nemesis import Fault

Builder = Callable[[random.Random, list[str], "Scenario"], list[Fault]]


@dataclass
class Scenario:
    name: str
    proves: str
    build: Builder
    regions: int = 3
    duration_s: float = 45.0  # workload time until the heal; every fault ends by then
    warmup_s: float = 3.0  # workload before the first fault
    settle_s: float = 3.0  # workload after the heal
    latency_ms: tuple[float, float] = (30.0, 150.0)  # one-way delay per region pair
    expect_clock_rejections: bool | None = None
    max_clock_offset_ms: int = 2000
    lag_bound_s: float = 2.0
    recovery_bound_s: float = 30.0
    converge_timeout_s: float = 90.0
    clients: int = 3  # per region
    rate: float = 8.0  # operations per second per client
    retention: str = "24h"  # of the table's stream
    tombstone_lifetime: str = "24h"
    tombstone_max_lifetime: str = "7d"
    merge: str = "item"  # the table's merge mode: item or attribute


def window(rng: random.Random, sc: Scenario, low: float, high: float) -> tuple[float, float]:
    """A fault window of length in [low, high) that starts after the warm-up and ends
    before the heal."""
    length = rng.uniform(low, high)
    latest = max(sc.warmup_s, sc.duration_s - 1.0 - length)
    start = rng.uniform(sc.warmup_s, min(latest, sc.warmup_s + 5.0))
    return round(start, 2), round(min(start + length, sc.duration_s - 1.0), 2)


def process_fault(
    rng: random.Random, regions: list[str], kind: str, component: str, start: float, end: float
) -> Fault:
    return Fault(kind, start, end, {"region": rng.choice(regions), "component": component})


def maybe_kill_during(
    rng: random.Random, regions: list[str], main: Fault, probability: float = 0.5
) -> list[Fault]:
    """With the given probability, kill -9 a node somewhere during the main fault."""
    if rng.random() >= probability:
        return []
    start = round(rng.uniform(main.start_s, max(main.start_s, main.end_s - 4.0)), 2)
    return [process_fault(rng, regions, "kill", "node", start, round(start + rng.uniform(1, 4), 2))]


# --------------------------------------------------------------------------- builders


def partition_one(rng: random.Random, regions: list[str], sc: Scenario) -> list[Fault]:
    main = Fault("isolate", *window(rng, sc, 15, 25), {"region": rng.choice(regions)})
    return [main, *maybe_kill_during(rng, regions, main)]


def partition_long(rng: random.Random, regions: list[str], sc: Scenario) -> list[Fault]:
    """One region isolated for 60-90 s (long enough for TCP to back off for a minute)."""
    return [Fault("isolate", *window(rng, sc, 60, 90), {"region": rng.choice(regions)})]


def split_brain(rng: random.Random, regions: list[str], sc: Scenario) -> list[Fault]:
    shuffled = rng.sample(regions, len(regions))
    half = len(shuffled) // 2
    main = Fault("split", *window(rng, sc, 15, 25), {"groups": [shuffled[:half], shuffled[half:]]})
    faults = [main]
    if rng.random() < 0.5:
        faults.append(Fault("packets", main.start_s, main.end_s, {"loss": 0.03, "jitter_ms": 10}))
    return faults


def bridge(rng: random.Random, regions: list[str], sc: Scenario) -> list[Fault]:
    a, b = rng.sample(regions, 2)
    main = Fault("bridge", *window(rng, sc, 15, 25), {"a": a, "b": b})
    return [main, *maybe_kill_during(rng, regions, main)]


def one_way(rng: random.Random, regions: list[str], sc: Scenario) -> list[Fault]:
    src, dst = rng.sample(regions, 2)
    main = Fault("oneway", *window(rng, sc, 10, 20), {"src": src, "dst": dst})
    x, y = rng.sample(regions, 2)
    lossy = Fault("lossy", *window(rng, sc, 15, 25), {"src": x, "dst": y, "loss": 0.3})
    return [main, lossy]


def kills(component: str) -> Builder:
    def build(rng: random.Random, regions: list[str], sc: Scenario) -> list[Fault]:
        faults = []
        span = (sc.duration_s - 2.0 - sc.warmup_s) / 3
        for i in range(3):
            start = round(sc.warmup_s + i * span + rng.uniform(0, span / 2), 2)
            end = round(start + rng.uniform(1.0, 4.0), 2)
            faults.append(process_fault(rng, regions, "kill", component, start, end))
        return faults

    return build


def pause(rng: random.Random, regions: list[str], sc: Scenario) -> list[Fault]:
    mid = sc.duration_s / 2
    s1 = round(rng.uniform(sc.warmup_s, mid - 9), 2)
    s2 = round(rng.uniform(mid, sc.duration_s - 10), 2)
    return [
        process_fault(rng, regions, "pause", "node", s1, round(s1 + rng.uniform(3, 8), 2)),
        process_fault(rng, regions, "pause", "replicator", s2, round(s2 + rng.uniform(3, 8), 2)),
    ]


def flapping(rng: random.Random, regions: list[str], sc: Scenario) -> list[Fault]:
    start, end = window(rng, sc, 25, 30)
    pattern = [round(rng.uniform(0.5, 3.0), 2) for _ in range(40)]
    return [Fault("flap", start, end, {"region": rng.choice(regions), "pattern": pattern})]


def packets(rng: random.Random, regions: list[str], sc: Scenario) -> list[Fault]:
    target = {
        "loss": round(rng.uniform(0.05, 0.15), 3),
        "dup": round(rng.uniform(0.02, 0.10), 3),
        "reorder": round(rng.uniform(0.10, 0.30), 3),
        "jitter_ms": round(rng.uniform(10, 40), 1),
    }
    main = Fault("packets", *window(rng, sc, 25, 30), target)
    return [main, *maybe_kill_during(rng, regions, main, 0.3)]


def skew_within(rng: random.Random, regions: list[str], sc: Scenario) -> list[Fault]:
    """One region's clock off by 30-60 % of max_clock_offset (ahead or behind) all along."""
    offset = round(sc.max_clock_offset_ms * rng.uniform(0.3, 0.6)) * rng.choice((-1, 1))
    target = {"region": rng.choice(regions), "offset_ms": offset, "from_start": True}
    return [Fault("skew", 0.0, sc.duration_s, target)]


def skew_beyond(rng: random.Random, regions: list[str], sc: Scenario) -> list[Fault]:
    """One region's clock 1.5-3 times max_clock_offset ahead for 10-20 s (set by a restart)."""
    offset = round(sc.max_clock_offset_ms * rng.uniform(1.5, 3.0))
    target = {"region": rng.choice(regions), "offset_ms": offset}
    main = Fault("skew", *window(rng, sc, 10, 20), target)
    return [main, *maybe_kill_during(rng, regions, main, 0.3)]


def mixed(rng: random.Random, regions: list[str], sc: Scenario) -> list[Fault]:
    """Four faults of random kinds at random, possibly overlapping, times."""
    faults: list[Fault] = []
    busy: dict[tuple[str, str], float] = {}
    for _ in range(4):
        start, end = window(rng, sc, 5, 15)
        kind = rng.choice(("isolate", "oneway", "bridge", "kill", "kill", "pause", "packets"))
        if kind == "isolate":
            faults.append(Fault(kind, start, end, {"region": rng.choice(regions)}))
        elif kind == "oneway":
            src, dst = rng.sample(regions, 2)
            faults.append(Fault(kind, start, end, {"src": src, "dst": dst}))
        elif kind == "bridge":
            a, b = rng.sample(regions, 2)
            faults.append(Fault(kind, start, end, {"a": a, "b": b}))
        elif kind == "packets":
            faults.append(Fault(kind, start, end, {"loss": 0.05, "dup": 0.05, "reorder": 0.2}))
        else:
            fault = process_fault(
                rng,
                regions,
                kind,
                rng.choice(("node", "replicator")),
                start,
                round(start + rng.uniform(1, 6), 2),
            )
            key = (fault.target["region"], fault.target["component"])
            if busy.get(key, -1.0) >= start:
                continue  # one process fault at a time per process
            busy[key] = fault.end_s
            faults.append(fault)
    return faults


def outage_past_lifetime(rng: random.Random, regions: list[str], sc: Scenario) -> list[Fault]:
    """One region cannot pull from another from shortly after the warm-up until just before
    the heal (longer than the retention and the maximum tombstone lifetime); the other
    still pulls from it."""
    puller, source = rng.sample(regions, 2)
    start = round(sc.warmup_s + rng.uniform(0.0, 1.0), 2)
    return [Fault("nopull", start, sc.duration_s - 1.0, {"puller": puller, "source": source})]


def smoke(rng: random.Random, regions: list[str], sc: Scenario) -> list[Fault]:
    """Partition one region for 10 s; kill -9 one node (maybe the cut-off one) meanwhile."""
    isolated = rng.choice(regions)
    start = sc.warmup_s
    kill_at = round(rng.uniform(start + 1, start + 4), 2)
    return [
        Fault("isolate", start, start + 10.0, {"region": isolated}),
        Fault("kill", kill_at, kill_at + 2.0, {"region": rng.choice(regions), "component": "node"}),
    ]


SCENARIOS = {
    sc.name: sc
    for sc in (
        Scenario(
            "partition-one",
            "a region cut off keeps taking writes; after the heal no "
            "acknowledged write is lost and every region converges",
            partition_one,
        ),
        Scenario(
            "partition-long",
            "after a 60-90 s partition replication resumes within the recovery bound and "
            "nothing is lost",
            partition_long,
            duration_s=100.0,
        ),
        Scenario(
            "split-brain",
            "two halves of a four-region group both take conflicting writes; "
            "last-writer-wins picks the same winner everywhere",
            split_brain,
            regions=4,
        ),
        Scenario(
            "bridge",
            "a non-transitive partition (a and b cut, both still see c): records "
            "travel only from their origin, so a and b catch up once healed",
            bridge,
        ),
        Scenario(
            "one-way",
            "asymmetric faults (one direction dropped, another lossy) stall "
            "links without breaking convergence",
            one_way,
        ),
        Scenario(
            "kill-node",
            "kill -9 of nodes under load loses no acknowledged write "
            "(durable before ack) and leaves no gap in any checkpoint",
            kills("node"),
        ),
        Scenario(
            "kill-replicator",
            "kill -9 of replicators mid-batch: re-sent records are "
            "applied at most once, none is skipped",
            kills("replicator"),
        ),
        Scenario(
            "pause",
            "SIGSTOP/SIGCONT of a node and of a replicator (GC-like stalls): "
            "timeouts become unknown outcomes, never lost or doubled writes",
            pause,
        ),
        Scenario(
            "flapping",
            "a region's links going up and down every 0.5-3 s: reconnects "
            "and re-sends stay idempotent",
            flapping,
        ),
        Scenario(
            "packets",
            "packet loss, duplication, reordering and jitter on every link "
            "(TCP hides them; replication just slows down)",
            packets,
        ),
        Scenario(
            "clock-skew-within",
            "one region's clock off by less than max_clock_offset: "
            "nothing is rejected, HLC keeps causality, LWW still converges",
            skew_within,
            expect_clock_rejections=False,
            lag_bound_s=3.5,  # lag is measured on the skewed clock too
        ),
        Scenario(
            "clock-skew-beyond",
            "one region's clock ahead by more than max_clock_offset: "
            "its records are rejected and counted, never applied, until the clock is back",
            skew_beyond,
            expect_clock_rejections=True,
        ),
        Scenario("mixed", "four random faults from the other scenarios, overlapping", mixed),
        Scenario(
            "attribute-merge",
            "a table in attribute merge mode, one region partitioned (maybe a node killed): "
            "every attribute ends with the newest value written since the item's last "
            "put or delete, in every region",
            partition_one,
            merge="attribute",
        ),
        Scenario(
            "outage-past-lifetime",
            "one-way outage past retention and tombstone lifetime: a region that cannot pull "
            "from another for longer than the stream retention and the maximum tombstone "
            "lifetime resyncs, removes what was deleted meanwhile, and loses nothing",
            outage_past_lifetime,
            duration_s=40.0,
            retention="5s",
            tombstone_lifetime="2s",
            tombstone_max_lifetime="8s",
        ),
    )
}

SMOKE = Scenario(
    "smoke",
    "partition one region for 10 s and kill -9 a node meanwhile (the CI scenario)",
    smoke,
    duration_s=16.0,
    warmup_s=2.0,
    settle_s=2.0,
    latency_ms=(5.0, 20.0),
    clients=2,
    converge_timeout_s=60.0,
)

# The CI variant of outage-past-lifetime (chaos/test_outage.py): shorter, and faster links.
OUTAGE_SHORT = Scenario(
    "outage-short",
    "one-way outage past retention and tombstone lifetime, short (the CI variant)",
    outage_past_lifetime,
    duration_s=16.0,
    warmup_s=2.0,
    settle_s=2.0,
    latency_ms=(5.0, 20.0),
    clients=2,
    converge_timeout_s=60.0,
    retention="3s",
    tombstone_lifetime="1s",
    tombstone_max_lifetime="4s",
)

# The CI variant of attribute-merge (chaos/test_attribute_merge.py): the smoke scenario's
# faults on a table in attribute merge mode.
ATTRIBUTE_SHORT = Scenario(
    "attribute-short",
    "partition one region for 10 s and kill -9 a node meanwhile, attribute merge mode",
    smoke,
    duration_s=16.0,
    warmup_s=2.0,
    settle_s=2.0,
    latency_ms=(5.0, 20.0),
    clients=2,
    converge_timeout_s=60.0,
    merge="attribute",
)
