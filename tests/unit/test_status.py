"""`meridian status` exits 1 unless every region answers and every link streams."""

from __future__ import annotations

from typing import Any

import pytest

from meridian.status import problems


def region(name: str, state: str = "ACTIVE") -> dict[str, Any]:
    return {"region": name, "state": state}


def link(source: str, target: str, state: str = "STREAMING") -> dict[str, Any]:
    return {"source": source, "target": target, "state": state}


@pytest.mark.parametrize(
    ("regions", "links", "expected"),
    [
        ([region("a"), region("b")], [link("a", "b"), link("b", "a")], []),
        (
            [region("a"), region("b", "UNREACHABLE")],
            [link("a", "b", "UNREACHABLE"), link("b", "a")],
            ["region b: UNREACHABLE"],
        ),
        (
            [region("a"), region("b")],
            [link("a", "b", "DOWN"), link("b", "a", "REFUSED")],
            ["link a -> b: DOWN", "link b -> a: REFUSED"],
        ),
        (
            [region("a", "BOOTSTRAPPING")],
            [link("b", "a", "CONNECTING")],
            ["link b -> a: CONNECTING"],
        ),
        ([region("a")], [link("b", "a", "CLOCK_REJECTED")], ["link b -> a: CLOCK_REJECTED"]),
    ],
)
def test_problems(
    regions: list[dict[str, Any]], links: list[dict[str, Any]], expected: list[str]
) -> None:
    assert problems(regions, links) == expected
