"""The benchmark harness in its smoke mode: every figure is produced, with positive numbers.

No timing assertions: this checks the harness (processes start, measure and stop), not the
machine. `make bench` runs the real thing.
"""

from __future__ import annotations

import json
import math
import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e
REPO = pathlib.Path(__file__).resolve().parents[2]

EXPECTED_ROWS = [
    "raw.writebatch",
    "raw.writebatch_fsync",
    "raw.point_get",
    "raw.protobuf",
    "raw.unary_p50",
    "raw.unary_rate",
    "raw.stream",
    "region.buffered.put_p50",
    "region.buffered.put_rate",
    "region.buffered.batch_write",
    "region.fsync.put_p50",
    "region.fsync.put_rate",
    "region.fsync.batch_write",
    "region.get_rate",
    "region.query_rate",
    "lag.200.p50",
    "lag.200.p99",
    "lag.200.max",
    "apply.rate",
    "convergence",
    "bootstrap.rate",
    "bootstrap.total",
]


def test_smoke_run_writes_every_figure(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "replication lag p50" in run.stdout
    (path,) = tmp_path.glob("*.json")
    results = json.loads(path.read_text())
    figures = {row["id"]: row for row in results["figures"]}
    for figure in EXPECTED_ROWS:
        value = figures[figure]["value"]
        assert value is not None and value > 0 and math.isfinite(value), (figure, value)
    for phase in ("rss.", "bootstrap.rss."):
        rss = [row for row in results["figures"] if row["id"].startswith(phase)]
        assert len(rss) == 4  # a node and a replicator in each of two regions
        assert all(row["value"] > 0 for row in rss)
    copy = results["bootstrap"]["copy"]
    assert copy["entries"] == results["profile"]["bootstrap_items"]
    assert copy["reason"] == "new region"  # copied from a snapshot, not streamed
    load = results["replication"]["loads"][0]
    assert load["received_records"] > 0
    assert load["visible_lag_ms"]["count"] == load["received_records"]
    assert results["apply"]["apply"]["records"] == results["profile"]["apply_items"]
    assert results["convergence"]["digest_rounds"] >= 1
    # The WAN phase needs root and network namespaces: smoke mode leaves it out, with a row
    # saying so.
    assert results["wan"] == {"skipped": "not run in smoke mode"}
    assert figures["wan"]["note"] == "skipped: not run in smoke mode"
    # The peers (PostgreSQL, Redis) are installed and run by `make bench`, not by the tests.
    assert results["peers"] == {"skipped": "not run in smoke mode"}
    assert figures["peers"]["note"] == "skipped: not run in smoke mode"
