"""The fuzz driver's own parts (tests/fuzz): the wire tree, the mutations, and that its
checks fail when they should: an accept Python refuses, memory or references kept."""

from __future__ import annotations

import random
from typing import Any

import pytest

from meridian.model import item_bytes
from tests.fuzz import cases, driver, mutate, wire


def _seeds() -> list[bytes]:
    rng = random.Random(3)
    out = []
    for _ in range(50):
        sch = cases.schema_seed(rng)
        out += [cases.item_seed(rng), cases.record_seed(sch, rng, 0)]
    return out


def test_wire_tree_writes_back_the_bytes_it_read() -> None:
    for data in _seeds():
        tree = wire.parse(data)
        assert tree is not None and wire.encode(tree) == data


@pytest.mark.parametrize(("value", "size"), [(0, 1), (5, 10), ((1 << 64) - 1, 11), (300, 20)])
def test_overlong_varints_are_the_value_in_more_bytes(value: int, size: int) -> None:
    spelled = wire.overlong(value, size)
    total = sum((b & 0x7F) << (7 * i) for i, b in enumerate(spelled))
    assert len(spelled) == size and total == value and spelled[-1] < 0x80
    minimal = len(wire.varint(value)) == size
    assert wire._read_varint(spelled, 0) == ((value, size) if minimal else None)


def test_mutations_are_seeded_and_bounded() -> None:
    seeds = _seeds()
    first = [mutate.mutate(d, random.Random(n)) for n, d in enumerate(seeds)]
    assert first == [mutate.mutate(d, random.Random(n)) for n, d in enumerate(seeds)]
    assert sum(a != b for a, b in zip(first, seeds, strict=True)) > 0.9 * len(seeds)
    rng = random.Random(4)
    for _ in range(100):
        assert len(mutate.mutate(rng.choice(seeds), rng)) <= 3 * mutate.MAX_INPUT


def test_an_accept_python_refuses_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(item_bytes, "_compiled", lambda data: True)
    with pytest.raises(driver.Disagreement, match="compiled check only"):
        driver.check_item(b"\x0a\x00")  # an entry without a name: Python refuses it


def test_leak_check_passes_calls_that_keep_nothing() -> None:
    assert cases.leaks(10_000, [(len, (b"abc",)), (bytes, (100,))]) < cases.LEAK_BOUND


def test_leak_check_finds_memory_kept() -> None:
    kept: list[bytes] = []
    with pytest.raises(AssertionError, match="kept"):
        cases.leaks(10_000, [(lambda n: kept.append(bytes(n)), (64,))])


def test_leak_check_finds_references_gained() -> None:
    held: list[Any] = []
    with pytest.raises(AssertionError, match="references"):
        cases.leaks(10_000, [(held.append, (b"record",))])
