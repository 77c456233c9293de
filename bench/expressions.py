"""Cost of the expression engine per call: compiling (cold and cached) and evaluating.

Run: ``.venv/bin/python -m bench.expressions`` (a few seconds). Prints microseconds per
call, the median of several rounds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from meridian.expressions import KeySchema, compile_request
from meridian.expressions.request import _template
from meridian.model import items

SCHEMA = KeySchema("pk", "S")
ITEM = items.from_plain(
    {
        "pk": "user#1",
        "version": 7,
        "name": "Ada",
        "tags": {"a", "b", "c"},
        "profile": {"city": "Paris", "visits": [1, 2, 3], "score": 10},
        "active": True,
    }
)
KEY = items.from_plain({"pk": "user#1"})
VALUES = {
    name: items.value_from_plain(name, value)
    for name, value in {
        ":v": 7,
        ":one": 1,
        ":city": "Paris",
        ":tag": "b",
        ":new": "Lovelace",
        ":t": {"d"},
    }.items()
}
CONDITION = "version = :v AND profile.city = :city AND contains(tags, :tag)"
UPDATE = "SET #n = :new, version = version + :one, profile.visits[3] = :one ADD tags :t"
PROJECTION = "#n, profile.city, profile.visits[1]"


def _per_call(function: Callable[[], Any], calls: int, rounds: int = 5) -> float:
    """Median microseconds per call over `rounds` rounds of `calls` calls."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            function()
        samples.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(samples)


def _compile() -> Any:
    return compile_request(
        "UpdateItem",
        update=UPDATE,
        condition=CONDITION,
        names={"#n": "name"},
        values=VALUES,
        schema=SCHEMA,
    )


def _cold() -> Any:
    _template.cache_clear()
    return _compile()


def main() -> None:
    compiled = _compile()
    projection = compile_request("GetItem", projection=PROJECTION, names={"#n": "name"})
    results = {
        "compile, cold (parse + build + check)": _per_call(_cold, 200),
        "compile, cached template (+ value checks)": _per_call(_compile, 5000),
        "condition (3 comparisons, nested path)": _per_call(
            lambda: compiled.condition_holds(ITEM), 20000
        ),
        "update (4 actions) + UPDATED_OLD/NEW": _per_call(
            lambda: compiled.apply_update(ITEM, KEY), 5000
        ),
        "projection (3 paths, nested, index)": _per_call(lambda: projection.project(ITEM), 20000),
    }
    width = max(map(len, results))
    for name, micros in results.items():
        print(f"{name:<{width}}  {micros:8.1f} us")


if __name__ == "__main__":
    main()
