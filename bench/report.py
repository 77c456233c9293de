"""The figures table: each product figure with its target and its ratio to a raw limit.

A row's id is stable across runs, so a run can be compared with bench/results/baseline.json
(the "baseline" column shows the baseline's ratio for the same figure).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class Row:
    id: str
    figure: str
    value: float | None
    unit: str
    target: str = ""
    met: bool | None = None  # None: no target, or not measured
    ratio: float | None = None  # value / raw limit
    ratio_to: str = ""  # which raw limit
    note: str = ""


def _fmt(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == "ms":
        return f"{value:.2f} ms" if value < 100 else f"{value:.0f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == "cores":
        return f"{value:.2f} cores"
    if unit == "us CPU":
        return f"{value:.1f} us CPU"
    if unit == "x":
        return f"{value:.2f}x" if value < 10 else f"{value:.1f}x"
    return f"{value:,.0f} {unit}"


def _ratio(row: Row) -> str:
    if row.ratio is None or math.isnan(row.ratio):
        return ""
    return (
        f"{row.ratio:.2f}x {row.ratio_to}"
        if row.ratio >= 0.1
        else f"{row.ratio:.3f}x {row.ratio_to}"
    )


def _met(row: Row) -> str:
    return {True: "met", False: "MISSED", None: ""}[row.met]


def rows(r: dict[str, Any]) -> list[Row]:
    if "raw" not in r:  # `--only` runs other than `region` and `group`
        lag = _lag_rows(r, None) if "replication" in r else []
        lag += _apply_rows(r["apply"], None) if "apply" in r else []
        lag += _bootstrap_rows(r["bootstrap"], None) if "bootstrap" in r else []
        out = lag + _tls_rows(r.get("tls")) + _peer_rows(r) + _wan_rows(r)
        out += _only_convergence_rows(r)
        return _cpu_rows(r.get("cpu")) + out + _noise_rows(r) + _settle_rows(r)
    raw, rocks, grpc_ = r["raw"], r["raw"]["rocksdb"], r["raw"]["grpc"]
    unary_p50 = grpc_["unary_sequential"]["latency_ms"]["p50"]
    unary_p99 = grpc_["unary_sequential"]["latency_ms"]["p99"]
    unary_rate = grpc_["unary_saturated"]["calls_per_s"]
    wb = rocks["writebatch_pairs_per_s_buffered"]
    wb_sync = rocks["writebatch_pairs_per_s_fsync"]
    out = [
        Row(
            "raw.writebatch",
            "raw: RocksDB WriteBatch, 1000 item+record pairs, WAL no fsync",
            wb,
            "pairs/s",
        ),
        Row("raw.writebatch_fsync", "raw: the same with an fsync per batch", wb_sync, "pairs/s"),
        Row("raw.point_get", "raw: RocksDB point get", rocks["point_gets_per_s"], "gets/s"),
        Row(
            "raw.protobuf",
            "raw: protobuf encode+decode of a StreamRecord",
            raw["protobuf"]["encode_decode_per_s"],
            "msgs/s",
        ),
        Row("raw.unary_p50", "raw: gRPC unary round trip p50", unary_p50, "ms"),
        Row("raw.unary_p99", "raw: gRPC unary round trip p99", unary_p99, "ms"),
        Row(
            "raw.unary_rate",
            f"raw: gRPC unary calls, {grpc_['unary_saturated']['concurrency']} in flight",
            unary_rate,
            "calls/s",
        ),
        *_per_message_rows(grpc_),
        Row(
            "raw.stream",
            "raw: gRPC server streaming, 100 records/message",
            grpc_["stream"]["records_per_s"],
            "records/s",
        ),
    ]
    out += _cpu_rows(r.get("cpu"))
    unary_cpu = grpc_["unary_sequential"].get("server_cpu_us_per_call")
    out += _region_rows(r["region"], unary_p50, unary_p99, unary_rate, wb, wb_sync, unary_cpu)
    group_wb = wb if r.get("group_durability") == "buffered" else wb_sync
    if "replication" in r:
        out += _group_rows(r, unary_p50, group_wb)
    out += _tls_rows(r.get("tls"))
    out += _peer_rows(r)
    out += _ttl_rows(r.get("ttl"))
    out += _bootstrap_rows(r.get("bootstrap", {}), group_wb)
    return out + _wan_rows(r) + _noise_rows(r) + _settle_rows(r)


def _cpu_rows(c: dict | None) -> list[Row]:
    """CPU per record of the node's hot paths in one process (bench/cpu.py)."""
    if not c:
        return []
    out = []
    for kind in ("insert", "modify"):
        a = c["apply"][kind]
        parts = ", ".join(f"{k} {v:.1f}" for k, v in a["parts_us"].items())
        out.append(
            Row(
                f"cpu.apply_{kind}",
                f"in process: replicated apply, {kind}, per record",
                a["us"],
                "us CPU",
                note=parts,
            )
        )
    sub = c["apply"]["subscribe_other_origin"]["us"]
    figure = "in process: own-origin subscription, per record of a peer (none sent)"
    out.append(Row("cpu.subscribe_other", figure, sub, "us CPU"))
    local = c["local"]
    out.append(Row("cpu.put", "in process: PutItem, per put", local["put_item"]["us"], "us CPU"))
    out.append(
        Row(
            "cpu.batch",
            "in process: BatchWriteItem, per item",
            local["batch_write"]["us"],
            "us CPU",
        )
    )
    update = local["update_item"]["us"]
    out.append(Row("cpu.update", "in process: UpdateItem, per update", update, "us CPU"))
    for name, r in c["conversions"].items():
        out.append(Row(f"cpu.{name}", "in process: " + name.replace("_", " "), r["us"], "us CPU"))
    for form, r in c.get("bootstrap", {}).items():  # results from before it was measured lack it
        parts = ", ".join(f"{k} {v:.1f}" for k, v in r["parts_us"].items())
        figure = f"in process: bootstrap copy as {form}, per entry (every hop)"
        out.append(Row(f"cpu.bootstrap_{form}", figure, r["us"], "us CPU", note=parts))
    return out


def _noise_rows(r: dict) -> list[Row]:
    if not r.get("noise"):
        return []
    n = r["noise"]
    return [
        Row(
            "noise",
            "CPU taken by processes outside this run (mean of windows)",
            n["others_cores_mean"],
            "cores",
            note=f"max {n['others_cores_max']:.2f} of {r['machine']['nproc']}",
        )
    ]


def _settle_rows(r: dict) -> list[Row]:
    """How fast the machine was before each phase (bench/settle.py's speed probe): the
    slowest against the fastest, so a phase measured on a slower machine shows."""
    probes = {
        phase: found["speed_probe_ms"]
        for phase, found in r.get("settled", {}).items()
        if "speed_probe_ms" in found
    }
    if not probes:
        return []
    slowest = max(probes, key=probes.__getitem__)
    fastest = min(probes.values())
    note = f"before {slowest}; the fastest of {len(probes)}: {fastest:.2f} ms"
    figure = "machine speed probe before a phase, slowest (CPU ms of fixed Python)"
    return [Row("settle.probe", figure, probes[slowest], "ms", note=note)]


def _per_message_rows(grpc_: dict) -> list[Row]:
    """What gRPC itself costs a server per unary call and per message of an open stream."""
    unary, bidi = grpc_["unary_sequential"], grpc_.get("bidi_sequential")
    if bidi is None:  # results from before these were measured
        return []
    return [
        Row(
            "raw.unary_server_cpu",
            "raw: gRPC server CPU per unary call",
            unary["server_cpu_us_per_call"],
            "us",
        ),
        Row(
            "raw.bidi_p50",
            "raw: gRPC round trip on an open bidirectional stream p50",
            bidi["latency_ms"]["p50"],
            "ms",
        ),
        Row(
            "raw.bidi_server_cpu",
            "raw: gRPC server CPU per message of an open bidirectional stream",
            bidi["server_cpu_us_per_call"],
            "us",
            ratio=bidi["server_cpu_us_per_call"] / unary["server_cpu_us_per_call"],
            ratio_to="per unary call",
        ),
    ]


def _put_cpu_row(d: str, seq: dict, unary_cpu: float | None) -> list[Row]:
    """The node's CPU per PutItem, one at a time, against gRPC's own per call."""
    node = [cores for name, cores in seq.get("cpu_cores", {}).items() if "regionnode" in name]
    if not node or unary_cpu is None:
        return []
    per_put = node[0] / seq["calls_per_s"] * 1e6
    return [
        Row(
            f"region.{d}.put_cpu",
            f"node CPU per PutItem, one at a time ({d})",
            per_put,
            "us",
            ratio=per_put / unary_cpu,
            ratio_to="server CPU per unary call",
        )
    ]


def _node_cpu_us(result: dict) -> float | None:
    """The node's CPU per call over a load's window."""
    node = [c for name, c in result.get("cpu_cores", {}).items() if "regionnode" in name]
    return node[0] / result["calls_per_s"] * 1e6 if node and result["calls_per_s"] else None


def _http_rows(reg: dict) -> list[Row]:
    """PutItem and GetItem over the DynamoDB HTTP door, each against the same call over gRPC
    in the same run (goal: no slower than the gRPC door)."""
    out: list[Row] = []
    pairs = []
    for d in ("buffered", "fsync"):
        if reg[d].get("http") is None:
            return []
        pairs += [
            (f"{d}.put_p50", f"PutItem p50, one at a time ({d})", "p50", "put_sequential"),
            (f"{d}.put_rate", f"PutItem saturated ({d})", "rate", "put_saturated"),
        ]
    pairs.append(("get_rate", "GetItem saturated", "rate", "get_saturated"))
    for row_id, what, kind, name in pairs:
        d = "fsync" if row_id.startswith("fsync") else "buffered"
        http, grpc_ = reg[d]["http"][name], reg[d][name]
        if kind == "p50":
            value, base = http["latency_ms"]["p50"], grpc_["latency_ms"]["p50"]
            met = value <= base
            out.append(
                Row(
                    f"region.http.{row_id}",
                    f"DynamoDB door: {what}",
                    value,
                    "ms",
                    "<= 1x gRPC",
                    met,
                    value / base,
                    "gRPC door",
                )
            )
        else:
            value, base = http["calls_per_s"], grpc_["calls_per_s"]
            out.append(
                Row(
                    f"region.http.{row_id}",
                    f"DynamoDB door: {what}",
                    value,
                    "calls/s",
                    ">= 1x gRPC",
                    value >= base,
                    value / base,
                    "gRPC door",
                )
            )
        cpu, grpc_cpu = _node_cpu_us(http), _node_cpu_us(grpc_)
        if cpu is not None and grpc_cpu is not None:
            out.append(
                Row(
                    f"region.http.{row_id}.cpu",
                    f"DynamoDB door: node CPU per call, {what}",
                    cpu,
                    "us",
                    ratio=cpu / grpc_cpu,
                    ratio_to="gRPC door",
                )
            )
    return out


def _region_rows(
    reg: dict,
    unary_p50: float,
    unary_p99: float,
    unary_rate: float,
    wb: float,
    wb_sync: float,
    unary_cpu: float | None,
) -> list[Row]:
    out = []
    for d in ("buffered", "fsync"):
        res = reg[d]
        seq = res["put_sequential"]["latency_ms"]
        p50 = seq["p50"]
        out.append(
            Row(
                f"region.{d}.put_p50",
                f"PutItem p50, one at a time ({d})",
                p50,
                "ms",
                "<= 1.5x unary p50" if d == "buffered" else "",
                p50 / unary_p50 <= 1.5 if d == "buffered" else None,
                p50 / unary_p50,
                "unary p50",
            )
        )
        out.append(
            Row(
                f"region.{d}.put_p99",
                f"PutItem p99, one at a time ({d})",
                seq["p99"],
                "ms",
                ratio=seq["p99"] / unary_p99,
                ratio_to="unary p99",
            )
        )
        out += _put_cpu_row(d, res["put_sequential"], unary_cpu)
        sat = res["put_saturated"]
        out.append(
            Row(
                f"region.{d}.put_rate",
                f"PutItem saturated, {sat['concurrency']} in flight ({d})",
                sat["calls_per_s"],
                "puts/s",
                ratio=sat["calls_per_s"] / unary_rate,
                ratio_to="unary calls/s",
                note=f"{sat.get('ops_per_commit', 0):.1f} puts per commit",
            )
        )
        out.append(
            Row(
                f"region.{d}.put_sat_p50",
                f"PutItem saturated p50 ({d})",
                sat["latency_ms"]["p50"],
                "ms",
            )
        )
        out.append(
            Row(
                f"region.{d}.put_sat_p99",
                f"PutItem saturated p99 ({d})",
                sat["latency_ms"]["p99"],
                "ms",
            )
        )
        items = res["batch_write"]["items_per_s"]
        limit = wb if d == "buffered" else wb_sync
        out.append(
            Row(
                f"region.{d}.batch_write",
                f"BatchWriteItem, 1000 per request ({d})",
                items,
                "items/s",
                ">= 50,000 items/s" if d == "buffered" else "",
                items >= 50_000 if d == "buffered" else None,
                items / limit,
                "WriteBatch",
                _cpu_note(res["batch_write"]),
            )
        )
    out += _http_rows(reg)
    reads = reg["buffered"]
    gets = reads["get_saturated"]["calls_per_s"]
    queries = reads["query_saturated"]["calls_per_s"]
    out.append(
        Row(
            "region.get_rate",
            "GetItem saturated",
            gets,
            "gets/s",
            ratio=gets / unary_rate,
            ratio_to="unary calls/s",
        )
    )
    out.append(
        Row(
            "region.query_rate",
            "Query saturated (10 items each)",
            queries,
            "queries/s",
            ratio=queries / unary_rate,
            ratio_to="unary calls/s",
        )
    )
    return out


def _lag_rows(r: dict, unary_p50: float | None) -> list[Row]:
    """Meridian's replication lag at each load (ratio to the unary round trip when the raw
    limits were measured)."""
    out = []
    n = len(r["regions"])
    for load in r["replication"]["loads"]:
        rate = load["offered_per_s"]
        lag = load["visible_lag_ms"]
        if not lag.get("count"):
            out.append(
                Row(
                    f"lag.{rate}.p50",
                    f"replication lag at {rate}/s",
                    None,
                    "ms",
                    note="no replicated record seen",
                )
            )
            continue
        is_target = rate == 3000 and n == 3
        for q, goal in (("p50", 5.0), ("p99", 25.0), ("max", None)):
            target = f"<= {goal:g} ms" if is_target and goal is not None else ""
            met = lag[q] <= goal if target and goal is not None else None
            out.append(
                Row(
                    f"lag.{rate}.{q}",
                    f"replication lag {q} at {rate} writes/s over {n} regions",
                    lag[q],
                    "ms",
                    target,
                    met,
                    lag[q] / unary_p50 if unary_p50 else None,
                    "unary p50",
                )
            )
        out.append(
            Row(
                f"lag.{rate}.achieved",
                f"  writes achieved at {rate}/s offered",
                load["load"]["achieved_per_s"],
                "writes/s",
                note=_sustained_note(load),
            )
        )
    out.append(
        Row(
            "lag.highest_sustained",
            "highest sustained offered rate (of those tried)",
            r["replication"]["highest_sustained_per_s"],
            "writes/s",
        )
    )
    return out


def _group_rows(r: dict, unary_p50: float, wb: float) -> list[Row]:
    out = _lag_rows(r, unary_p50) + _apply_rows(r["apply"], wb)
    out.append(_convergence_row(r["convergence"]))
    for role, kb in sorted(r["peak_rss_kb"].items()):
        out.append(Row(f"rss.{role}", f"peak RSS {role} (during 3)", kb / 1024, "MB"))
    return out


def _apply_rows(apply: dict, wb: float | None) -> list[Row]:
    """The replicated apply rates (bench/apply.py); `wb` is the raw WriteBatch rate when
    measured in the same run (not with `--only apply`)."""
    applied = apply["apply"]["records_per_s"]
    out = [
        Row(
            "apply.rate",
            "replicated apply from one peer (backlog)",
            applied,
            "records/s",
            ">= 50,000 records/s",
            applied >= 50_000,
            applied / wb if wb else None,
            "WriteBatch" if wb else "",
            _cpu_note(apply["apply"]),
        )
    ]
    merged = apply.get("apply_attribute")
    if merged is not None:
        out.append(
            Row(
                "apply.rate.attribute",
                "replicated apply from one peer (backlog), attribute merge mode",
                merged["records_per_s"],
                "records/s",
                ratio=merged["records_per_s"] / applied,
                ratio_to="item mode",
                note=_cpu_note(merged),
            )
        )
    return out


def _convergence_row(conv: dict) -> Row:
    target_scenario = conv["partition_s"] >= 30 and conv["load"]["offered_per_s"] >= 3000
    return Row(
        "convergence",
        f"convergence after a {conv['partition_s']:g} s partition at "
        f"{conv['load']['offered_per_s']:g} writes/s",
        conv["converged_s"],
        "s",
        "<= 5 s (30 s partition, 3000/s)",
        conv["converged_s"] <= 5.0 if target_scenario else None,
        note="" if target_scenario else "(a lighter scenario than the target's)",
    )


def _only_convergence_rows(r: dict) -> list[Row]:
    """`--only convergence`: its figure and every process's peak RSS during it."""
    if "convergence" not in r:
        return []
    out = [_convergence_row(r["convergence"])]
    for role, kb in sorted(r.get("peak_rss_kb_all_phases", {}).items()):
        out.append(
            Row(f"rss.convergence.{role}", f"peak RSS {role} (convergence)", kb / 1024, "MB")
        )
    return out


PEERS = {"postgres": "PostgreSQL logical replication", "redis": "Redis replica"}
PEER_P99_GOAL = 3.0  # Meridian's p99 lag within this multiple of PostgreSQL's (beyond issue 15)


def _peer_rows(r: dict) -> list[Row]:
    """The peers' replication lag at Meridian's two lowest loads (bench/peers.py), and
    Meridian's lag as a multiple of theirs at the same rate."""
    found = r.get("peers")
    if found is None:
        return []
    if "skipped" in found:
        figure = "peers' replication lag (PostgreSQL, Redis)"
        return [Row("peers", figure, None, "ms", note=f"skipped: {found['skipped']}")]
    meridian = {x["offered_per_s"]: x for x in r.get("replication", {}).get("loads", [])}
    out = []
    for system, label in PEERS.items():
        result = found.get(system) or {"skipped": "not run"}
        if "skipped" in result:
            note = f"skipped: {result['skipped']}"
            out.append(Row(f"peers.{system}", f"{label}: replication lag", None, "ms", note=note))
            continue
        for load in result["loads"]:
            rate, lag = load["offered_per_s"], load["visible_lag_ms"]
            if not lag.get("count"):
                figure = f"{label}: lag at {rate} writes/s"
                note = "no replicated row seen"
                out.append(Row(f"peers.{system}.{rate}.p50", figure, None, "ms", note=note))
                continue
            for q in ("p50", "p99"):
                figure = f"{label}: lag {q} at {rate} writes/s"
                note = _sustained_note(load) if q == "p50" else ""
                out.append(Row(f"peers.{system}.{rate}.{q}", figure, lag[q], "ms", note=note))
            mine = meridian.get(rate, {}).get("visible_lag_ms", {})
            out += ratio_rows(system, rate, mine, lag)
    return out


def ratio_rows(system: str, rate: int, meridian: dict, peer: dict) -> list[Row]:
    """Meridian's p50 and p99 lag divided by a peer's at the same rate; no value where
    either side has none (or the peer's rounds to zero)."""
    out = []
    for q in ("p50", "p99"):
        mine, theirs = meridian.get(q), peer.get(q)
        value = mine / theirs if mine is not None and theirs else None
        note = ""
        if mine is None:
            note = "Meridian's lag was not measured at this rate"
        elif not theirs:
            note = "the peer's lag is not above zero"
        target = f"<= {PEER_P99_GOAL:g}x (goal)" if system == "postgres" and q == "p99" else ""
        met = value <= PEER_P99_GOAL if target and value is not None else None
        figure = f"  Meridian lag {q} / {PEERS[system].split()[0]}'s at {rate}/s"
        out.append(
            Row(f"peers.{system}.{rate}.ratio_{q}", figure, value, "x", target, met, note=note)
        )
    return out


TARGET_BOOTSTRAP_ITEMS = 1_000_000  # the peak RSS target is for a copy of this size


def _ttl_rows(ttl: dict | None) -> list[Row]:
    if not ttl:
        return [
            Row("ttl.sweep_rate", "TTL sweep with writes running", None, "items/s", note="not run")
        ]
    return [
        Row(
            "ttl.sweep_rate",
            f"TTL sweep of {ttl['items']:,} expired items, one node, writes running",
            ttl["items_per_s"],
            "items/s",
            note=f"client writes meanwhile: {ttl['writes_per_s']:,.0f} items/s",
        )
    ]


def _bootstrap_rows(boot: dict, wb: float | None) -> list[Row]:
    """The bootstrap of a new region; `wb` is the raw WriteBatch rate when measured in the
    same run (not with `--only bootstrap`)."""
    if "copy" not in boot:
        return [Row("bootstrap.rate", "bootstrap of a new region", None, "items/s", note="not run")]
    copy, items = boot["copy"], boot["items"]
    rate = copy["items_per_s"]
    out = [
        Row(
            "bootstrap.rate",
            f"bootstrap of a new region from a peer holding {items:,} items",
            rate,
            "items/s",
            ">= 100,000 items/s",
            rate >= 100_000,
            rate / wb if wb else None,
            "WriteBatch" if wb else "",
            _cpu_note(copy)
            if copy["entries"] == items
            else f"copied {copy['entries']:,} of {items:,}",
        ),
        Row(
            "bootstrap.total",
            "  bootstrap, from starting the new region to ACTIVE",
            copy["total_s"],
            "s",
            note=f"copy started after {copy['started_s']:.1f} s",
        ),
    ]
    full = items >= TARGET_BOOTSTRAP_ITEMS
    for role, kb in sorted(boot["peak_rss_kb"].items()):
        mb = kb / 1024
        out.append(
            Row(
                f"bootstrap.rss.{role}",
                f"peak RSS {role} (during 4)",
                mb,
                "MB",
                "<= 400 MB (1M items)",
                mb <= 400 if full else None,
                note="" if full else f"({items:,} items, lighter than the target's)",
            )
        )
    return out


TLS_SETUPS = {"plaintext": "plaintext", "tls": "TLS", "tls_keys": "TLS + access keys"}


def _tls_rows(t: dict | None) -> list[Row]:
    """What TLS costs (bench/tls.py): each setup's figure with its ratio to plaintext, all
    from the same run. The note says how busy the rest of the machine was meanwhile."""
    if t is None:
        return []
    return _tls_put_rows(t) + _tls_lag_rows(t)


def _tls_put_rows(t: dict) -> list[Row]:
    figures: tuple[tuple[str, str, str, str, Callable[[dict], float]], ...] = (
        ("put_p50", "PutItem p50, one at a time", "ms", "put_sequential", _p50),
        ("put_cpu", "node CPU per PutItem, one at a time", "us", "put_sequential", _cpu),
        ("put_rate", "PutItem saturated", "calls/s", "put_saturated", _rate),
        ("put_rate_cpu", "node CPU per PutItem, saturated", "us", "put_saturated", _cpu),
    )
    out = []
    for key, figure, unit, part, pick in figures:
        results = {setup: t["put"][setup][part] for setup in TLS_SETUPS}
        base = pick(results["plaintext"])
        for setup, label in TLS_SETUPS.items():
            value = pick(results[setup])
            out.append(
                Row(
                    f"tls.{key}.{setup}",
                    f"{figure} ({t['put_durability']}), {label}",
                    value,
                    unit,
                    ratio=value / base if base else None,
                    ratio_to="plaintext",
                    note=_others_note(results[setup]),
                )
            )
    return out


def _tls_lag_rows(t: dict) -> list[Row]:
    rate, n = t["lag_rate"], t["lag_regions"]
    loads = {setup: t["lag"][setup]["loads"][0] for setup in ("plaintext", "tls")}
    figures: tuple[tuple[str, str, str, Callable[[dict], float | None]], ...] = (
        ("lag_p50", f"replication lag p50 at {rate} writes/s over {n} regions", "ms", _lag_p50),
        ("lag_p99", f"replication lag p99 at {rate} writes/s over {n} regions", "ms", _lag_p99),
        ("lag_cpu", f"  CPU of the group's processes at {rate} writes/s", "cores", _group_cpu),
    )
    out = []
    for key, figure, unit, pick in figures:
        base = pick(loads["plaintext"])
        for setup, load in loads.items():
            value = pick(load)
            out.append(
                Row(
                    f"tls.{key}.{setup}",
                    f"{figure}, {TLS_SETUPS[setup]}",
                    value,
                    unit,
                    ratio=value / base if value is not None and base else None,
                    ratio_to="plaintext",
                    note=_others_note(load),
                )
            )
    return out


def _lag_p50(load: dict) -> float | None:
    lag = load["visible_lag_ms"]
    return float(lag["p50"]) if lag.get("count") else None


def _lag_p99(load: dict) -> float | None:
    lag = load["visible_lag_ms"]
    return float(lag["p99"]) if lag.get("count") else None


def _group_cpu(load: dict) -> float:
    return float(load["group_cpu_cores"])


def _p50(result: dict) -> float:
    return float(result["latency_ms"]["p50"])


def _rate(result: dict) -> float:
    return float(result["calls_per_s"])


def _cpu(result: dict) -> float:
    return float(result["node_cpu_us_per_call"])


def _others_note(result: dict) -> str:
    cores = result.get("cpu_cores", {})
    return f"others used {cores['others']:.2f} cores" if "others" in cores else ""


def _wan_rows(r: dict) -> list[Row]:
    """Lag over a WAN (bench/wan.py). No target: the lag target is for the loopback group.
    The "added by Meridian" rows subtract the configured one-way delay; the network row is
    the measured one-way latency of the shaped network alone under the same load."""
    wan = r.get("wan")
    if wan is None:
        return []
    if "skipped" in wan:
        figure = "replication lag over a WAN (regions in network namespaces)"
        return [Row("wan", figure, None, "ms", note=f"skipped: {wan['skipped']}")]
    delay, n = wan["one_way_delay_ms"], len(wan["regions"])
    loopback = {x["offered_per_s"]: x for x in r.get("replication", {}).get("loads", [])}
    out = []
    for load in wan["replication"]["loads"]:
        rate, lag = load["offered_per_s"], load["visible_lag_ms"]
        where = f"at {rate} writes/s over {n} regions, {delay:g}+-{wan['jitter_ms']:g} ms one-way"
        if not lag.get("count"):
            note = "no replicated record seen"
            out.append(
                Row(f"wan.{rate}.p50", f"WAN replication lag {where}", None, "ms", note=note)
            )
            continue
        for q in ("p50", "p99", "max"):
            out.append(Row(f"wan.{rate}.{q}", f"WAN replication lag {q} {where}", lag[q], "ms"))
        base = loopback.get(rate, {}).get("visible_lag_ms", {})
        for q in ("p50", "p99", "max"):
            note = f"loopback {q} at {rate}/s: {_fmt(base[q], 'ms')}" if base.get("count") else ""
            figure = f"  added by Meridian: {q} - {delay:g} ms"
            out.append(Row(f"wan.{rate}.added_{q}", figure, lag[q] - delay, "ms", note=note))
        out += _wan_load_rows(load)
    return out


def _wan_load_rows(load: dict) -> list[Row]:
    rate, out = load["offered_per_s"], []
    net = load.get("network_one_way_ms", {})
    if net.get("count"):
        figure = "  network alone: one-way p50 (TCP SYN/RST round trip / 2)"
        note = f"p99 {_fmt(net['p99'], 'ms')}"
        out.append(Row(f"wan.{rate}.network_p50", figure, net["p50"], "ms", note=note))
    achieved = load["load"]["achieved_per_s"]
    figure = f"  writes achieved at {rate}/s offered"
    out.append(
        Row(f"wan.{rate}.achieved", figure, achieved, "writes/s", note=_sustained_note(load))
    )
    shaper = load.get("shaper", {})
    note = (
        f"{shaper['packets_per_s']:,.0f} packets/s, {shaper['cpu_us_per_packet']:.0f} us each"
        if shaper.get("cpu_us_per_packet")
        else ""
    )
    figure = "  packet shaper CPU (Python, shares the cores)"
    out.append(
        Row(f"wan.{rate}.shaper", figure, load["cpu_cores"].get("shaper"), "cores", note=note)
    )
    return out


def _cpu_note(result: dict) -> str:
    """The node's CPU time per item: what bounds the rate on a busy machine, and steadier
    than the rate itself when other programs take CPU."""
    us = result.get("node_cpu_us_per_item")
    return f"{us:.0f} us of node CPU per item" if us else ""


def _sustained_note(load: dict) -> str:
    note = "sustained" if load["sustained"] else "NOT sustained"
    missing = load["expected_records"] - load["received_records"]
    if missing > 0:
        note += f"; {missing} undelivered after {load['drain_wait_s']:.0f} s"
    return note


def _cells(rows_: list[Row], baseline: dict[str, Any] | None) -> list[list[str]]:
    """Header and one list of cells per row; a baseline column when a baseline is given
    (its ratio for the same figure, or its value where this run's row has no ratio, as in
    `--only` runs, which measure no raw limits)."""
    base = {row["id"]: row for row in (baseline or {}).get("figures", [])}
    header = ["figure", "value", "target", "ratio to raw limit", "met"]
    if base:
        header.append("baseline")
    lines = [header]
    for row in rows_:
        cells = [row.figure, _fmt(row.value, row.unit), row.target, _ratio(row), _met(row)]
        if row.note:
            cells[4] = (cells[4] + " " + row.note).strip()
        if base:
            b = base.get(row.id)
            if b is None:
                cells.append("")
            elif b.get("ratio") is not None and row.ratio is not None:
                cells.append(f"{b['ratio']:.2f}x")
            else:
                cells.append(_fmt(b.get("value"), b.get("unit", "")))
        lines.append(cells)
    return lines


def table(rows_: list[Row], baseline: dict[str, Any] | None = None) -> str:
    """Plain-text table for the terminal."""
    lines = _cells(rows_, baseline)
    widths = [max(len(c[i]) for c in lines) for i in range(len(lines[0]))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*lines[0]), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*cells) for cells in lines[1:]]
    return "\n".join(line.rstrip() for line in out)


def markdown(rows_: list[Row], baseline: dict[str, Any] | None = None) -> str:
    """The same table in Markdown (for docs/performance.md)."""
    lines = _cells(rows_, baseline)
    out = ["| " + " | ".join(lines[0]) + " |", "|" + " --- |" * len(lines[0])]
    out += ["| " + " | ".join(c.strip() for c in cells) + " |" for cells in lines[1:]]
    return "\n".join(out)


def as_json(rows_: list[Row]) -> list[dict[str, Any]]:
    return [asdict(row) for row in rows_]


def main() -> None:
    """`python -m bench.report RESULT.json`: the figures of a saved run as a Markdown table."""
    import json
    import pathlib
    import sys

    results = json.loads(pathlib.Path(sys.argv[1]).read_text())
    print(markdown(rows(results)))


if __name__ == "__main__":
    main()
