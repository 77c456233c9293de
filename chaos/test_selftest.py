"""Self-test of the whole pipeline against real nodes with a planted bug.

Three real nodes and replicators in this process (loopback, no namespaces: runs anywhere),
the chaos workload writing conflicting keys in every region, the chaos dump and the
checker. With Meridian as shipped every check passes; with last-writer-wins replaced by an
unconditional overwrite the checker must report lost acknowledged writes, and with an apply
that silently skips records (while the checkpoint still advances) it must report the gaps.
"""

from __future__ import annotations

import asyncio
import pathlib
import time
from typing import Any

import pytest

from chaos import dump
from chaos.checker import Observation, check
from chaos.execute import read_jsonl
from chaos.workload import Spec, Workload
from meridian.model import lww
from regionnode import replicated_apply
from tests.harness import group_doc, load_doc
from tests.harness.inprocess import running_group

TABLE = {"name": "chaos", "partition_key": {"name": "pk", "type": "S"}}


async def run_group(tmp_path: pathlib.Path) -> dict[str, Any]:
    """Write with replication off (conflicts pile up), turn it on, write on, quiesce."""
    doc = group_doc(
        tmp_path,
        ["a", "b", "c"],
        tables=[TABLE],
        replication={"heartbeat_interval": "100ms", "batch_size": 7},
    )
    config = load_doc(doc, tmp_path / "group.yaml")
    async with running_group(config, replicate=False) as regions:
        loads = {}
        for name, region in regions.items():
            spec = Spec(region=name, clients=2, rate=60, shared_keys=4, private_keys=4, seed=5)
            loads[name] = Workload(region.stub, spec, str(tmp_path / f"history-{name}.jsonl"))
            loads[name].start()
        await asyncio.sleep(1.5)
        for region in regions.values():
            await region.start_replicator()
        await asyncio.sleep(1.5)
        for load in loads.values():
            await load.stop()
        heal_ns = time.time_ns()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            digests = {n: await dump.digest(r.stub, "chaos") for n, r in regions.items()}
            if len({d["digest"] for d in digests.values()}) == 1:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.5)
        return {
            "history": read_jsonl([tmp_path / f"history-{n}.jsonl" for n in regions]),
            "states": {n: await dump.state(r.stub, "chaos") for n, r in regions.items()},
            "streams": {n: await dump.stream(r.stub, "chaos") for n, r in regions.items()},
            "digests": {n: await dump.digest(r.stub, "chaos") for n, r in regions.items()},
            "heal_ns": heal_ns,
            "samples": [
                {"t": heal_ns, "region": d, "lag": {s: 0.1 for s in regions if s != d}}
                for d in regions
            ],
        }


def observe(tmp_path: pathlib.Path) -> dict[str, Any]:
    return check(Observation(**asyncio.run(run_group(tmp_path)), max_clock_offset_ms=5000))


def failing(result: dict[str, Any]) -> set[str]:
    return {name for name, r in result["checks"].items() if not r["ok"]}


def test_meridian_as_shipped_passes(tmp_path: pathlib.Path) -> None:
    result = observe(tmp_path)
    assert result["ok"], {n: r["examples"][:3] for n, r in result["checks"].items() if not r["ok"]}
    assert result["summary"]["acknowledged"] > 100


def test_unconditional_overwrite_is_reported_as_lost_writes(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def overwrite(incoming: lww.Version, stored: lww.Version | None) -> lww.Outcome:
        return lww.Outcome.DUPLICATE if incoming == stored else lww.Outcome.APPLY

    monkeypatch.setattr(lww, "decide", overwrite)
    result = observe(tmp_path)
    # Which symptom shows first depends on timing: an older write applied over a newer one
    # is a lost write, a divergence, a version going backwards or an undone delete. Each is
    # a loud failure; test_checker.py pins the lost-write report on fixed histories.
    symptoms = {"acknowledged_writes", "convergence", "monotonic", "no_resurrection"}
    assert not result["ok"] and failing(result) & symptoms, failing(result)


def test_skipped_records_are_reported_as_gaps(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = replicated_apply.apply_record
    seen = [0]

    def skip_some(*args: Any) -> None:
        seen[0] += 1
        if seen[0] % 5:
            original(*args)

    monkeypatch.setattr(replicated_apply, "apply_record", skip_some)
    result = observe(tmp_path)
    assert "no_gaps" in failing(result)
    assert result["checks"]["no_gaps"]["violations"] > 0
