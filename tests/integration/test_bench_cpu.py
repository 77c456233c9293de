"""bench/cpu.py, the in-process CPU benchmark, on tiny rounds: each path runs through the
real store and writer and yields a positive CPU time per record. No timing assertions."""

from __future__ import annotations

import asyncio
import pathlib

from bench import cpu
from bench.report import _cpu_rows


def test_every_path_yields_a_positive_cpu_time_per_record(tmp_path: pathlib.Path) -> None:
    result = asyncio.run(cpu.measure(tmp_path, rounds=2, smoke=True))
    for kind in ("insert", "modify"):
        figure = result["apply"][kind]
        assert figure["us"] > 0 and len(figure["rounds"]) == 2
        assert set(figure["parts_us"]) == {"decode", "check", "writer"}
    assert result["local"]["put_item"]["us"] > 0
    assert result["local"]["batch_write"]["us"] > 0
    assert all(r["us"] > 0 for r in result["conversions"].values())
    assert result["apply"]["subscribe_other_origin"]["us"] > 0
    for form in ("entries", "stored"):
        figure = result["bootstrap"][form]
        assert figure["us"] > 0 and set(figure["parts_us"]) == {"source", "relay", "target"}
    assert result["door"]["put_item"]["us"] > 0 and result["door"]["direct"]["us"] > 0
    ids = [row.id for row in _cpu_rows(result)]
    assert ids[:6] == [
        "cpu.apply_insert",
        "cpu.apply_modify",
        "cpu.subscribe_other",
        "cpu.put",
        "cpu.batch",
        "cpu.update",
    ]
