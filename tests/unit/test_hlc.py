"""Hybrid logical clock (meridian.model.hlc): ticks, merges, skew and restarts."""

from __future__ import annotations

import random

import pytest

from meridian.model import hlc
from meridian.model.hlc import LOGICAL_MASK, HybridClock, ahead_ms, merge, pack, tick

T = 1_700_000_000_000  # a wall-clock millisecond in 2023


@pytest.mark.parametrize(
    ("ms", "counter"),
    [(0, 0), (1, 0), (T, 0), (T, 1), (T, LOGICAL_MASK), (hlc.MAX_MS, LOGICAL_MASK)],
)
def test_pack_round_trips(ms: int, counter: int) -> None:
    ts = pack(ms, counter)
    assert hlc.physical_ms(ts) == ms
    assert hlc.logical(ts) == counter
    assert ts < 1 << 64


def test_packed_order_is_ms_then_counter() -> None:
    assert pack(T, LOGICAL_MASK) < pack(T + 1, 0) < pack(T + 1, 1)


@pytest.mark.parametrize(
    ("case", "last", "now_ms", "expected"),
    [
        ("first tick takes the wall clock", 0, T, pack(T, 0)),
        ("wall clock moved on: counter resets", pack(T, 7), T + 5, pack(T + 5, 0)),
        ("same millisecond: counter increments", pack(T, 0), T, pack(T, 1)),
        ("wall clock stepped back: counter increments", pack(T, 3), T - 1000, pack(T, 4)),
        ("wall clock far behind", pack(T, 0), 0, pack(T, 1)),
        ("counter full: carries into ms", pack(T, LOGICAL_MASK), T, pack(T + 1, 0)),
        ("counter full, clock behind: carries", pack(T, LOGICAL_MASK), T - 9, pack(T + 1, 0)),
    ],
)
def test_tick(case: str, last: int, now_ms: int, expected: int) -> None:
    assert tick(last, now_ms) == expected, case


@pytest.mark.parametrize(
    ("case", "last", "remote", "now_ms", "expected"),
    [
        ("remote ahead of both", pack(T, 1), pack(T + 50, 3), T, pack(T + 50, 3)),
        ("remote behind local", pack(T + 50, 3), pack(T, 9), T, pack(T + 50, 3)),
        ("wall clock ahead of both", pack(T, 1), pack(T + 1, 0), T + 10, pack(T + 10, 0)),
        ("remote same ms, higher counter", pack(T, 1), pack(T, 9), T - 5, pack(T, 9)),
        ("all equal", pack(T, 4), pack(T, 4), T, pack(T, 4)),
    ],
)
def test_merge(case: str, last: int, remote: int, now_ms: int, expected: int) -> None:
    merged = merge(last, remote, now_ms)
    assert merged == expected, case
    assert merged >= last
    assert merged >= remote


@pytest.mark.parametrize(
    ("remote", "now_ms", "expected"),
    [
        (pack(T, 0), T, 0),
        (pack(T, LOGICAL_MASK), T, 0),  # the counter is not time
        (pack(T + 250, 0), T, 250),
        (pack(T - 250, 9), T, -250),
    ],
)
def test_ahead_ms(remote: int, now_ms: int, expected: int) -> None:
    assert ahead_ms(remote, now_ms) == expected


class FakeWall:
    def __init__(self, readings: list[int]) -> None:
        self.readings = list(readings)
        self.last = readings[0]

    def __call__(self) -> int:
        if self.readings:
            self.last = self.readings.pop(0)
        return self.last


def test_clock_never_decreases_when_the_wall_clock_jumps_back() -> None:
    wall = FakeWall([T, T + 10, T - 60_000, T - 60_000, T + 5, T + 11, T + 11])
    clock = HybridClock(wall=wall)
    stamps = [clock.now() for _ in range(7)]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == len(stamps)
    assert hlc.physical_ms(stamps[2]) == T + 10  # held at the high point while behind
    assert stamps[-1] == pack(T + 11, 1)


def test_clock_strictly_increases_over_random_wall_readings() -> None:
    rng = random.Random(1234)
    readings = [T + rng.randint(-5_000, 5_000) for _ in range(2_000)]
    clock = HybridClock(wall=FakeWall(readings))
    previous = 0
    for _ in readings:
        ts = clock.now()
        assert ts > previous
        previous = ts


def test_counter_overflow_within_one_millisecond_carries() -> None:
    clock = HybridClock(last=pack(T, LOGICAL_MASK - 1), wall=lambda: T)
    assert clock.now() == pack(T, LOGICAL_MASK)
    assert clock.now() == pack(T + 1, 0)
    assert clock.now() == pack(T + 1, 1)


def test_observe_remote_ahead_then_local_events_stamp_above_it() -> None:
    clock = HybridClock(last=pack(T, 0), wall=lambda: T)
    remote = pack(T + 60_000, 42)
    clock.observe(remote)
    assert clock.last == remote
    assert clock.now() == pack(T + 60_000, 43)


def test_observe_remote_behind_changes_nothing_beyond_the_wall_clock() -> None:
    clock = HybridClock(last=pack(T, 5), wall=lambda: T)
    clock.observe(pack(T - 1000, 99))
    assert clock.last == pack(T, 5)
    assert clock.now() == pack(T, 6)


def test_restored_high_water_ahead_of_the_wall_clock_keeps_increasing() -> None:
    high_water = pack(T + 3_600_000, 17)  # persisted before a restart; wall clock now behind
    clock = HybridClock(last=high_water, wall=FakeWall([T, T + 1, T + 2]))
    stamps = [clock.now() for _ in range(3)]
    assert stamps == [high_water + 1, high_water + 2, high_water + 3]


def test_restored_high_water_behind_the_wall_clock_uses_the_wall_clock() -> None:
    clock = HybridClock(last=pack(T - 10, 3), wall=lambda: T)
    assert clock.now() == pack(T, 0)


def test_wall_reads_the_injected_source() -> None:
    clock = HybridClock(wall=lambda: 1234)
    assert clock.wall() == 1234
    assert abs(hlc.wall_ms() - HybridClock().wall()) < 5_000
