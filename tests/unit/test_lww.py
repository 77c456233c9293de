"""Last-writer-wins decisions (meridian.model.lww): decide, admit, rule, order-independence."""

from __future__ import annotations

import itertools
import random

import pytest

from meridian.model import lww
from meridian.model.hlc import pack
from meridian.model.lww import Outcome, admit, compare, decide, rule

T = 1_700_000_000_000
APPLY, LOST, DUP = Outcome.APPLY, Outcome.LOST_TO_NEWER, Outcome.DUPLICATE


@pytest.mark.parametrize(
    ("case", "incoming", "stored", "expected"),
    [
        ("nothing stored", (pack(T), "us"), None, APPLY),
        ("newer clock", (pack(T, 1), "us"), (pack(T, 0), "us"), APPLY),
        ("older clock", (pack(T, 0), "us"), (pack(T, 1), "us"), LOST),
        ("newer ms beats higher counter", (pack(T + 1, 0), "a"), (pack(T, 9), "z"), APPLY),
        ("older clock, higher region", (pack(T, 0), "zz"), (pack(T, 1), "aa"), LOST),
        ("newer clock, lower region", (pack(T, 2), "aa"), (pack(T, 1), "zz"), APPLY),
        ("equal clock, higher region wins", (pack(T), "us"), (pack(T), "eu"), APPLY),
        ("equal clock, lower region loses", (pack(T), "eu"), (pack(T), "us"), LOST),
        ("equal clock, prefix region is lower", (pack(T), "us"), (pack(T), "us-2"), LOST),
        ("exact duplicate", (pack(T, 3), "eu"), (pack(T, 3), "eu"), DUP),
    ],
)
def test_decide(
    case: str, incoming: lww.Version, stored: lww.Version | None, expected: Outcome
) -> None:
    assert decide(incoming, stored) is expected, case


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((1, "a"), (2, "a"), -1),
        ((2, "a"), (1, "z"), 1),
        ((1, "b"), (1, "a"), 1),
        ((1, "a"), (1, "a"), 0),
    ],
)
def test_compare_is_antisymmetric(a: lww.Version, b: lww.Version, expected: int) -> None:
    assert compare(a, b) == expected
    assert compare(b, a) == -expected


def test_decide_is_symmetric_between_two_distinct_versions() -> None:
    """Exactly one of two different versions beats the other, whichever arrives first."""
    versions = [(pack(T, c), r) for c in (0, 1) for r in ("eu", "us")]
    for a, b in itertools.permutations(versions, 2):
        outcomes = {decide(a, b), decide(b, a)}
        assert outcomes == {APPLY, LOST}, (a, b)


def test_tombstone_and_write_follow_the_same_rule() -> None:
    """decide() sees only versions: a delete's version competes exactly like a write's."""
    write, delete = (pack(T, 1), "us"), (pack(T, 2), "eu")
    assert decide(delete, write) is APPLY  # newer delete removes the item
    assert decide(write, delete) is LOST  # older write cannot resurrect it
    older_delete = (pack(T, 0), "zz")
    assert decide(older_delete, write) is LOST


@pytest.mark.parametrize(
    ("case", "sequence", "checkpoint", "clock", "now_ms", "max_offset_ms", "expected"),
    [
        ("first record", 1, 0, pack(T), T, 500, APPLY),
        ("at the checkpoint", 7, 7, pack(T), T, 500, Outcome.STALE_SEQUENCE),
        ("below the checkpoint", 3, 7, pack(T), T, 500, Outcome.STALE_SEQUENCE),
        ("just above the checkpoint", 8, 7, pack(T), T, 500, APPLY),
        ("clock within the offset", 1, 0, pack(T + 499, 9), T, 500, APPLY),
        ("clock exactly at the offset", 1, 0, pack(T + 500, 65535), T, 500, APPLY),
        ("clock beyond the offset", 1, 0, pack(T + 501), T, 500, Outcome.CLOCK_REJECTED),
        ("clock far behind is fine", 1, 0, pack(T - 10**9), T, 500, APPLY),
        ("offset 0: no limit", 1, 0, pack(T + 10**9), T, 0, APPLY),
        ("stale wins over clock", 2, 5, pack(T + 10**9), T, 500, Outcome.STALE_SEQUENCE),
    ],
)
def test_admit(
    case: str,
    sequence: int,
    checkpoint: int,
    clock: int,
    now_ms: int,
    max_offset_ms: int,
    expected: Outcome,
) -> None:
    assert admit(sequence, checkpoint, clock, now_ms, max_offset_ms) is expected, case


@pytest.mark.parametrize(
    ("incoming", "stored", "expected"),
    [
        ((pack(T, 0), "zz"), (pack(T, 1), "aa"), "higher clock wins"),
        ((pack(T, 0), "eu"), (pack(T, 0), "us"), "equal clocks: higher region name wins"),
    ],
)
def test_rule(incoming: lww.Version, stored: lww.Version, expected: str) -> None:
    assert rule(incoming, stored) == expected


def test_outcome_values_are_the_metric_labels() -> None:
    assert {o.value for o in Outcome} == {
        "applied",
        "lost_to_newer",
        "duplicate",
        "stale_sequence",
        "clock_rejected",
    }


def _settle(order: list[lww.Version]) -> lww.Version | None:
    stored: lww.Version | None = None
    for incoming in order:
        outcome = decide(incoming, stored)
        if outcome is APPLY:
            stored = incoming
        else:
            assert stored is not None
            assert compare(incoming, stored) <= 0
    return stored


def test_any_order_with_duplicates_settles_on_the_max_version() -> None:
    rng = random.Random(20261122)
    regions = ["ap", "eu", "us", "us-2"]
    for _ in range(300):
        versions = [
            (pack(T + rng.randint(0, 3), rng.randint(0, 2)), rng.choice(regions))
            for _ in range(rng.randint(1, 8))
        ]
        versions += [rng.choice(versions) for _ in range(rng.randint(0, 4))]  # duplicates
        expected = max(versions)
        for _ in range(10):
            order = versions[:]
            rng.shuffle(order)
            assert _settle(order) == expected, order
            assert _settle(order + order) == expected  # replaying everything changes nothing


def test_every_permutation_of_a_small_set_agrees() -> None:
    versions = [(pack(T, 1), "eu"), (pack(T, 1), "us"), (pack(T, 0), "zz"), (pack(T, 1), "us")]
    results = {_settle(list(p)) for p in itertools.permutations(versions)}
    assert results == {(pack(T, 1), "us")}
