"""Unit tests of the history checker, including its self-test: histories produced by a
deliberately broken apply must be reported.

`Sim` is a toy group: each region has an in-memory store and stream, local writes are
stamped by the real hybrid logical clock, and each origin's records are replicated in order
with the real last-writer-wins decision (meridian.model.lww) or with a planted bug.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

import pytest

from chaos.checker import Context, Observation, attribute_values, check
from meridian.model import hlc, lww

HEAL_NS = 10**18


class Sim:
    def __init__(self, regions: tuple[str, ...] = ("a", "b", "c"), apply: str = "lww") -> None:
        self.regions = regions
        self.apply = apply  # lww | overwrite | always | forget_tombstones | no_observe
        self.store: dict[str, dict[str, tuple[tuple[int, str], bool, str | None]]] = {
            r: {} for r in regions
        }
        self.stream: dict[str, list[dict[str, Any]]] = {r: [] for r in regions}
        self.clock = dict.fromkeys(regions, 0)
        self.skew_ms = dict.fromkeys(regions, 0)
        self.done = {(s, d): 0 for s in regions for d in regions if s != d}
        self.history: list[dict[str, Any]] = []
        self.now_ms = 1_700_000_000_000
        self.count = 0

    def wall(self, region: str) -> int:
        return self.now_ms + self.skew_ms[region]

    def _emit(
        self, region: str, key: str, version: tuple[int, str], tomb: bool, v: str | None, prev: Any
    ) -> None:
        event = "REMOVE" if tomb else ("MODIFY" if prev and not prev[1] else "INSERT")
        self.stream[region].append(
            {
                "seq": len(self.stream[region]) + 1,
                "key": key,
                "version": list(version),
                "event": event,
                "v": None if tomb else v,
                "created_ms": self.wall(region),
            }
        )

    def write(self, region: str, kind: str, key: str, outcome: str = "ok") -> dict[str, Any]:
        self.now_ms += 1
        self.count += 1
        op: dict[str, Any] = {
            "id": f"{region}.0.{self.count}",
            "region": region,
            "client": 0,
            "kind": kind,
            "key": key,
            "invoke_ns": self.now_ms * 10**6,
            "outcome": outcome,
        }
        prev = self.store[region].get(key)
        if outcome == "failed" or (kind == "delete" and (prev is None or prev[1])):
            op.update(changed=False, version=None, complete_ns=op["invoke_ns"] + 1)
            self.history.append(op)
            return op
        self.clock[region] = hlc.tick(self.clock[region], self.wall(region))
        version = (self.clock[region], region)
        tomb = kind == "delete"
        self.store[region][key] = (version, tomb, None if tomb else op["id"])
        self._emit(region, key, version, tomb, op["id"], prev)
        op.update(
            changed=True,
            version=None if outcome == "unknown" else list(version),
            complete_ns=op["invoke_ns"] + 1,
        )
        self.history.append(op)
        return op

    def read(self, region: str, key: str) -> None:
        self.now_ms += 1
        stored = self.store[region].get(key)
        found = stored is not None and not stored[1]
        t = self.now_ms * 10**6
        self.history.append(
            {
                "id": f"{region}.r.{self.now_ms}",
                "region": region,
                "client": 0,
                "kind": "get",
                "key": key,
                "invoke_ns": t,
                "complete_ns": t + 1,
                "outcome": "ok",
                "found": found,
                "version": list(stored[0]) if found and stored else None,
            }
        )

    def local(self, region: str) -> list[dict[str, Any]]:
        return [r for r in self.stream[region] if r["version"][1] == region]

    def replicate(
        self, src: str, dst: str, upto: int | None = None, skip: frozenset[int] = frozenset()
    ) -> None:
        """Apply src's next records at dst in order; `skip`: origin sequence numbers to
        drop while still advancing the checkpoint (a planted bug)."""
        records = self.local(src)
        start = self.done[(src, dst)]
        end = len(records) if upto is None else min(len(records), start + upto)
        for rec in records[start:end]:
            self.now_ms += 1
            if rec["seq"] in skip:
                continue
            version = (rec["version"][0], rec["version"][1])
            if self.apply != "no_observe":
                self.clock[dst] = hlc.merge(self.clock[dst], version[0], self.wall(dst))
            stored = self.store[dst].get(rec["key"])
            current = stored[0] if stored else None
            if self.apply == "forget_tombstones" and stored and stored[1]:
                current = None
            outcome = lww.decide(version, current)
            if self.apply == "overwrite" and outcome is lww.Outcome.LOST_TO_NEWER:
                outcome = lww.Outcome.APPLY
            if self.apply == "always":
                outcome = lww.Outcome.APPLY
            if outcome is lww.Outcome.APPLY:
                tomb = rec["event"] == "REMOVE"
                self.store[dst][rec["key"]] = (version, tomb, rec["v"])
                self._emit(dst, rec["key"], version, tomb, rec["v"], stored)
        self.done[(src, dst)] = end

    def converge(self) -> None:
        for _ in range(2):
            for src in self.regions:
                for dst in self.regions:
                    if src != dst:
                        self.replicate(src, dst)

    def observation(self, **overrides: Any) -> Observation:
        states = {
            r: {k: {"version": list(v), "tombstone": t, "v": val} for k, (v, t, val) in s.items()}
            for r, s in self.store.items()
        }
        digests = {
            r: {"digest": hashlib.sha256(json.dumps(sorted(s.items())).encode()).hexdigest()}
            for r, s in states.items()
        }
        pairs = [(s, d) for s in self.regions for d in self.regions if s != d]
        samples = [
            {"t": HEAL_NS + i * 10**9, "region": d, "lag": {s: lag}, "pending": {s: 0}}
            for i, lag in enumerate((5.0, 0.1))
            for s, d in pairs
        ]
        fields: dict[str, Any] = {
            "history": self.history,
            "states": states,
            "streams": self.stream,
            "digests": digests,
            "samples": samples,
            "heal_ns": HEAL_NS,
            "heads": {r: [len(s)] * 2 for r, s in self.stream.items()},
            "final": {d: {"lag": {s: 0.1}, "pending": {s: 0}} for s, d in pairs},
            "max_clock_offset_ms": 2000,
        }
        fields.update(overrides)
        return Observation(**fields)


def drive(sim: Sim, seed: int, steps: int = 400) -> Sim:
    """Random writes on a few shared keys in every region, with partial replication
    between them (so regions see writes in different orders), then full convergence."""
    rng = random.Random(seed)
    for _ in range(steps):
        if rng.random() < 0.7:
            kind = rng.choice(("put", "put", "update", "delete"))
            sim.write(rng.choice(sim.regions), kind, f"k{rng.randrange(6)}")
            if rng.random() < 0.2:
                sim.read(rng.choice(sim.regions), f"k{rng.randrange(6)}")
        else:
            src, dst = rng.sample(sim.regions, 2)
            sim.replicate(src, dst, upto=rng.randrange(1, 6))
        sim.now_ms += rng.randrange(0, 3)
    sim.converge()
    return sim


def failing(result: dict[str, Any]) -> set[str]:
    return {name for name, r in result["checks"].items() if not r["ok"]}


# --------------------------------------------------------------------------- a correct apply


def test_correct_last_writer_wins_passes_every_check() -> None:
    for seed in range(5):
        result = check(drive(Sim(), seed).observation())
        assert result["ok"], (seed, {n: r["examples"] for n, r in result["checks"].items()})
        assert result["summary"]["lost"] == 0
        assert result["summary"]["acknowledged"] > 100


def test_unknown_write_may_win_and_failed_write_may_not_appear() -> None:
    sim = Sim()
    sim.write("a", "put", "k")
    sim.write("b", "put", "k", outcome="unknown")  # applied, but the client never heard
    sim.converge()
    assert check(sim.observation())["ok"]
    sim.history[-1]["outcome"] = "failed"
    result = check(sim.observation())
    assert "acknowledged_writes" in failing(result)
    assert any("FAILED" in e for e in result["checks"]["acknowledged_writes"]["examples"])


# --------------------------------------------------------------------------- planted bugs


def test_unconditional_overwrite_loses_an_acknowledged_higher_write() -> None:
    sim = Sim(("a", "b"), apply="overwrite")
    sim.write("a", "put", "k")  # older
    newer = sim.write("b", "put", "k")  # newer, acknowledged
    sim.replicate("b", "a")
    sim.replicate("a", "b")  # the bug: a's older write overwrites b's newer one
    result = check(sim.observation())
    assert {"acknowledged_writes", "convergence", "monotonic"} <= failing(result)
    assert result["summary"]["lost"] == 1
    assert any(
        newer["id"] in e and "OLDER" in e
        for e in result["checks"]["acknowledged_writes"]["examples"]
    )


def test_unconditional_overwrite_is_caught_in_a_random_history() -> None:
    lost = [
        check(drive(Sim(apply="overwrite"), seed).observation())["summary"]["lost"]
        for seed in range(5)
    ]
    assert all(n > 0 for n in lost), lost


def test_skipped_record_is_a_gap_even_when_a_later_write_hides_it() -> None:
    sim = Sim()
    sim.write("a", "put", "k")  # origin seq 1: b will skip it
    sim.write("a", "put", "j")
    sim.write("a", "put", "k")  # supersedes seq 1, so every state still converges
    sim.replicate("a", "b", skip=frozenset({1}))
    sim.converge()
    result = check(sim.observation())
    assert failing(result) == {"no_gaps"}
    assert "GAP: b skipped record 1 of a" in result["checks"]["no_gaps"]["examples"][0]


def test_skipped_record_that_nothing_hides_is_lost() -> None:
    sim = Sim()
    skipped = sim.write("a", "put", "k")
    sim.replicate("a", "b", skip=frozenset({1}))
    sim.converge()
    result = check(sim.observation())
    assert {"no_gaps", "convergence", "acknowledged_writes"} <= failing(result)
    assert any(skipped["id"] in e for e in result["checks"]["acknowledged_writes"]["examples"])


def test_applying_a_record_twice_is_a_duplicate() -> None:
    sim = Sim(apply="always")
    sim.write("a", "put", "k")
    sim.replicate("a", "b")
    sim.done[("a", "b")] = 0  # a lost checkpoint: the batch is re-sent
    sim.replicate("a", "b")
    sim.converge()
    result = check(sim.observation())
    assert "no_duplicates" in failing(result)
    assert result["summary"]["duplicates"] == 1


def test_forgotten_tombstone_lets_an_older_write_come_back() -> None:
    sim = Sim(apply="forget_tombstones")
    sim.write("a", "put", "k")  # older put, still in flight to b
    sim.write("b", "put", "k")
    sim.write("b", "delete", "k")  # acknowledged delete, newest version of k
    sim.replicate("b", "a")
    sim.replicate("a", "b")  # the bug: the tombstone is ignored, the older put applied
    result = check(sim.observation())
    assert "no_resurrection" in failing(result)
    assert result["summary"]["resurrected"] == 1


def test_record_applied_beyond_the_clock_offset_is_reported() -> None:
    sim = Sim()
    sim.skew_ms["a"] = 5000  # a's clock runs 5 s ahead; this apply has no offset check
    sim.write("a", "put", "k")
    sim.converge()
    result = check(sim.observation(expect_clock_rejections=True))
    clock = result["checks"]["clock_offset"]
    assert not clock["ok"]
    assert clock["max_applied_ahead_ms"] >= 4900
    assert any("no rejection was counted" in e for e in clock["examples"])


def test_clock_rejections_are_counted_across_restarts() -> None:
    sim = Sim()
    sim.write("a", "put", "k")
    sim.converge()
    rows = [{"t": t, "region": "b", "rejections": {"a": v}} for t, v in enumerate((2, 5, 1, 3))]
    result = check(
        sim.observation(samples=sim.observation().samples + rows, expect_clock_rejections=True)
    )
    assert result["checks"]["clock_offset"]["ok"]
    assert result["summary"]["clock_rejections"] == 8  # 5 before the restart, 3 after


def test_clock_that_ignores_what_it_observed_breaks_causality() -> None:
    sim = Sim(apply="no_observe")
    sim.skew_ms["a"] = 1000
    sim.write("a", "put", "k")
    sim.replicate("a", "b")
    sim.write("b", "put", "j")  # after seeing a's write, yet stamped below it
    sim.converge()
    assert "causality" in failing(check(sim.observation()))


def test_stream_growing_after_quiescence_is_ping_pong() -> None:
    sim = drive(Sim(), 1, steps=50)
    result = check(sim.observation(heads={"a": [10, 14], "b": [9, 9]}))
    assert failing(result) == {"no_duplicates"}
    assert "PING-PONG" in result["checks"]["no_duplicates"]["examples"][0]


def test_lag_that_never_recovers_is_reported() -> None:
    sim = drive(Sim(), 2, steps=50)
    stuck = [{"t": HEAL_NS + i * 10**9, "region": "b", "lag": {"a": 9.0 + i}} for i in range(40)]
    result = check(sim.observation(samples=sim.observation().samples[:0] + stuck))
    assert failing(result) == {"lag_recovery"}
    late = [{"t": HEAL_NS + 40 * 10**9, "region": "b", "lag": {"a": 0.1}}]
    result = check(sim.observation(samples=stuck + late, recovery_bound_s=30))
    assert "only 40.0 s after the heal" in result["checks"]["lag_recovery"]["examples"][0]


def test_read_older_than_an_acknowledged_write_of_its_region() -> None:
    sim = Sim()
    sim.write("a", "put", "k")
    sim.read("a", "k")
    sim.converge()
    sim.history[-1]["version"] = [1, "a"]  # the read returned something older
    assert "monotonic" in failing(check(sim.observation()))


def test_exit_codes() -> None:
    sim = drive(Sim(), 3, steps=20)
    ok = check(sim.observation(exits={"node a": [-9, 0], "node b": [0]}, kills={"node a": 1}))
    assert ok["checks"]["clean_exits"]["ok"]
    crashed = check(sim.observation(exits={"node a": [1, 0]}, kills={}))
    assert not crashed["checks"]["clean_exits"]["ok"]


# --------------------------------------------------------------------------- short-lived history


def trim(sim: Sim, region: str, keep: int) -> None:
    """Retention: only the newest `keep` records of the region's stream are left."""
    sim.stream[region] = sim.stream[region][-keep:]


def test_collected_tombstones_and_trimmed_streams_pass_only_when_declared() -> None:
    sim = Sim()
    sim.write("a", "put", "k")
    sim.write("b", "put", "j")
    sim.converge()
    sim.write("a", "delete", "k")
    sim.write("b", "put", "j")
    sim.converge()
    for region in sim.regions:
        del sim.store[region]["k"]  # the tombstone was collected everywhere
        trim(sim, region, 1)
    assert check(sim.observation(tombstones_collected=True))["ok"]
    assert "acknowledged_writes" in failing(check(sim.observation()))


def test_a_write_no_delete_beat_is_lost_even_when_tombstones_are_collected() -> None:
    sim = Sim()
    put = sim.write("a", "put", "k")
    sim.converge()
    del sim.store["b"]["k"]
    result = check(sim.observation(tombstones_collected=True))
    assert "acknowledged_writes" in failing(result)
    assert any(put["id"] in e for e in result["checks"]["acknowledged_writes"]["examples"])


def test_removal_tombstone_needs_a_later_delete() -> None:
    sim = Sim()
    put = sim.write("a", "put", "k")
    sim.converge()
    removed = {"version": put["version"], "tombstone": True, "v": None}
    states = {r: {"k": dict(removed)} for r in sim.regions}
    alone = check(sim.observation(states=states, tombstones_collected=True))
    assert "acknowledged_writes" in failing(alone)
    sim.write("b", "delete", "k")  # a later delete beat the put: a resync may remove it so
    sim.converge()
    states = {r: {"k": dict(removed)} for r in sim.regions}
    later = check(sim.observation(states=states, tombstones_collected=True))
    assert "acknowledged_writes" not in failing(later)


def test_a_region_that_resynced_may_lack_the_origin_records() -> None:
    sim = Sim()
    sim.write("a", "put", "k")
    sim.write("a", "put", "j")
    sim.replicate("a", "c")
    sim.store["b"] = dict(sim.store["a"])  # b got a's data by a copy, not its records
    sim.done[("a", "b")] = len(sim.local("a"))
    assert "no_gaps" in failing(check(sim.observation()))
    pairs = [(s, d) for s in sim.regions for d in sim.regions if s != d]
    final: dict[str, Any] = {d: {"lag": {s: 0.1}, "pending": {s: 0}} for s, d in pairs}
    final["b"]["resyncs"] = {"a": 1.0}
    assert check(sim.observation(final=final))["ok"]


# --------------------------------------------------------------------------- attribute mode


def _op(op_id: str, kind: str, hlc_: int, outcome: str = "ok") -> dict[str, Any]:
    region = op_id.split(".")[0]
    version = None if outcome != "ok" else [hlc_, region]
    return {
        "id": op_id,
        "region": region,
        "client": 0,
        "kind": kind,
        "key": "k",
        "outcome": outcome,
        "changed": outcome == "ok",
        "version": version,
        "invoke_ns": hlc_,
        "complete_ns": hlc_ + 1,
    }


def _attribute_violations(history: list[dict[str, Any]], shown: dict[str, Any] | None) -> list:
    """The attribute_values examples when every region shows `shown` (None: a tombstone)."""
    entry = {"version": [99, "a"], "tombstone": shown is None, "attrs": shown or {}}
    obs = Observation(
        history=history,
        states={r: {"k": entry} for r in ("a", "b")},
        streams={"a": [], "b": []},
        digests={"a": {"digest": "x"}, "b": {"digest": "x"}},
        merge="attribute",
    )
    return attribute_values(Context(obs)).examples


PUT = _op("a.0.1", "put", 10)
ATTRIBUTE_CASES = [
    (
        "updates of two regions both survive",
        [PUT, _op("a.0.2", "update", 20), _op("b.0.3", "update", 21)],
        {"v": "a.0.1", "u_a": "a.0.2", "u_b": "b.0.3"},
        "",
    ),
    (
        "a lost update",
        [PUT, _op("a.0.2", "update", 20), _op("b.0.3", "update", 21)],
        {"v": "a.0.1", "u_a": "a.0.2"},
        "LOST",
    ),
    (
        "an older value of the attribute",
        [PUT, _op("b.0.2", "update", 20), _op("b.0.3", "update", 21)],
        {"v": "a.0.1", "u_b": "b.0.2"},
        "LOST",
    ),
    (
        "a value older than a delete",
        [PUT, _op("b.0.2", "update", 20), _op("a.0.3", "delete", 30)],
        {"u_b": "b.0.2"},
        "RESURRECTED",
    ),
    (
        "only what was written after the delete",
        [PUT, _op("a.0.2", "delete", 20), _op("b.0.3", "update", 30)],
        {"u_b": "b.0.3"},
        "",
    ),
    (
        "a put replaces older attributes",
        [PUT, _op("b.0.2", "update", 20), _op("a.0.3", "put", 30)],
        {"v": "a.0.3"},
        "",
    ),
    (
        "an unknown put may have replaced the item",
        [PUT, _op("b.0.2", "update", 20), _op("a.0.3", "put", 0, "unknown")],
        {"v": "a.0.3"},
        "",
    ),
    (
        "an unknown update may be the newest",
        [PUT, _op("b.0.2", "update", 20), _op("b.0.3", "update", 0, "unknown")],
        {"v": "a.0.1", "u_b": "b.0.3"},
        "",
    ),
    (
        "a failed update is visible",
        [PUT, _op("b.0.2", "update", 0, "failed")],
        {"v": "a.0.1", "u_b": "b.0.2"},
        "no operation",
    ),
    ("everything deleted", [PUT, _op("a.0.2", "delete", 20)], None, ""),
]


@pytest.mark.parametrize(
    ("history", "shown", "violation"),
    [pytest.param(h, s, v, id=name) for name, h, s, v in ATTRIBUTE_CASES],
)
def test_attribute_values(history: list, shown: dict[str, Any] | None, violation: str) -> None:
    examples = _attribute_violations(history, shown)
    if not violation:
        assert examples == []
    else:
        assert examples and all(violation in e for e in examples), examples
