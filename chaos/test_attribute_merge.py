"""The short chaos scenario in attribute merge mode that `make test` runs.

The smoke scenario's faults (one region partitioned for 10 s, one node killed with SIGKILL
and restarted meanwhile) on a table in `merge: attribute` mode, whose clients' updates set
their own region's attribute; the checker's per-attribute check replaces the per-item ones.
Needs root, iproute2, iptables and /dev/net/tun; outside CI it is skipped (with the reason)
where those are missing, under CI=true it fails instead. CHAOS_SEED picks the seed
(default 1).
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from chaos import report, run
from chaos.scenarios import ATTRIBUTE_SHORT

pytestmark = pytest.mark.chaos
BUDGET_S = 180.0


def test_partition_and_kill_in_attribute_merge_mode() -> None:
    problems = run.environment_problems([ATTRIBUTE_SHORT])
    if problems:
        message = "the chaos attribute-merge test cannot run here: " + "; ".join(problems)
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{message} (CI=true: run it as root with iproute2 and iptables)")
        pytest.skip(message)
    seed = int(os.environ.get("CHAOS_SEED", "1"))
    out = run.OUT / f"{time.strftime('%Y%m%d-%H%M%S')}-attribute-seed{seed}"
    started = time.monotonic()
    rep = asyncio.run(run.run_all([ATTRIBUTE_SHORT], seed, out))[0]
    elapsed = time.monotonic() - started
    assert rep["ok"], report.summary(rep)
    assert "attribute_values" in rep["checks"]
    served = {region: counts.get("ok", 0) for region, counts in rep["workload"].items()}
    assert all(served.values()), f"a region's clients got no call through: {served}"
    assert elapsed < BUDGET_S, f"the scenario took {elapsed:.0f} s (budget {BUDGET_S:.0f} s)"
