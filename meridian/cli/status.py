"""`meridian status`: every ordered region pair's link as its target replicator sees it."""

from __future__ import annotations

import json
from typing import Any

import grpc

from meridian.config import GroupConfig
from meridian.pb import replicator_pb2 as rpb
from meridian.pb import replicator_pb2_grpc as rpb_grpc
from meridian.security.dial import Dialer
from meridian.wire.oneline import describe, one_line


def collect(
    config: GroupConfig, timeout: float = 3.0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(regions, links): each region's state and bootstrap progress; each pair's link."""
    rows: list[dict[str, Any]] = []
    regions: list[dict[str, Any]] = []
    dialer = Dialer.for_operator(config)
    for region in config.regions:
        with dialer.sync_channel(str(region.replicator_address), region.name) as channel:
            try:
                reply = rpb_grpc.ReplicatorStub(channel).Status(
                    rpb.StatusRequest(), timeout=timeout
                )
            except grpc.RpcError as exc:
                regions.append({"region": region.name, "state": "UNREACHABLE"})
                for peer in config.regions:
                    if peer.name != region.name:
                        rows.append(_unreachable(peer.name, region.name, exc))
                continue
        regions.append(_region_json(region.name, reply))
        rows.extend(_link_json(link) for link in reply.links)
    return regions, sorted(rows, key=lambda r: (r["source"], r["target"]))


def _region_json(name: str, reply: rpb.StatusResponse) -> dict[str, Any]:
    boot = reply.bootstrap
    return {
        "region": name,
        "state": reply.region_state,
        "source": boot.source,
        "reason": boot.reason,
        "entries": boot.entries,
        "entries_estimate": boot.entries_estimate,
        "bytes": boot.bytes,
        "pins": {pin.region: pin.node_id for pin in reply.pins},
        "refused_nodes": [
            {
                "peer": r.peer,
                "node_id": r.node_id,
                "pinned_node_id": r.pinned_node_id,
                "refusals": r.refusals,
            }
            for r in reply.refused_nodes
        ],
        "set_aside": [
            {"table": a.table, "kept_as": a.kept_as, "reason": a.reason} for a in reply.set_aside
        ],
    }


def _link_json(link: rpb.LinkStatus) -> dict[str, Any]:
    return {
        "source": link.source,
        "target": link.target,
        "state": link.state,
        "lag_seconds": round(link.lag_seconds, 3),
        "lag_records": link.lag_records,
        "applied": link.applied,
        "conflicts": link.conflicts,
        "clock_rejected": link.clock_rejected,
        "reconnects": link.reconnects,
        "error": one_line(link.error),
        "excluded_tables": {t.table: t.reason for t in link.excluded_tables},
    }


def _unreachable(source: str, target: str, exc: grpc.RpcError) -> dict[str, Any]:
    return {
        "source": source,
        "target": target,
        "state": "UNREACHABLE",
        "lag_seconds": None,
        "lag_records": None,
        "applied": None,
        "conflicts": None,
        "clock_rejected": None,
        "reconnects": None,
        "error": f"replicator {target} unreachable: {describe(exc)}",
        "excluded_tables": {},
    }


def render(regions: list[dict[str, Any]], rows: list[dict[str, Any]], as_json: bool) -> str:
    if as_json:
        return json.dumps({"regions": regions, "links": rows}, indent=2)
    lines = [_region_line(r) for r in regions]
    return "\n".join([*lines, "", _links_table(rows), *_table_lines(regions, rows)])


def _table_lines(regions: list[dict[str, Any]], rows: list[dict[str, Any]]) -> list[str]:
    """Tables left out of a link (they differ between its regions) and tables whose data
    a region set aside (another CreateTable of the name won)."""
    lines = [
        f"link {r['source']} -> {r['target']}: {reason}; this table does not replicate on it"
        for r in rows
        for reason in r.get("excluded_tables", {}).values()
    ]
    lines += [
        f"{r['region']}: table {a['table']} set aside: {a['reason']}"
        for r in regions
        for a in r.get("set_aside", ())
    ]
    return ["", *lines] if lines else []


def _region_line(r: dict[str, Any]) -> str:
    text = f"{r['region']}: {r['state']}"
    if r["state"] == "BOOTSTRAPPING":
        total = r["entries_estimate"]
        share = f" ({100 * r['entries'] // total}%)" if total else ""
        text += f" from {r['source']}: {r['entries']} entries copied{share}"
    for claim in r.get("refused_nodes", ()):
        text += (
            f"; refused node {claim['node_id']} claiming {claim['peer']} "
            f"(pinned: {claim['pinned_node_id']}; {claim['refusals']} times)"
        )
    return text


def _links_table(rows: list[dict[str, Any]]) -> str:
    head = ["source", "target", "state", "lag_s", "lag_records", "applied", "conflicts", "error"]
    table = [head] + [
        [
            str(r["source"]),
            str(r["target"]),
            str(r["state"]),
            "-" if r["lag_seconds"] is None else f"{r['lag_seconds']:.3f}",
            "-" if r["lag_records"] is None else str(r["lag_records"]),
            "-" if r["applied"] is None else str(r["applied"]),
            "-" if r["conflicts"] is None else str(r["conflicts"]),
            one_line(str(r["error"] or "")),
        ]
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in table
    )


def problems(regions: list[dict[str, Any]], links: list[dict[str, Any]]) -> list[str]:
    """Why the group is not fully replicating: regions that did not answer and links that
    are not streaming. Empty when all is well (`status` then exits 0)."""
    out = [f"region {r['region']}: {r['state']}" for r in regions if r["state"] == "UNREACHABLE"]
    out += [
        f"link {r['source']} -> {r['target']}: {r['state']}"
        for r in links
        if r["state"] not in ("STREAMING", "UNREACHABLE")
    ]
    out += [
        f"link {r['source']} -> {r['target']}: table {table} left out"
        for r in links
        for table in r.get("excluded_tables", {})
    ]
    return out
