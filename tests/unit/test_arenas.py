"""The malloc arena limit a daemon sets for itself (meridian.daemon.arenas)."""

from __future__ import annotations

import pytest

from meridian.daemon import arenas


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, arenas.ARENAS),
        ({"OTHER": "1"}, arenas.ARENAS),
        ({"MALLOC_ARENA_MAX": "8"}, None),  # the operator's choice; glibc read it at start
        ({"MALLOC_ARENA_MAX": ""}, None),
    ],
)
def test_the_environment_wins_else_the_default_limit(env: dict, expected: int | None) -> None:
    assert arenas.wanted(env) == expected


def test_nothing_is_set_when_the_environment_decides() -> None:
    assert arenas.limit({"MALLOC_ARENA_MAX": "8"}) is False
