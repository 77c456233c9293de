"""PNG plots of a run, when matplotlib is importable: lag percentiles over time for each
offered load, achieved throughput and lag against offered load, and lag over time for each
load of the WAN phase."""

from __future__ import annotations

import pathlib
from typing import Any


def write(results: dict[str, Any], prefix: pathlib.Path) -> list[pathlib.Path] | None:
    """Write the plots next to the JSON; returns their paths (None: matplotlib is missing)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    paths = []
    loads = results.get("replication", {}).get("loads", [])
    if loads:
        paths.append(_lag_series(plt, loads, prefix, "lag", ""))
        paths.append(_throughput(plt, loads, prefix))
    wan_loads = results.get("wan", {}).get("replication", {}).get("loads", [])
    if wan_loads:
        paths.append(_lag_series(plt, wan_loads, prefix, "wan-lag", "WAN: "))
    return paths


def _lag_series(plt: Any, loads: list, prefix: pathlib.Path, name: str, title: str) -> pathlib.Path:
    fig, axes = plt.subplots(1, len(loads), figsize=(5 * len(loads), 4), squeeze=False)
    for ax, load in zip(axes[0], loads, strict=True):
        series = load["series"]
        seconds = [s["second"] for s in series]
        for key in ("p50", "p99", "max"):
            ax.plot(seconds, [s[key] for s in series], marker=".", label=key)
        ax.set_yscale("log")
        ax.set_title(f"{title}{load['offered_per_s']} writes/s offered")
        ax.set_xlabel("second of the run (origin write time)")
        ax.set_ylabel("replication lag (ms)")
        ax.legend()
    fig.tight_layout()
    path = prefix.with_name(f"{prefix.name}-{name}.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _throughput(plt: Any, loads: list, prefix: pathlib.Path) -> pathlib.Path:
    offered = [load["offered_per_s"] for load in loads]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(
        offered, [load["load"]["achieved_per_s"] for load in loads], marker="o", label="achieved"
    )
    left.plot(offered, offered, linestyle="--", label="offered")
    left.set_xlabel("offered writes/s")
    left.set_ylabel("writes/s")
    left.legend()
    for key in ("p50", "p99", "max"):
        right.plot(
            offered, [load["visible_lag_ms"].get(key) for load in loads], marker="o", label=key
        )
    right.set_yscale("log")
    right.set_xlabel("offered writes/s")
    right.set_ylabel("replication lag (ms)")
    right.legend()
    fig.tight_layout()
    path = prefix.with_name(prefix.name + "-throughput.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
