"""The history checker: DESIGN.md's invariants over what one chaos run observed. Pure.

Input (`Observation`), gathered after the faults healed and the writes quiesced:
  history   every client operation (chaos.workload documents the record)
  states    per region: key -> {version [hlc, origin], tombstone, v}  (DiffKeys + Scan)
  streams   per region: the table's stream from TRIM_HORIZON, in sequence order
  digests   per region: the node's content digest
  samples   replication metrics sampled during the run, per target region
  heads     per region: stream heads read twice, a while apart, once quiescent
  final     per region: one replication sample taken once quiescent (resyncs per source too)
  exits     per process: every exit code it had; kills: how many were ours (kill -9)

Checks (each lists up to MAX_EXAMPLES violations and counts them all):
  convergence            1  identical digests (and identical states) in every region
  acknowledged_writes    2  every acknowledged write is in every final state or beaten by a
                            higher version that some acknowledged or unknown operation
                            wrote; no value, tombstone or record that no client wrote
  no_resurrection        3  nothing older than an acknowledged delete is stored, applied
                            after it, or read after it
  monotonic              4  per key, versions only grow in every region's stream; a read
                            never returns less than its own region acknowledged before
  no_duplicates          5  a (key, version) at most once per stream; an acknowledged write
                            exactly once in its origin's stream; records are shipped only
                            from their origin; no stream grows once writes stop; nothing
                            pending once quiescent
  lag_recovery           6  every link's lag back under lag_bound_s within recovery_bound_s
                            after the heal
  clock_offset           7  no record applied further ahead of the applying region's clock
                            than max_clock_offset; rejections counted when expected
  no_gaps         (DESIGN 7) a region applied every record of every origin, or held a newer
                            version of that key when the record reached it
  causality       (DESIGN 8) a local write's version exceeds every version that its region's
                            stream held before it
  clean_exits                every process exited 0 on SIGTERM; no exits besides our kills

Scenarios with a short stream retention and tombstone lifetime lose history on purpose: a
stream that no longer starts at 1 is only checked from its oldest record on; a region that
resynced from an origin may lack that origin's records (the copy brought their effect); a
key may be absent when a later delete beat its writes (the tombstone was collected), and a
tombstone may carry the version of the item a resync removed, when a later delete beat it.
"""

from __future__ import annotations

import bisect
import collections
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from meridian.model.hlc import physical_ms

Version = tuple[int, str]
MAX_EXAMPLES = 20
WRITES = frozenset({"put", "update", "delete", "cput"})


@dataclass
class Observation:
    history: list[dict[str, Any]]
    states: dict[str, dict[str, dict[str, Any]]]
    streams: dict[str, list[dict[str, Any]]]
    digests: dict[str, dict[str, Any]]
    samples: list[dict[str, Any]] = field(default_factory=list)
    heads: dict[str, list[int]] = field(default_factory=dict)
    final: dict[str, dict[str, Any]] = field(default_factory=dict)
    exits: dict[str, list[int]] = field(default_factory=dict)
    kills: dict[str, int] = field(default_factory=dict)
    heal_ns: int = 0
    max_clock_offset_ms: int = 0
    expect_clock_rejections: bool | None = None
    lag_bound_s: float = 2.0
    recovery_bound_s: float = 30.0
    tombstones_collected: bool = False  # the run's tombstone lifetime ends within it
    merge: str = "item"  # the table's merge mode (attribute: see attribute_values)


def ver(value: Any) -> Version | None:
    return None if value is None else (int(value[0]), str(value[1]))


def show(v: Version | None) -> str:
    return "none" if v is None else f"{v[0]}@{v[1]}"


class Check:
    def __init__(self, name: str, invariant: str, what: str) -> None:
        self.name = name
        self.invariant = invariant
        self.what = what
        self.count = 0
        self.examples: list[str] = []
        self.stats: dict[str, Any] = {}

    def fail(self, message: str) -> None:
        self.count += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(message)

    def result(self) -> dict[str, Any]:
        return {
            "ok": self.count == 0,
            "invariant": self.invariant,
            "what": self.what,
            "violations": self.count,
            "examples": self.examples,
            **self.stats,
        }


class Context:
    """Indexes over the observation shared by the checks."""

    def __init__(self, obs: Observation) -> None:
        self.obs = obs
        self.ops = [dict(op, version=ver(op.get("version"))) for op in obs.history]
        self.acked = [
            op
            for op in self.ops
            if op["kind"] in WRITES
            and op["outcome"] == "ok"
            and op.get("changed")
            and op["version"] is not None
        ]
        self.by_version = {(op["key"], op["version"]): op for op in self.acked}
        self.unknown: dict[tuple[str, str], list[dict[str, Any]]] = collections.defaultdict(list)
        for op in self.ops:
            if op["kind"] in WRITES and op["outcome"] == "unknown":
                self.unknown[(op["key"], op["region"])].append(op)
        self.failed_ids = {
            op["id"] for op in self.ops if op["kind"] in WRITES and op["outcome"] == "failed"
        }
        self.streams = {
            region: [dict(r, version=ver(r["version"])) for r in records]
            for region, records in obs.streams.items()
        }
        # region -> (key, version) -> positions in that region's stream
        self.positions: dict[str, dict[tuple[str, Version], list[int]]] = {}
        # region -> key -> [(position, version, event)]
        self.per_key: dict[str, dict[str, list[tuple[int, Version, str]]]] = {}
        for region, records in self.streams.items():
            pos: dict[tuple[str, Version], list[int]] = collections.defaultdict(list)
            keys: dict[str, list[tuple[int, Version, str]]] = collections.defaultdict(list)
            for i, r in enumerate(records):
                pos[(r["key"], r["version"])].append(i)
                keys[r["key"]].append((i, r["version"], r["event"]))
            self.positions[region] = pos
            self.per_key[region] = keys
        # region -> creation time of its oldest record, when its stream was trimmed
        self.trimmed_ms = {
            region: int(records[0]["created_ms"])
            for region, records in self.streams.items()
            if records and int(records[0]["seq"]) > 1
        }
        # trimmed region -> its oldest own record's version (None: none left)
        self.oldest_own = {
            region: min((r["version"] for r in records if r["version"][1] == region), default=None)
            for region, records in self.streams.items()
            if region in self.trimmed_ms
        }
        self.resynced = {
            (region, source)
            for region, sample in obs.final.items()
            for source, count in sample.get("resyncs", {}).items()
            if count
        }
        self.deletes: dict[str, list[Version]] = collections.defaultdict(list)
        for op in self.acked:
            if op["kind"] == "delete":
                self.deletes[op["key"]].append(op["version"])
        self.unknown_deletes = {
            key for (key, _), ops in self.unknown.items() if any(o["kind"] == "delete" for o in ops)
        }

    def unknown_ops(self, key: str) -> list[dict[str, Any]]:
        return [op for (k, _), ops in self.unknown.items() if k == key for op in ops]

    def deleted_after(self, key: str, version: Version) -> bool:
        """Whether a delete some client made may have beaten this version of the key."""
        return key in self.unknown_deletes or any(d > version for d in self.deletes.get(key, []))

    def collected(self, op: dict[str, Any]) -> bool:
        """Whether an acknowledged write may be gone with a collected tombstone."""
        return self.obs.tombstones_collected and (
            op["kind"] == "delete" or self.deleted_after(op["key"], op["version"])
        )

    def maybe_trimmed(self, origin: str, version: Version) -> bool:
        """Whether the origin's record of this version may have gone with retention."""
        if origin not in self.trimmed_ms:
            return False
        oldest = self.oldest_own.get(origin)
        return oldest is None or version < oldest

    def explain(self, key: str, version: Version, tombstone: bool, v: Any) -> str | None:
        """Why this (key, version) may exist: None when an operation of the history wrote
        it (acknowledged with that version, or unknown with that value); else the reason."""
        if tombstone and self.obs.tombstones_collected and self.deleted_after(key, version):
            return None  # a resync removed this item: a later delete beat it
        op = self.by_version.get((key, version))
        if op is not None:
            if (op["kind"] == "delete") != tombstone:
                return (
                    f"version {show(version)} is {op['kind']} {op['id']} but tombstone={tombstone}"
                )
            if not tombstone and v != op["id"]:
                return f"version {show(version)} was written by {op['id']} but holds value {v!r}"
            return None
        for cand in self.unknown.get((key, version[1]), []):
            if tombstone and cand["kind"] == "delete":
                return None
            if not tombstone and cand["kind"] != "delete" and cand["id"] == v:
                return None
        if v in self.failed_ids:
            return f"value {v!r} of a write that FAILED is visible at version {show(version)}"
        what = "a tombstone" if tombstone else f"value {v!r}"
        return (
            f"{what} at version {show(version)} was written by no acknowledged or unknown operation"
        )


# --------------------------------------------------------------------------- checks


def convergence(ctx: Context) -> Check:
    c = Check("convergence", "1", "identical digests and states in every region")
    digests = {r: d.get("digest") for r, d in ctx.obs.digests.items()}
    c.stats["digests"] = ctx.obs.digests
    if len(set(digests.values())) > 1:
        c.fail(f"digests differ: {digests}")
    states = ctx.obs.states
    regions = sorted(states)
    keys = set().union(*(states[r].keys() for r in regions)) if regions else set()
    differing = 0
    for key in sorted(keys):
        seen = {
            r: (tuple(e["version"]) if e.get("version") else None, e.get("tombstone"), e.get("v"))
            if (e := states[r].get(key))
            else None
            for r in regions
        }
        if len(set(seen.values())) > 1:
            differing += 1
            c.fail(f"key {key!r} differs: {seen}")
    c.stats["differing_keys"] = differing
    return c


def acknowledged_writes(ctx: Context) -> Check:
    c = Check(
        "acknowledged_writes",
        "2",
        "acknowledged writes survive unless beaten by a higher version some client wrote",
    )
    lost: set[str] = set()
    for op in ctx.acked:
        key, v = op["key"], op["version"]
        for region, state in ctx.obs.states.items():
            entry = state.get(key)
            final = ver(entry.get("version")) if entry else None
            if final is None and ctx.collected(op):
                continue  # beaten by a delete whose tombstone was collected
            if final is None:
                lost.add(op["id"])
                c.fail(
                    f"LOST: {op['kind']} {op['id']} (key {key!r}, version {show(v)}, "
                    f"acknowledged in {op['region']}) is missing from {region}"
                )
            elif final < v and not (entry and entry.get("tombstone") and ctx.collected(op)):
                lost.add(op["id"])
                c.fail(
                    f"LOST: {op['kind']} {op['id']} (key {key!r}, version {show(v)}, "
                    f"acknowledged in {op['region']}): {region} holds the OLDER version "
                    f"{show(final)}"
                )
    for region, state in ctx.obs.states.items():
        for key, entry in state.items():
            version = ver(entry.get("version"))
            if version is None:
                c.fail(f"{region}: key {key!r} has a value but no version")
                continue
            reason = ctx.explain(key, version, bool(entry.get("tombstone")), entry.get("v"))
            if reason:
                c.fail(f"{region}: final state of key {key!r}: {reason}")
    for region, records in ctx.streams.items():
        for r in records:
            if r["version"][1] != region:
                continue
            reason = ctx.explain(r["key"], r["version"], r["event"] == "REMOVE", r["v"])
            if reason:
                c.fail(f"{region}: stream record {r['seq']} (key {r['key']!r}): {reason}")
    c.stats["acknowledged"] = len(ctx.acked)
    c.stats["lost"] = len(lost)
    return c


def no_resurrection(ctx: Context) -> Check:
    c = Check("no_resurrection", "3", "nothing older than an acknowledged delete comes back")
    resurrected: set[str] = set()
    deletes = [op for op in ctx.acked if op["kind"] == "delete"]
    for d in deletes:
        key, dv = d["key"], d["version"]
        for region, state in ctx.obs.states.items():
            entry = state.get(key)
            final = ver(entry.get("version")) if entry else None
            if entry and not entry.get("tombstone") and final is not None and final < dv:
                resurrected.add(key)
                c.fail(
                    f"RESURRECTED in {region}: key {key!r} holds {show(final)} although "
                    f"delete {d['id']} at {show(dv)} was acknowledged"
                )
        for region, keys in ctx.per_key.items():
            passed = False
            for pos, version, event in keys.get(key, []):
                if version >= dv:
                    passed = True
                elif passed and event != "REMOVE":
                    resurrected.add(key)
                    c.fail(
                        f"RESURRECTED in {region}: stream record {pos} applies {show(version)} "
                        f"to key {key!r} after the acknowledged delete {d['id']} at {show(dv)}"
                    )
    for read in reads_after(ctx, deletes_only=True):
        resurrected.add(read["key"])
        c.fail(read["message"])
    c.stats["resurrected"] = len(resurrected)
    return c


def reads_after(ctx: Context, deletes_only: bool) -> Iterable[dict[str, Any]]:
    """Reads in a region that returned a version older than a write that region
    acknowledged before the read began (only deletes, or only other writes)."""
    events: dict[tuple[str, str], list[tuple[int, int, dict[str, Any]]]] = collections.defaultdict(
        list
    )
    for op in ctx.acked:
        events[(op["region"], op["key"])].append((op["complete_ns"], 0, op))
    for op in ctx.ops:
        if op["kind"] == "get" and op["outcome"] == "ok" and op.get("found"):
            events[(op["region"], op["key"])].append((op["invoke_ns"], 1, op))
    for (region, key), items in events.items():
        items.sort(key=lambda e: (e[0], e[1]))
        best: dict[str, Any] | None = None
        for _, kind, op in items:
            if kind == 0:
                if best is None or op["version"] > best["version"]:
                    best = op
                continue
            if best is None or op["version"] is None or op["version"] >= best["version"]:
                continue
            if (best["kind"] == "delete") != deletes_only:
                continue
            verb = "RESURRECTED (read)" if deletes_only else "read went back"
            yield {
                "key": key,
                "message": f"{verb} in {region}: read {op['id']} of key {key!r} returned "
                f"{show(op['version'])} after {best['kind']} {best['id']} at "
                f"{show(best['version'])} was acknowledged there",
            }


def monotonic(ctx: Context) -> Check:
    c = Check("monotonic", "4", "per key, versions only grow in every region")
    for region, keys in ctx.per_key.items():
        for key, items in keys.items():
            for (_, prev, _), (pos, version, _) in itertools.pairwise(items):
                if version < prev:
                    c.fail(
                        f"{region}: key {key!r} went back from {show(prev)} to "
                        f"{show(version)} at stream record {pos}"
                    )
    for read in reads_after(ctx, deletes_only=False):
        c.fail(read["message"])
    return c


def no_duplicates(ctx: Context) -> Check:
    c = Check(
        "no_duplicates",
        "5",
        "each write at most once per stream, exactly once at its origin, shipped only from "
        "its origin; no traffic once writes stop",
    )
    dups = 0
    for region, positions in ctx.positions.items():
        for (key, version), where in positions.items():
            if len(where) > 1:
                dups += len(where) - 1
                c.fail(
                    f"DUPLICATE in {region}: key {key!r} version {show(version)} applied "
                    f"{len(where)} times (stream records {where})"
                )
    for op in ctx.acked:
        origin = ctx.positions.get(op["region"])
        if ctx.maybe_trimmed(op["region"], op["version"]):
            continue
        if origin is not None and (op["key"], op["version"]) not in origin:
            c.fail(
                f"acknowledged {op['kind']} {op['id']} (version {show(op['version'])}) has no "
                f"record in its origin {op['region']}'s stream"
            )
    for region, records in ctx.streams.items():
        for r in records:
            origin = r["version"][1]
            if origin == region or origin not in ctx.positions:
                continue
            if ctx.maybe_trimmed(origin, r["version"]):
                continue
            if (r["key"], r["version"]) not in ctx.positions[origin]:
                c.fail(
                    f"{region}: record {r['seq']} (key {r['key']!r}, version "
                    f"{show(r['version'])}) is not in its origin {origin}'s stream"
                )
    for region, heads in ctx.obs.heads.items():
        if len(set(heads)) > 1:
            c.fail(f"PING-PONG: {region}'s stream kept growing with no client writing: {heads}")
    for region, sample in ctx.obs.final.items():
        for src, pending in sample.get("pending", {}).items():
            if pending:
                c.fail(f"{src} -> {region}: {pending:.0f} records still pending once quiescent")
    c.stats["duplicates"] = dups
    return c


def series(
    samples: list[dict[str, Any]], metric: str
) -> dict[tuple[str, str], list[tuple[int, float]]]:
    out: dict[tuple[str, str], list[tuple[int, float]]] = collections.defaultdict(list)
    for s in samples:
        for src, value in s.get(metric, {}).items():
            out[(src, s["region"])].append((int(s["t"]), float(value)))
    for points in out.values():
        points.sort()
    return out


def lag_recovery(ctx: Context) -> Check:
    obs = ctx.obs
    c = Check(
        "lag_recovery",
        "6",
        f"every link's lag under {obs.lag_bound_s:g} s "
        f"within {obs.recovery_bound_s:g} s of the heal",
    )
    lags = series(obs.samples, "lag")
    recovery: dict[str, float | None] = {}
    max_lag = 0.0
    for (src, dst), points in sorted(lags.items()):
        max_lag = max([max_lag, *(v for _, v in points)])
        after = [(t, v) for t, v in points if t >= obs.heal_ns]
        back = next((t for t, v in after if v <= obs.lag_bound_s), None)
        label = f"{src}->{dst}"
        if back is None:
            recovery[label] = None
            last = f"{after[-1][1]:.1f} s" if after else "no samples"
            c.fail(
                f"{label}: lag never back under {obs.lag_bound_s:g} s after the heal (last: {last})"
            )
            continue
        took = recovery[label] = round((back - obs.heal_ns) / 1e9, 2)
        if took > obs.recovery_bound_s:
            c.fail(
                f"{label}: lag back under {obs.lag_bound_s:g} s only {took} s after the heal "
                f"(bound {obs.recovery_bound_s:g} s)"
            )
    for region, sample in obs.final.items():
        for src, lag in sample.get("lag", {}).items():
            if lag > obs.lag_bound_s:
                c.fail(f"{src}->{region}: lag {lag:.1f} s once quiescent")
    if not lags:
        c.fail("no replication lag samples at all")
    done = [v for v in recovery.values() if v is not None]
    c.stats.update(
        max_lag_s=round(max_lag, 2), recovery_s=recovery, max_recovery_s=max(done) if done else None
    )
    return c


def rejections_total(samples: list[dict[str, Any]]) -> int:
    """Sum of clock rejections over every link; counters restart with their process."""
    total = 0.0
    for points in series(samples, "rejections").values():
        last = 0.0
        for _, value in points:
            total += value - last if value >= last else value
            last = value
    return round(total)


def clock_offset(ctx: Context) -> Check:
    obs = ctx.obs
    c = Check(
        "clock_offset",
        "7",
        f"no record applied more than {obs.max_clock_offset_ms} ms ahead of its region's clock",
    )
    worst = None
    for region, records in ctx.streams.items():
        for r in records:
            if r["version"][1] == region:
                continue
            ahead = physical_ms(r["version"][0]) - int(r["created_ms"])
            worst = ahead if worst is None else max(worst, ahead)
            if obs.max_clock_offset_ms and ahead > obs.max_clock_offset_ms:
                c.fail(
                    f"{region}: record {r['seq']} from {r['version'][1]} (key {r['key']!r}) "
                    f"applied {ahead} ms ahead of the local clock"
                )
    last = [dict(s, region=r, t=2**62) for r, s in obs.final.items()]
    total = rejections_total([*obs.samples, *last])
    if obs.expect_clock_rejections is True and total == 0:
        c.fail("a region's clock ran beyond max_clock_offset but no rejection was counted")
    if obs.expect_clock_rejections is False and total > 0:
        c.fail(f"{total} clock rejections although every clock stayed within max_clock_offset")
    c.stats.update(clock_rejections=total, max_applied_ahead_ms=worst)
    return c


def no_gaps(ctx: Context) -> Check:
    c = Check(
        "no_gaps",
        "DESIGN 7",
        "every region applied every record of every origin, or held a newer version then",
    )
    missing = 0
    for origin, records in ctx.streams.items():
        local = [r for r in records if r["version"][1] == origin]
        origin_seq = {(r["key"], r["version"]): r["seq"] for r in local}
        for region, theirs in ctx.streams.items():
            if region == origin:
                continue
            # positions in `region` of records from `origin`, with their origin sequence
            arrived = [
                (origin_seq[(r["key"], r["version"])], i)
                for i, r in enumerate(theirs)
                if r["version"][1] == origin and (r["key"], r["version"]) in origin_seq
            ]
            seqs = [s for s, _ in arrived]
            if seqs != sorted(seqs):
                c.fail(f"{region} applied records of {origin} out of their origin order")
            positions = ctx.positions[region]
            per_key = ctx.per_key[region]
            for r in local:
                if (r["key"], r["version"]) in positions:
                    continue
                if (region, origin) in ctx.resynced:
                    continue  # the copy brought what the records did
                if int(r["created_ms"]) < ctx.trimmed_ms.get(region, 0):
                    continue  # its copy here may have gone with retention
                nxt = bisect.bisect_right(seqs, r["seq"])
                before = arrived[nxt][1] if nxt < len(arrived) else len(theirs)
                newer = any(
                    v > r["version"] for pos, v, _ in per_key.get(r["key"], []) if pos < before
                )
                if newer:
                    continue
                what = f"record {r['seq']} of {origin} (key {r['key']!r}, {show(r['version'])})"
                if nxt < len(arrived):
                    c.fail(
                        f"GAP: {region} skipped {what}, then applied later records of "
                        f"{origin}, without holding a newer version of that key"
                    )
                else:
                    missing += 1
                    c.fail(
                        f"NOT REPLICATED: {what} never reached {region}, nor did any later "
                        f"record of {origin}"
                    )
    c.stats["not_replicated"] = missing
    return c


def causality(ctx: Context) -> Check:
    c = Check(
        "causality",
        "DESIGN 8",
        "a local write's version exceeds every version its region held before it",
    )
    for region, records in ctx.streams.items():
        high: Version | None = None
        for r in records:
            if r["version"][1] == region and high is not None and r["version"][0] <= high[0]:
                c.fail(
                    f"{region}: local record {r['seq']} (key {r['key']!r}) has clock "
                    f"{r['version'][0]}, not above {show(high)} seen earlier in the stream"
                )
            if high is None or r["version"][0] > high[0]:
                high = r["version"]
    return c


def clean_exits(ctx: Context) -> Check:
    c = Check("clean_exits", "ops", "exit code 0 on SIGTERM; no exits besides our kill -9s")
    for name, codes in ctx.obs.exits.items():
        kills = ctx.obs.kills.get(name, 0)
        odd = [code for code in codes if code not in (0, -9)]
        if odd or codes.count(-9) != kills or not codes or codes[-1] != 0:
            c.fail(
                f"{name}: exit codes {codes}; expected 0 after each SIGTERM and -9 for "
                f"each of our {kills} kill(s)"
            )
    return c


def written(op: dict[str, Any]) -> str | None:
    """The attribute an operation gives its id to (attribute merge mode), if any."""
    if op["kind"] in ("put", "cput"):
        return "v"
    if op["kind"] == "update":
        return f"u_{op['region']}"
    return None


def attribute_values(ctx: Context) -> Check:
    """Attribute merge mode: in every region, each attribute holds the value of the
    acknowledged write of it with the highest version, unless the item's last put or delete
    (highest version) is newer; operations of unknown outcome may have done either."""
    c = Check(
        "attribute_values",
        "2, 3 (per attribute)",
        "every attribute holds its newest acknowledged value written since the item's "
        "last put or delete, in every region",
    )
    lost: set[str] = set()
    resurrected: set[str] = set()
    unknown = {op["id"]: op for ops in ctx.unknown.values() for op in ops}
    for region, state in ctx.obs.states.items():
        for key in sorted({*state, *(op["key"] for op in ctx.acked)}):
            entry = state.get(key) or {}
            shown = {} if entry.get("tombstone") else entry.get("attrs", {})
            expected = expected_attributes(ctx, key)
            for name in sorted(set(shown) - set(expected)):
                c.fail(f"{region}: key {key!r}.{name} was written by no operation")
            for name, (want, why) in expected.items():
                got = shown.get(name)
                if got == want:
                    continue
                maybe = unknown.get(got) if got is not None else None
                if maybe is not None and maybe["key"] == key and written(maybe) == name:
                    continue  # an unknown write of this attribute may be the newest
                if got is None and any(
                    op["key"] == key and op["kind"] != "update" for op in unknown.values()
                ):
                    continue  # an unknown put or delete may have replaced the item
                if got in ctx.failed_ids:
                    c.fail(f"{region}: key {key!r}.{name} holds {got!r}, a write that FAILED")
                elif want is not None:
                    lost.add(want)
                    c.fail(f"LOST in {region}: key {key!r}.{name} holds {got!r}, not {want!r}")
                else:
                    resurrected.add(key)
                    c.fail(f"RESURRECTED in {region}: key {key!r}.{name} holds {got!r} ({why})")
    c.stats.update(lost=len(lost), resurrected=len(resurrected))
    return c


def expected_attributes(ctx: Context, key: str) -> dict[str, tuple[str | None, str]]:
    """Attribute -> (the value every region must show, or None for none; why)."""
    ops = [op for op in ctx.acked if op["key"] == key]
    replaced = max((op["version"] for op in ops if op["kind"] != "update"), default=None)
    newest: dict[str, dict[str, Any]] = {}
    for op in ops:
        name = written(op)
        if name is not None and (name not in newest or op["version"] > newest[name]["version"]):
            newest[name] = op
    names = {name for op in ctx.unknown_ops(key) if (name := written(op))} | set(newest)
    out: dict[str, tuple[str | None, str]] = {}
    for name in names:
        best = newest.get(name)
        if best is None:
            out[name] = (None, "no acknowledged write of it")
        elif replaced is not None and best["version"] < replaced:
            out[name] = (None, f"{best['id']} is older than a put or delete at {show(replaced)}")
        else:
            out[name] = (best["id"], "")
    return out


CHECKS = (
    convergence,
    acknowledged_writes,
    no_resurrection,
    monotonic,
    no_duplicates,
    lag_recovery,
    clock_offset,
    no_gaps,
    causality,
    clean_exits,
)
# Attribute merge mode: an item's version is the newest of its attributes' and a region's
# stream may apply an older write of another attribute after a newer one, so the per-item
# version checks give way to the per-attribute one.
ATTRIBUTE_CHECKS = (
    convergence,
    attribute_values,
    no_duplicates,
    lag_recovery,
    clock_offset,
    no_gaps,
    causality,
    clean_exits,
)


def check(obs: Observation) -> dict[str, Any]:
    ctx = Context(obs)
    checks = ATTRIBUTE_CHECKS if obs.merge == "attribute" else CHECKS
    results = {chk.name: chk.result() for chk in (fn(ctx) for fn in checks)}
    per_attribute = obs.merge == "attribute"
    losses = results["attribute_values" if per_attribute else "acknowledged_writes"]
    resurrections = results["attribute_values" if per_attribute else "no_resurrection"]
    ops = ctx.ops
    outcomes = collections.Counter(op["outcome"] for op in ops if op["kind"] in WRITES)
    summary = {
        "operations": len(ops),
        "writes": sum(outcomes.values()),
        "acknowledged": len(ctx.acked),
        "failed": outcomes.get("failed", 0),
        "unknown": outcomes.get("unknown", 0),
        "reads": sum(1 for op in ops if op["kind"] == "get"),
        "lost": losses["lost"],
        "resurrected": resurrections["resurrected"],
        "duplicates": results["no_duplicates"]["duplicates"],
        "not_replicated": results["no_gaps"]["not_replicated"],
        "max_lag_s": results["lag_recovery"]["max_lag_s"],
        "max_recovery_s": results["lag_recovery"]["max_recovery_s"],
        "clock_rejections": results["clock_offset"]["clock_rejections"],
        "stream_records": {r: len(s) for r, s in obs.streams.items()},
    }
    return {"ok": all(r["ok"] for r in results.values()), "summary": summary, "checks": results}
