"""Query and Scan key ranges (regionnode.query) checked against real key encodings."""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from meridian.expressions import SortCondition
from meridian.model import keys
from meridian.model.items import ItemError
from meridian.model.schema import Schema
from meridian.pb import node_pb2 as pb
from regionnode.query import in_segment, resume, sort_range, successor


def spec(sk_type: int) -> pb.TableSpec:
    return pb.TableSpec(
        name="orders",
        partition_key=pb.KeyAttribute(name="pk", type=pb.KEY_TYPE_S),
        sort_key=pb.KeyAttribute(name="sk", type=sk_type),
        view_type=pb.NEW_AND_OLD_IMAGES,
    )


S_SCHEMA = Schema(spec(pb.KEY_TYPE_S))
N_SCHEMA = Schema(spec(pb.KEY_TYPE_N))
B_SCHEMA = Schema(spec(pb.KEY_TYPE_B))
NO_SK = Schema(
    pb.TableSpec(
        name="users",
        partition_key=pb.KeyAttribute(name="id", type=pb.KEY_TYPE_S),
        view_type=pb.KEYS_ONLY,
    )
)


def sv(text: str) -> pb.AttributeValue:
    return pb.AttributeValue(s=text)


def nv(text: str) -> pb.AttributeValue:
    return pb.AttributeValue(n=text)


def bv(data: bytes) -> pb.AttributeValue:
    return pb.AttributeValue(b=data)


# ---------------------------------------------------------------- successor


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        (b"a", b"b"),
        (b"\x00", b"\x01"),
        (b"ab", b"ac"),
        (b"a\xff", b"b"),
        (b"a\xff\xff", b"b"),
        (b"a\x00\xff", b"a\x01"),
        (b"\xfe\xff", b"\xff"),
        (b"iorders\x00", b"iorders\x01"),
    ],
)
def test_successor(prefix: bytes, expected: bytes) -> None:
    assert successor(prefix) == expected


def test_successor_is_above_every_extension_and_minimal() -> None:
    rng = random.Random(99)
    for _ in range(500):
        prefix = bytes(rng.choice([0, 1, 0x7F, 0xFE, 0xFF]) for _ in range(rng.randint(1, 5)))
        if set(prefix) == {0xFF}:
            continue
        succ = successor(prefix)
        assert succ > prefix
        assert not succ.startswith(prefix)
        for _ in range(20):
            ext = prefix + bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 6)))
            assert ext < succ
        # nothing strictly between the extensions and the successor: its last byte is a bump
        assert succ[:-1] == prefix[: len(succ) - 1]


# ---------------------------------------------------------------- sort_range


S_VALUES = ["a", "a\x00", "a\x00b", "aa", "ab", "abc", "abd", "b", "B", "ba", "é", "éa", "zz", "😀"]
S_PROBES = [*S_VALUES, "aaa", "abb", "c", "\x01"]
N_VALUES = [
    "-1E+10",
    "-100",
    "-10.5",
    "-10",
    "-1",
    "-0.5",
    "-0.001",
    "-1E-130",
    "0",
    "1E-130",
    "0.001",
    "0.5",
    "1",
    "1.5",
    "2",
    "9.99",
    "10",
    "10.5",
    "100",
    "1E+10",
]
N_PROBES = [*N_VALUES, "-0", "1.00", "0.0", "-10.50", "5", "-5"]
B_VALUES = [
    b"\x00",
    b"\x00\x00",
    b"\x00\x01",
    b"\x01",
    b"\x7f",
    b"\x80",
    b"\xff",
    b"\xff\x00",
    b"\xff\xff",
]
B_PROBES = [*B_VALUES, b"\x00\xff", b"\xfe"]

COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "EQ": lambda v, c: v == c,
    "LT": lambda v, c: v < c,
    "LE": lambda v, c: v <= c,
    "GT": lambda v, c: v > c,
    "GE": lambda v, c: v >= c,
}

KINDS = {
    "S": (S_SCHEMA, sv, S_VALUES, S_PROBES, lambda x: x.encode()),
    "N": (N_SCHEMA, nv, N_VALUES, N_PROBES, Decimal),
    "B": (B_SCHEMA, bv, B_VALUES, B_PROBES, lambda x: x),
}


def _matching(
    schema: Schema,
    make: Callable[[Any], pb.AttributeValue],
    values: list[Any],
    cond: SortCondition | None,
) -> list[Any]:
    """The candidate values whose full storage key falls in sort_range's [low, high)."""
    prefix = schema.partition_prefix(sv("p1"))
    low, high = sort_range(schema, prefix, cond)
    inside = [
        v
        for v in values
        if low <= prefix + keys.encode_component(schema.sk_type, make(v), "sk") < high
    ]
    # keys of neighbouring partitions never fall in the range, whatever the condition
    for other in ("p", "p0", "p1\x00", "p10", "p2", "q"):
        other_prefix = schema.partition_prefix(sv(other))
        for v in values:
            key = other_prefix + keys.encode_component(schema.sk_type, make(v), "sk")
            assert not low <= key < high, (other, v)
    return inside


@pytest.mark.parametrize("kind", ["S", "N", "B"])
@pytest.mark.parametrize("op", ["EQ", "LT", "LE", "GT", "GE"])
def test_comparison_operators_select_exactly_the_matching_keys(kind: str, op: str) -> None:
    schema, make, values, probes, order = KINDS[kind]
    for probe in probes:
        cond = SortCondition(op, make(probe))
        expected = [v for v in values if COMPARE[op](order(v), order(probe))]
        assert _matching(schema, make, values, cond) == expected, (kind, op, probe)


@pytest.mark.parametrize("kind", ["S", "N", "B"])
def test_between_is_inclusive_on_both_ends(kind: str) -> None:
    schema, make, values, probes, order = KINDS[kind]
    for lo in probes:
        for hi in probes:
            if order(hi) < order(lo):
                continue
            cond = SortCondition("BETWEEN", make(lo), make(hi))
            expected = [v for v in values if order(lo) <= order(v) <= order(hi)]
            assert _matching(schema, make, values, cond) == expected, (kind, lo, hi)


@pytest.mark.parametrize("kind", ["S", "B"])
def test_begins_with_selects_exactly_the_prefixed_keys(kind: str) -> None:
    schema, make, values, probes, order = KINDS[kind]
    starts = [*probes, "a\x00" if kind == "S" else b"\x00", "é" if kind == "S" else b"\xff"]
    for start in starts:
        cond = SortCondition("BEGINS_WITH", make(start))
        expected = [v for v in values if order(v).startswith(order(start))]
        assert _matching(schema, make, values, cond) == expected, (kind, start)


@pytest.mark.parametrize("kind", ["S", "N", "B"])
def test_no_condition_is_the_whole_partition(kind: str) -> None:
    schema, make, values, _, _ = KINDS[kind]
    assert _matching(schema, make, values, None) == values


def test_no_condition_on_a_table_without_sort_key_is_the_partition() -> None:
    prefix = NO_SK.partition_prefix(sv("u1"))
    low, high = sort_range(NO_SK, prefix, None)
    assert (low, high) == (prefix, successor(prefix))
    assert low <= NO_SK.encode(pb.Item(attributes={"id": sv("u1")})) < high
    assert not low <= NO_SK.encode(pb.Item(attributes={"id": sv("u10")})) < high


@pytest.mark.parametrize(
    ("case", "schema", "cond", "message"),
    [
        (
            "BETWEEN in the wrong order (S)",
            S_SCHEMA,
            SortCondition("BETWEEN", sv("b"), sv("a")),
            "BETWEEN bounds are in the wrong order",
        ),
        (
            "BETWEEN in the wrong order (N, bytewise would disagree)",
            N_SCHEMA,
            SortCondition("BETWEEN", nv("10"), nv("9")),
            "BETWEEN bounds are in the wrong order",
        ),
        (
            "BETWEEN in the wrong order (negative N)",
            N_SCHEMA,
            SortCondition("BETWEEN", nv("-1"), nv("-2")),
            "BETWEEN bounds are in the wrong order",
        ),
        (
            "begins_with on a number key",
            N_SCHEMA,
            SortCondition("BEGINS_WITH", nv("1")),
            "begins_with needs a string or binary key",
        ),
        (
            "condition on a table without sort key",
            NO_SK,
            SortCondition("EQ", sv("x")),
            "has no sort key",
        ),
        (
            "value of the wrong type",
            S_SCHEMA,
            SortCondition("GT", nv("1")),
            "expected type S, got N",
        ),
        (
            "BETWEEN upper bound of the wrong type",
            N_SCHEMA,
            SortCondition("BETWEEN", nv("1"), sv("2")),
            "expected type N, got S",
        ),
        (
            "value missing",
            S_SCHEMA,
            SortCondition("EQ", pb.AttributeValue()),
            "expected type S, got no type",
        ),
        (
            "invalid number",
            N_SCHEMA,
            SortCondition("LT", nv("abc")),
            "invalid number",
        ),
        (
            "unknown operator",
            S_SCHEMA,
            SortCondition("NOPE", sv("a")),
            "unknown operator",
        ),
    ],
)
def test_sort_range_refuses(case: str, schema: Schema, cond: SortCondition, message: str) -> None:
    prefix = schema.partition_prefix(sv("p1"))
    with pytest.raises(ItemError, match=message):
        sort_range(schema, prefix, cond)


def test_between_equal_bounds_is_eq() -> None:
    prefix = N_SCHEMA.partition_prefix(sv("p1"))
    between = sort_range(N_SCHEMA, prefix, SortCondition("BETWEEN", nv("1.5"), nv("1.50")))
    eq = sort_range(N_SCHEMA, prefix, SortCondition("EQ", nv("1.5")))
    assert between == eq


# ---------------------------------------------------------------- resume


@pytest.mark.parametrize(
    ("low", "high", "start", "backward", "expected"),
    [
        (b"a", b"z", None, False, (b"a", b"z")),
        (b"a", b"z", None, True, (b"a", b"z")),
        (b"a", b"z", b"m", False, (b"m\x00", b"z")),
        (b"a", b"z", b"m", True, (b"a", b"m")),
        (b"c", b"z", b"a", False, (b"c", b"z")),  # start before the range: range unchanged
        (b"a", b"m", b"x", True, (b"a", b"m")),  # start after the range (backward)
    ],
)
def test_resume(
    low: bytes, high: bytes, start: bytes | None, backward: bool, expected: tuple[bytes, bytes]
) -> None:
    assert resume(low, high, start, backward) == expected


@pytest.mark.parametrize("backward", [False, True])
def test_resume_continues_strictly_after_the_start_key(backward: bool) -> None:
    prefix = N_SCHEMA.partition_prefix(sv("p1"))
    encoded = sorted(prefix + keys.encode_component(pb.KEY_TYPE_N, nv(v), "sk") for v in N_VALUES)
    low, high = sort_range(N_SCHEMA, prefix, None)
    for i, start in enumerate(encoded):
        lo, hi = resume(low, high, start, backward)
        inside = [k for k in encoded if lo <= k < hi]
        assert inside == (encoded[:i] if backward else encoded[i + 1 :])


# ---------------------------------------------------------------- segments


def test_segments_partition_every_prefix_exactly_once() -> None:
    prefixes = [S_SCHEMA.partition_prefix(sv(f"p{i}")) for i in range(200)]
    for total in (1, 2, 3, 7):
        owners = [[s for s in range(total) if in_segment(p, s, total)] for p in prefixes]
        assert all(len(o) == 1 for o in owners), total
        if total > 1:
            assert len({o[0] for o in owners}) == total  # every segment gets some
    assert in_segment(prefixes[0], 5, 0)  # 0 or 1 segments: the whole table
