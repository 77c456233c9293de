"""Reconnect backoff (meridian.daemon.backoff): capped exponential growth with full jitter."""

from __future__ import annotations

import random

import pytest

from meridian.daemon.backoff import delay


@pytest.mark.parametrize(
    ("attempt", "base", "cap", "expected_ceiling"),
    [
        (0, 0.05, 5.0, 0.05),
        (1, 0.05, 5.0, 0.1),
        (2, 0.05, 5.0, 0.2),
        (6, 0.05, 5.0, 3.2),
        (7, 0.05, 5.0, 5.0),  # 6.4 capped
        (30, 0.05, 5.0, 5.0),
        (10_000, 0.05, 5.0, 5.0),  # huge attempt numbers do not overflow
        (3, 1.0, 100.0, 8.0),
    ],
)
def test_full_draw_reaches_the_ceiling(
    attempt: int, base: float, cap: float, expected_ceiling: float
) -> None:
    assert delay(attempt, base, cap, rand=1.0) == pytest.approx(expected_ceiling)


@pytest.mark.parametrize(
    ("attempt", "rand", "expected"),
    [
        (0, 0.5, 0.025),
        (4, 0.5, 0.4),  # half of 0.8
        (20, 0.25, 0.5),  # quarter of the cap
        (0, 0.0, 0.005),  # floor: a tenth of base
        (20, 0.0, 0.005),
        (0, 0.05, 0.005),  # 0.0025 would be below the floor
    ],
)
def test_jitter_scales_the_ceiling_above_a_floor(
    attempt: int, rand: float, expected: float
) -> None:
    assert delay(attempt, rand=rand) == pytest.approx(expected)


def test_ceiling_grows_then_stays_at_the_cap() -> None:
    ceilings = [delay(n, rand=1.0) for n in range(12)]
    assert ceilings == sorted(ceilings)
    assert ceilings[0] < ceilings[1] < ceilings[5]
    assert max(ceilings) == 2.0
    assert ceilings[-1] == ceilings[-2] == 2.0


def test_random_draws_stay_within_bounds_and_spread() -> None:
    random.seed(7)
    for attempt in (0, 3, 8, 50):
        ceiling = min(2.0, 0.05 * 2**attempt)
        draws = [delay(attempt) for _ in range(500)]
        assert all(0.005 <= d <= ceiling for d in draws), attempt
        if ceiling > 0.05:
            assert max(draws) - min(draws) > ceiling / 2  # jittered, not a constant
