"""Human summaries and lag plots of chaos runs.

The plot shows replication lag per link over the run with the fault windows shaded and the
heal marked: lag.png when matplotlib is importable, otherwise lag.svg (written by hand,
viewable in any browser), and the summary says which.
"""

from __future__ import annotations

import collections
import html
import pathlib
from typing import Any

COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
)


def lag_series(samples: list[dict[str, Any]], t0_ns: int) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
    for s in samples:
        for src, lag in s.get("lag", {}).items():
            out[f"{src}->{s['region']}"].append(((s["t"] - t0_ns) / 1e9, float(lag)))
    return {k: sorted(v) for k, v in sorted(out.items())}


def windows(report: dict[str, Any]) -> list[tuple[float, float, str]]:
    t0 = report["t0_ns"]
    return [
        (
            (f["applied_ns"] - t0) / 1e9,
            ((f["reverted_ns"] or f["applied_ns"]) - t0) / 1e9,
            f["label"],
        )
        for f in report["faults"]
        if f.get("applied_ns")
    ]


def plot(report: dict[str, Any], samples: list[dict[str, Any]], out: pathlib.Path) -> str:
    """Write the lag plot; returns the file name (or why there is none)."""
    series = lag_series(samples, report["t0_ns"])
    if not series:
        return "no lag plot: no samples"
    heal = (report["heal_ns"] - report["t0_ns"]) / 1e9 if report.get("heal_ns") else None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        (out / "lag.svg").write_text(svg(series, windows(report), heal, report["scenario"]))
        return "lag.svg (matplotlib is not installed, so no PNG)"
    fig, ax = plt.subplots(figsize=(11, 4.5))
    for i, (start, end, label) in enumerate(windows(report)):
        ax.axvspan(start, end, color="red", alpha=0.12, label=label if i < 8 else None)
    for name, points in series.items():
        ax.plot([p[0] for p in points], [p[1] for p in points], label=name, linewidth=1.2)
    if heal is not None:
        ax.axvline(heal, color="black", linestyle="--", linewidth=1, label="heal")
    ax.set_xlabel("seconds since workload start")
    ax.set_ylabel("replication lag (s)")
    ax.set_title(f"{report['scenario']} (seed {report['seed']})")
    ax.legend(fontsize=7, loc="upper right", ncol=2)
    fig.tight_layout()
    fig.savefig(out / "lag.png", dpi=110)
    plt.close(fig)
    return "lag.png"


def svg(
    series: dict[str, list[tuple[float, float]]],
    faults: list[tuple[float, float, str]],
    heal: float | None,
    title: str,
    width: int = 960,
    height: int = 400,
) -> str:
    left, right, top, bottom = 60, 200, 30, 40
    xs = [t for pts in series.values() for t, _ in pts] + [e for _, e, _ in faults]
    t_min, t_max = min(0.0, *xs), max(xs) or 1.0
    y_max = max(1.0, *(v for pts in series.values() for _, v in pts)) * 1.1

    def x(t: float) -> float:
        return left + (t - t_min) / (t_max - t_min or 1) * (width - left - right)

    def y(v: float) -> float:
        return height - bottom - v / y_max * (height - top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11">',
        f'<text x="{left}" y="18" font-size="13">{html.escape(title)}: replication lag (s)</text>',
    ]
    for i, (start, end, label) in enumerate(faults):
        parts.append(
            f'<rect x="{x(start):.1f}" y="{top}" width="{max(1.0, x(end) - x(start)):.1f}" '
            f'height="{height - top - bottom}" fill="red" fill-opacity="0.12"/>'
        )
        parts.append(
            f'<text x="{x(start) + 2:.1f}" y="{top + 12 + 12 * (i % 4)}" fill="#a00">'
            f"{html.escape(label)}</text>"
        )
    if heal is not None:
        parts.append(
            f'<line x1="{x(heal):.1f}" x2="{x(heal):.1f}" y1="{top}" '
            f'y2="{height - bottom}" stroke="black" stroke-dasharray="4"/>'
        )
    for i in range(6):
        v = y_max * i / 5
        parts.append(f'<text x="{left - 8}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.1f}</text>')
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            f'stroke="#ddd"/>'
        )
    for i in range(11):
        t = t_min + (t_max - t_min) * i / 10
        parts.append(
            f'<text x="{x(t):.1f}" y="{height - bottom + 16}" text-anchor="middle">{t:.0f}</text>'
        )
    parts.append(
        f'<text x="{(left + width - right) / 2}" y="{height - 6}" text-anchor="middle">'
        f"seconds since workload start</text>"
    )
    for i, (name, points) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.3" points="{path}"/>')
        parts.append(
            f'<text x="{width - right + 10}" y="{top + 14 * i + 10}" fill="{color}">'
            f"{html.escape(name)}</text>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def summary(report: dict[str, Any]) -> str:
    """A few lines a human reads first."""
    status = "PASS" if report.get("ok") else "FAIL"
    lines = [
        f"{report['scenario']} (seed {report['seed']}): {status}",
        f"  proves: {report.get('proves', '')}",
    ]
    for f in report.get("faults", []):
        lines.append(f"  fault: {f['label']} at {f['start_s']:.1f}-{f['end_s']:.1f} s")
    if report.get("error"):
        lines.append(f"  ERROR: {report['error'].strip().splitlines()[-1]}")
    s = report.get("summary")
    if s:
        lines.append(
            f"  operations {s['operations']}: writes {s['writes']} (acknowledged "
            f"{s['acknowledged']}, failed {s['failed']}, unknown {s['unknown']}), "
            f"reads {s['reads']}"
        )
        conv = report.get("convergence_s")
        converged = "NEVER" if conv is None else f"{conv:.1f} s"
        lines.append(
            f"  lost {s['lost']}, resurrected {s['resurrected']}, duplicates {s['duplicates']}, "
            f"never replicated {s.get('not_replicated', 0)}, "
            f"convergence {converged} after the last write, "
            f"max lag {s['max_lag_s']} s, lag recovered {s['max_recovery_s']} s after the heal, "
            f"clock rejections {s['clock_rejections']}"
        )
    for name, result in report.get("checks", {}).items():
        mark = "ok  " if result["ok"] else "FAIL"
        lines.append(f"  [{mark}] {name} ({result['invariant']}): {result['what']}")
        for example in result["examples"][:5]:
            lines.append(f"         - {example}")
        if result["violations"] > 5:
            lines.append(f"         ... {result['violations']} violations in all (report.json)")
    for error in report.get("nemesis_errors", []):
        lines.append(f"  nemesis error: {error}")
    if report.get("plot"):
        lines.append(f"  plot: {report['plot']}")
    lines.append(f"  output: {report.get('out', '')}")
    return "\n".join(lines)
