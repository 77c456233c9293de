"""The status page as one self-contained HTML document: inline CSS, inline SVG sparklines,
and a small inline script that refetches the page every few seconds and swaps in its
<main> (no framework, nothing fetched from elsewhere; without scripts, the page still shows
everything and refreshes on reload).

Region, table and trigger names, keys and error texts come from data that callers control:
every one of them goes through `esc` (text and quoted attribute values alike). The Content
Security Policy allows only this file's own script and style (by hash), so even markup that
slipped through could not run a script.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable, Sequence
from typing import Any

from meridian.model.render import to_json

REFRESH_MS = 2000
SPARK_W, SPARK_H = 120, 24
SPARK_FLOOR_S = 0.1  # the smallest full scale: a few ms of jitter stays near the baseline

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.3em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}
table{border-collapse:collapse;background:#fff}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:middle}
th{background:#f0f0f0;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:0 .5em;border-radius:.6em;font-size:.85em;font-weight:600}
.ok{background:#d8f5dc;color:#11632a}.warn{background:#fff1c2;color:#7a5a00}
.bad{background:#fbd9d9;color:#8c1515}.muted{color:#777}.err{color:#8c1515;font-size:.9em}
svg.spark polyline{fill:none;stroke:#3367d6;stroke-width:1.5}
code{font-size:.9em}code.version{white-space:nowrap}footer{margin-top:2em;color:#777;font-size:.85em}
"""

SCRIPT = """
(function () {
  var pending = false;
  function refresh() {
    if (pending || document.hidden) { return; }
    pending = true;
    fetch(window.location.pathname, {headers: {Accept: "text/html"}, cache: "no-store"})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("live");
        var live = document.getElementById("live");
        if (fresh && live) { live.replaceWith(document.adoptNode(fresh)); }
        document.body.removeAttribute("data-stale");
      })
      .catch(function () { document.body.setAttribute("data-stale", "true"); })
      .then(function () { pending = false; });
  }
  setInterval(refresh, REFRESH_MS);
})();
""".replace("REFRESH_MS", str(REFRESH_MS))


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CSP = (
    f"default-src 'none'; script-src {_hash(SCRIPT)}; style-src {_hash(STYLE)}; "
    "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def esc(value: Any) -> str:
    """Text safe inside an element or a quoted attribute value."""
    return html.escape("" if value is None else str(value), quote=True)


def render(v: dict[str, Any]) -> str:
    title = f"Meridian {v['group']}: {v['region']}"
    return "".join(
        [
            "<!doctype html><html lang=en><head><meta charset=utf-8>",
            '<meta name=viewport content="width=device-width, initial-scale=1">',
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
            f"<h1>Meridian group <span id=group>{esc(v['group'])}</span></h1>",
            f"<div class=muted>served by the replicator of {esc(v['region'])}; ",
            "JSON at the same address with <code>?format=json</code> or ",
            "<code>Accept: application/json</code></div>",
            f'<main id=live data-collected-at="{esc(v["collected_at"])}">',
            _regions(v["regions"]),
            _links(v["links"]),
            _conflicts(v["conflicts"]),
            _triggers(v["triggers"], v["region"]),
            f"<footer>collected at <span id=collected-at>{esc(v['collected_at'])}</span>",
            "</footer></main>",
            f"<script>{SCRIPT}</script></body></html>",
        ]
    )


def _table(
    section: str, headers: Sequence[str], rows: Iterable[str], empty: str, row_count: int
) -> str:
    if row_count == 0:
        return f"<p class=muted id={section}-empty>{esc(empty)}</p>"
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return (
        f"<table id={section}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _badge(text: str, health: str) -> str:
    return f'<span class="badge {esc(health)}">{esc(text)}</span>'


def _num(value: Any) -> str:
    return f"<td class=num>{'-' if value is None else esc(value)}</td>"


def _regions(regions: list[dict[str, Any]]) -> str:
    rows = []
    for r in regions:
        progress = _bootstrap(r["bootstrap"]) if r["bootstrap"] else "<span class=muted>-</span>"
        rows.append(
            f'<tr data-region="{esc(r["region"])}"><td>{esc(r["region"])}</td>'
            f"<td>{_badge(r['state'], r['health'])}</td><td>{progress}"
            f"<span class=err>{esc(r['error'])}</span></td></tr>"
        )
    table = _table("regions", ["region", "state", "bootstrap"], rows, "no regions", len(rows))
    return f"<h2>Regions</h2>{table}"


def _bootstrap(b: dict[str, Any]) -> str:
    share = "" if b["percent"] is None else f" ({b['percent']}%)"
    bar = (
        "" if b["percent"] is None else f"<progress max=100 value={int(b['percent'])}></progress> "
    )
    return (
        f"{bar}from {esc(b['source'])}: {esc(b['entries'])} of about "
        f"{esc(b['entries_estimate'])} entries{share} "
    )


def _links(links: list[dict[str, Any]]) -> str:
    rows = [
        f'<tr data-link="{esc(link["source"])}-&gt;{esc(link["target"])}">'
        f"<td>{esc(link['source'])} &rarr; {esc(link['target'])}</td>"
        f"<td>{_badge(link['state'], link['health'])}</td>"
        f'<td class="num lag">{esc(link["lag_text"])}</td>'
        f"<td>{sparkline(link['lag_history'])}</td>"
        f"{_num(link['lag_records'])}{_num(link['applied'])}{_num(link['conflicts'])}"
        f"<td class=err>{esc(link['error'])}</td></tr>"
        for link in links
    ]
    headers = ["link", "state", "lag", "lag, last minute", "behind", "applied", "conflicts", ""]
    return f"<h2>Links</h2>{_table('links', headers, rows, 'no links', len(rows))}"


def sparkline_points(values: Sequence[float], width: int = SPARK_W, height: int = SPARK_H) -> str:
    """SVG polyline points for `values`, oldest left, 0 at the bottom, scaled to the largest
    value (at least SPARK_FLOOR_S)."""
    if not values:
        return ""
    top = max(max(values), SPARK_FLOOR_S)
    step = width / max(1, len(values) - 1)
    points = [
        f"{i * step:.1f},{height - 1 - (height - 2) * max(0.0, v) / top:.1f}"
        for i, v in enumerate(values)
    ]
    return " ".join(points)


def sparkline(values: Sequence[float]) -> str:
    if not values:
        return "<span class=muted>-</span>"
    peak = max(values)
    return (
        f'<svg class=spark width={SPARK_W} height={SPARK_H} viewBox="0 0 {SPARK_W} {SPARK_H}" '
        f'role=img aria-label="lag, peak {esc(f"{peak:.3f}")} s">'
        f'<polyline points="{sparkline_points(values)}"/></svg>'
    )


def _conflicts(c: dict[str, Any]) -> str:
    rows = [
        "<tr>"
        f"<td>{esc(item['table'])}</td><td><code>{esc(to_json(item['keys']))}</code></td>"
        f"<td>{_version(item['winner'])}</td><td>{_version(item['loser'])}</td>"
        f"<td>{esc(', '.join(item['attributes']) or '(item)')}</td>"
        f"<td>{esc(item['rule'])}</td><td>{esc(item['time'])}</td></tr>"
        for item in c["items"]
    ]
    headers = ["table", "key", "winner", "loser", "lost", "rule", "time"]
    error = f"<p class=err>{esc(c['error'])}</p>" if c["error"] else ""
    table = _table("conflicts", headers, rows, "no conflicts recorded", len(rows))
    return f"<h2>Recent conflicts in {esc(c['region'])}</h2>{error}{table}"


def _version(version: dict[str, Any] | None) -> str:
    if version is None:
        return "-"
    return f"<code class=version>{esc(version['hlc'])}@{esc(version['region'])}</code>"


def _triggers(rows_in: list[dict[str, Any]], region: str) -> str:
    rows = [
        f'<tr data-trigger="{esc(t["trigger"])}"><td>{esc(t["trigger"])}</td>'
        f"<td>{esc(t['table'])}</td><td>{_badge(t['state'], t['health'])}</td>"
        f"{_num(_age(t['iterator_age_seconds']))}{_num(t['invocations'])}{_num(t['errors'])}"
        f"{_num(t['dead_letters'])}{_num(t['behind'])}<td class=err>{esc(t['error'])}</td></tr>"
        for t in rows_in
    ]
    headers = [
        "trigger",
        "table",
        "state",
        "iterator age",
        "invocations",
        "errors",
        "dead letters",
        "behind",
        "",
    ]
    table = _table("triggers", headers, rows, "no triggers in this region", len(rows))
    return f"<h2>Triggers in {esc(region)}</h2>{table}"


def _age(seconds: float | None) -> str | None:
    return None if seconds is None else f"{seconds:.1f} s"
