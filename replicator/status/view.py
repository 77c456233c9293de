"""The status page's view: a pure function from what was collected to a JSON-ready model,
which the JSON variant serves as it is and the HTML variant lays out."""

from __future__ import annotations

from typing import Any

from meridian.model.render import conflict_json, time_text
from meridian.pb import replicator_pb2 as rpb
from meridian.wire.oneline import one_line
from replicator.status.collect import Collected, RegionReply

OK, WARN, BAD = "ok", "warn", "bad"
LAG_WARN_S = 5.0  # a streaming link this far behind is flagged
_BAD_LINK_STATES = frozenset({"DOWN", "REFUSED", "CLOCK_REJECTED", "RESYNC_NEEDED", "UNREACHABLE"})
_TRIGGER_HEALTH = {"RUNNING": OK, "STARTING": WARN, "DISABLED": WARN, "NOT_RUNNING": BAD}


def view(c: Collected) -> dict[str, Any]:
    links: list[dict[str, Any]] = []
    for r in c.regions:
        links += [_link(link) for link in r.reply.links] if r.reply else _unreachable(r, c)
    return {
        "group": c.group,
        "region": c.region,
        "collected_at": time_text(c.at_ms),
        "regions": [_region(r) for r in c.regions],
        "links": sorted(links, key=lambda link: (link["source"], link["target"])),
        "conflicts": {
            "region": c.region,
            "error": c.conflicts_error,
            "items": [conflict_json(conflict) for conflict in reversed(c.conflicts)],
        },
        "triggers": [
            dict(row, health=_TRIGGER_HEALTH.get(row["state"], BAD)) for row in c.triggers
        ],
    }


def _region(r: RegionReply) -> dict[str, Any]:
    if r.reply is None:
        return {
            "region": r.region,
            "state": "UNREACHABLE",
            "health": BAD,
            "error": r.error,
            "bootstrap": None,
        }
    state = r.reply.region_state
    aside = [f"table {a.table} set aside: {a.reason}" for a in r.reply.set_aside]
    return {
        "region": r.region,
        "state": state,
        "health": OK if state == "ACTIVE" and not aside else WARN,
        "error": one_line("; ".join(aside)),
        "bootstrap": bootstrap(r.reply.bootstrap) if state == "BOOTSTRAPPING" else None,
    }


def bootstrap(state: Any) -> dict[str, Any]:
    """A bootstrap's progress; `percent` None while the size is unknown, at most 100."""
    total = int(state.entries_estimate)
    percent = min(100, int(state.entries) * 100 // total) if total else None
    return {
        "source": state.source,
        "reason": state.reason,
        "entries": int(state.entries),
        "entries_estimate": total,
        "bytes": int(state.bytes),
        "percent": percent,
    }


def _link(link: rpb.LinkStatus) -> dict[str, Any]:
    """A link; the tables it leaves out (they differ between its regions) are said in its
    error text and make it a warning."""
    left_out = [f"left out: {t.reason}" for t in link.excluded_tables]
    health = link_health(link.state, link.lag_seconds)
    return {
        "source": link.source,
        "target": link.target,
        "state": link.state,
        "health": WARN if left_out and health == OK else health,
        "lag_seconds": round(link.lag_seconds, 3),
        "lag_text": lag_text(link.lag_seconds),
        "lag_records": link.lag_records,
        "applied": link.applied,
        "conflicts": link.conflicts,
        "clock_rejected": link.clock_rejected,
        "reconnects": link.reconnects,
        "error": one_line("; ".join(x for x in (link.error, *left_out) if x)),
        "lag_history": [round(v, 3) for v in link.lag_history],
    }


def _unreachable(r: RegionReply, c: Collected) -> list[dict[str, Any]]:
    """The links into a region whose replicator did not answer: known by name only."""
    return [
        {
            "source": peer.region,
            "target": r.region,
            "state": "UNREACHABLE",
            "health": BAD,
            "lag_seconds": None,
            "lag_text": "-",
            "lag_records": None,
            "applied": None,
            "conflicts": None,
            "clock_rejected": None,
            "reconnects": None,
            "error": one_line(r.error),
            "lag_history": [],
        }
        for peer in c.regions
        if peer.region != r.region
    ]


def link_health(state: str, lag_seconds: float) -> str:
    if state in _BAD_LINK_STATES:
        return BAD
    if state != "STREAMING" or lag_seconds > LAG_WARN_S:
        return WARN
    return OK


def lag_text(seconds: float) -> str:
    """A lag as a person reads it: ms below a second, seconds below two minutes, then minutes."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.0f} min"
