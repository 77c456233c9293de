"""The settle step's pure parts: who used the CPU between two looks at /proc."""

from __future__ import annotations

import pytest

from bench import report
from bench.settle import busiest


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        # CPU used between the looks, most first, at most three
        (
            {1: ("a", 1.0), 2: ("b", 5.0), 3: ("c", 0.0), 4: ("d", 2.0)},
            {1: ("a", 4.0), 2: ("b", 5.5), 3: ("c", 0.2), 4: ("d", 3.0)},
            {"1 a": 3.0, "4 d": 1.0, "2 b": 0.5},
        ),
        # a process started meanwhile counts from zero; one that exited is not listed
        ({1: ("a", 1.0)}, {2: ("new", 0.7)}, {"2 new": 0.7}),
        # a kernel worker renamed by its work is the same pid: only what it used meanwhile
        (
            {7: ("kworker/0:1-events", 9.0)},
            {7: ("kworker/0:1-mm", 9.25)},
            {"7 kworker/0:1-mm": 0.25},
        ),
        # nothing used: nothing listed
        ({1: ("a", 1.0)}, {1: ("a", 1.0)}, {}),
    ],
)
def test_busiest_lists_what_each_process_used_between_the_looks(before, after, expected):
    assert busiest(before, after) == expected


@pytest.mark.parametrize(
    ("settled", "expected"),
    [
        # the slowest probe, and before which phase; the fastest in the note
        (
            {"region": {"speed_probe_ms": 6.0}, "wan": {"speed_probe_ms": 9.5}},
            [("settle.probe", 9.5, "before wan; the fastest of 2: 6.00 ms")],
        ),
        # a phase without a probe (results of a run before the probe) is left out
        (
            {"ttl": {"waited_s": 1.0}, "bootstrap": {"speed_probe_ms": 5.8}},
            [("settle.probe", 5.8, "before bootstrap; the fastest of 1: 5.80 ms")],
        ),
        # no settling (`--no-settle`, or a run before it): no row
        ({}, []),
    ],
)
def test_the_report_names_the_phase_measured_on_the_slowest_machine(settled, expected):
    rows = [row for row in report.rows({"settled": settled}) if row.id.startswith("settle")]
    assert [(row.id, row.value, row.note) for row in rows] == expected
