"""`python -m bench.hops RESULT.json TRACE_PREFIX`: the hops into and inside the target nodes
during each load of a `--only lag` run traced with `MERIDIAN_HOP_TRACE=TRACE_PREFIX`
(meridian/daemon/hop_trace.py): the apply message from the target's replicator to its
node (split by whether it arrived while the node's writer was committing), the node's
receipt to durable, and the writers' commits (one operation after an idle millisecond, and
the others). p50 / p90 / p99 in ms.
"""

from __future__ import annotations

import bisect
import glob
import json
import pathlib
import sys
from collections import defaultdict
from dataclasses import dataclass, field

Key = tuple[str, str, str, str]  # region of the target, origin, table, source sequence
IDLE_MS = 1.0  # a commit after this long idle is "one operation after a pause"


@dataclass
class Trace:
    batches: dict[Key, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    # region -> (end time, operations, ms idle before, ms staged -> durable), by end time
    commits: dict[str, list[tuple[float, int, float, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )


def parse(lines: list[str]) -> Trace:
    """The events of trace lines (hop_trace.line), from every process."""
    trace = Trace()
    for text in lines:
        at, region, kind, *rest = text.split()
        if kind == "commit":
            ops, idle_ms, commit_ms = rest
            trace.commits[region].append((float(at), int(ops), float(idle_ms), float(commit_ms)))
        elif kind in ("send", "recv", "durable"):
            trace.batches[(region, rest[0], rest[1], rest[2])][kind] = float(at)
    for commits in trace.commits.values():
        commits.sort()
    return trace


def hops(trace: Trace, start: float, end: float) -> dict[str, list[float]]:
    """Each hop's durations (ms) for the batches sent between `start` and `end`."""
    out: dict[str, list[float]] = defaultdict(list)
    for (region, *_), at in trace.batches.items():
        if not ("send" in at and "recv" in at and start <= at["send"] <= end):
            continue
        transit = (at["recv"] - at["send"]) * 1e3
        out["send -> recv"].append(transit)
        overlap = _committing(trace.commits[region], at["send"], at["recv"])
        out["send -> recv, during a commit" if overlap else "send -> recv, otherwise"].append(
            transit
        )
        if "durable" in at:
            out["recv -> durable"].append((at["durable"] - at["recv"]) * 1e3)
    for commits in trace.commits.values():
        for ended, ops, idle_ms, commit_ms in commits:
            if start <= ended <= end:
                alone = ops == 1 and idle_ms >= IDLE_MS
                out["commit, one op after a pause" if alone else "commit, others"].append(commit_ms)
    return out


def _committing(commits: list[tuple[float, int, float, float]], since: float, until: float) -> bool:
    """Whether one of the writer's commits ran at some time between `since` and `until`."""
    i = bisect.bisect_left(commits, (since,))
    return any(ended - commit_ms / 1e3 < until for ended, _, _, commit_ms in commits[i : i + 4])


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main(argv: list[str]) -> None:
    result_path, prefix = argv
    loads = json.loads(pathlib.Path(result_path).read_text())["replication"]["loads"]
    paths = glob.glob(f"{prefix}.*")
    lines = [text for path in paths for text in pathlib.Path(path).read_text().splitlines()]
    trace = parse(lines)
    for load in loads:
        window = load["load"]["start_ms"] / 1e3, load["load"]["end_ms"] / 1e3
        print(f"{load['offered_per_s']} writes/s (lag p50 {load['visible_lag_ms']['p50']:.2f} ms)")
        for name, values in sorted(hops(trace, *window).items()):
            figures = " / ".join(f"{quantile(values, q):.2f}" for q in (0.5, 0.9, 0.99))
            print(f"  {name:<32} {figures}  ({len(values)})")


if __name__ == "__main__":
    main(sys.argv[1:])
