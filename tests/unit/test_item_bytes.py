"""The fast accept of serialized items (meridian/model/item_bytes.py) against Python.

Whenever the check says True, parsing the bytes and validate_item must accept the item and
normalize_item must leave it unchanged. Each case runs on the compiled module when it is
loaded (CI requires it: MERIDIAN_REQUIRE_NATIVE=1) and always on the pure-Python fallback.
"""

from __future__ import annotations

import os
import random
import string
from collections.abc import Callable
from typing import Any

import pytest

from meridian.model import item_bytes
from meridian.model.items import (
    MAX_DEPTH,
    MAX_ITEM_BYTES,
    ItemError,
    _is_canonical,
    normalize_item,
    validate_item,
)
from meridian.pb import node_pb2 as pb

Check = Callable[[bytes], bool]

IMPLEMENTATIONS: dict[str, Check] = {"fallback": item_bytes._parse_and_check}
if item_bytes._compiled is not None:
    IMPLEMENTATIONS["compiled"] = item_bytes._compiled
oracle = item_bytes._parse_and_check


def test_compiled_module_is_loaded_when_required() -> None:
    required = os.environ.get("MERIDIAN_REQUIRE_NATIVE") == "1"
    assert item_bytes.COMPILED or not required, "the compiled item check did not load"
    assert ("compiled" in IMPLEMENTATIONS) == item_bytes.COMPILED


# ---------------------------------------------------------------- hand-made encodings


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def entry(name: bytes, value: bytes) -> bytes:
    return field(1, field(1, name) + field(2, value))


def item(*entries: bytes) -> bytes:
    return b"".join(entries)


def s(text: bytes) -> bytes:
    return field(1, text)


def n(text: str) -> bytes:
    return field(2, text.encode())


def members(number: int, values: list[bytes]) -> bytes:
    return field(number, b"".join(field(1, v) for v in values))


def nested(depth: int, kind: str) -> bytes:
    """A string value under `depth` levels of maps or lists."""
    value = s(b"x")
    for _ in range(depth):
        value = field(7, entry(b"k", value)) if kind == "m" else field(6, field(1, value))
    return value


def too_large() -> bytes:
    """Exactly at the size limit as DynamoDB counts it; longer than it encoded."""
    return item(entry(b"a", field(3, b"x" * (MAX_ITEM_BYTES - 1))))


ENTRY_BODY = field(1, b"a") + field(2, b"\x20\x01")  # 7 bytes

# (name, encoding, compiled verdict, whether Python accepts it and normalize_item leaves it
# unchanged). The compiled check
# may be stricter than Python (False, True) but never the other way round.
CASES: list[tuple[str, bytes, bool, bool]] = [
    ("empty item", b"", True, True),
    ("string", item(entry(b"a", s(b"x"))), True, True),
    ("empty string", item(entry(b"a", s(b""))), True, True),
    ("unicode name and value", item(entry("é😀".encode(), s("ü€𝄞".encode()))), True, True),
    ("binary", item(entry(b"a", field(3, b"\xff\x00"))), True, True),
    ("bool false", item(entry(b"a", b"\x20\x00")), True, True),
    ("bool true", item(entry(b"a", b"\x20\x01")), True, True),
    ("bool spelled 2", item(entry(b"a", b"\x20\x02")), False, True),
    ("bool overlong", item(entry(b"a", b"\x20\x81\x00")), False, True),
    ("null", item(entry(b"a", b"\x28\x01")), True, True),
    ("null false", item(entry(b"a", b"\x28\x00")), False, False),
    ("no type", item(entry(b"a", b"")), False, False),
    ("two types", item(entry(b"a", s(b"x") + b"\x20\x01")), False, True),
    ("one type twice", item(entry(b"a", s(b"x") + s(b"y"))), False, True),
    ("empty list", item(entry(b"a", field(6, b""))), True, True),
    ("empty map", item(entry(b"a", field(7, b""))), True, True),
    ("list", item(entry(b"a", field(6, field(1, s(b"x")) + field(1, n("1"))))), True, True),
    ("list of untyped", item(entry(b"a", field(6, field(1, b"")))), False, False),
    ("map", item(entry(b"a", field(7, entry(b"b", n("2"))))), True, True),
    ("empty nested name", item(entry(b"a", field(7, entry(b"", n("2"))))), True, True),
    ("empty top name", item(entry(b"", s(b"x"))), False, False),
    ("duplicate name", item(entry(b"a", s(b"x")), entry(b"a", s(b"y"))), False, True),
    (
        "duplicate nested name",
        item(entry(b"a", field(7, entry(b"b", s(b"x")) + entry(b"b", s(b"y"))))),
        False,
        True,
    ),
    (
        "many names, one twice",
        item(*(entry(f"k{i}".encode(), s(b"x")) for i in [*range(40), 7])),
        False,
        True,
    ),
    ("many names", item(*(entry(f"k{i}".encode(), s(b"x")) for i in range(40))), True, True),
    ("entry value first", item(field(1, field(2, s(b"x")) + field(1, b"a"))), False, True),
    ("entry without value", item(field(1, field(1, b"a"))), False, False),
    ("entry without name", item(field(1, field(2, s(b"x")))), False, False),
    ("unknown item field", item(entry(b"a", s(b"x"))) + field(2, b""), False, True),
    ("unknown value field", item(entry(b"a", s(b"x") + field(11, b""))), False, True),
    (
        "unknown entry field",
        item(field(1, field(1, b"a") + field(2, s(b"x")) + field(3, b""))),
        False,
        True,
    ),
    ("group wire type", item(entry(b"a", b"\x0b\x0c")), False, False),
    ("fixed64 wire type", item(entry(b"a", b"\x21" + bytes(8))), False, False),
    ("fixed32 wire type", item(entry(b"a", b"\x25" + bytes(4))), False, False),
    ("bool as length-delimited", item(entry(b"a", field(4, b"\x01"))), False, False),
    ("string as varint", item(entry(b"a", b"\x08\x01")), False, False),
    ("wire type 7", b"\x0f", False, False),
    ("field number 0", b"\x02\x00", False, False),
    ("truncated varint", b"\x0a\x80", False, False),
    ("truncated tag", b"\x80", False, False),
    ("overlong length", b"\x0a\x87\x00" + ENTRY_BODY, False, True),
    ("overlong tag", b"\x8a\x00\x07" + ENTRY_BODY, False, True),
    ("length past the end", b"\x0a\x05\x0a\x01a", False, False),
    ("eleven-byte varint", b"\x0a" + b"\xff" * 10 + b"\x01", False, False),
    ("invalid utf-8 value", item(entry(b"a", s(b"\xff"))), False, False),
    ("invalid utf-8 name", item(entry(b"\xc3", s(b"x"))), False, False),
    ("overlong utf-8", item(entry(b"a", s(b"\xc0\xaf"))), False, False),
    ("overlong 3-byte utf-8", item(entry(b"a", s(b"\xe0\x80\xaf"))), False, False),
    ("surrogate", item(entry(b"a", s(b"\xed\xa0\x80"))), False, False),
    ("above U+10FFFF", item(entry(b"a", s(b"\xf4\x90\x80\x80"))), False, False),
    ("truncated utf-8", item(entry(b"a", s(b"\xe2\x82"))), False, False),
    ("invalid utf-8 set member", item(entry(b"a", members(8, [b"\xff"]))), False, False),
    ("binary need not be utf-8", item(entry(b"a", members(10, [b"\xff"]))), True, True),
    ("zero", item(entry(b"a", n("0"))), True, True),
    ("negative fraction", item(entry(b"a", n("-0.5"))), True, True),
    ("decimal", item(entry(b"a", n("123.456"))), True, True),
    ("small", item(entry(b"a", n("0.000001"))), True, True),
    ("smaller takes an exponent", item(entry(b"a", n("0.0000001"))), False, False),
    ("exponent below 1e-7", item(entry(b"a", n("1E-7"))), False, True),
    ("trailing zero", item(entry(b"a", n("1.0"))), False, False),
    ("leading zero", item(entry(b"a", n("01"))), False, False),
    ("plus sign", item(entry(b"a", n("+1"))), False, False),
    ("negative zero", item(entry(b"a", n("-0"))), False, False),
    ("bare point", item(entry(b"a", n("1."))), False, False),
    ("21 digits", item(entry(b"a", n("9" * 21))), True, True),
    ("22 digits", item(entry(b"a", n("1" + "0" * 21))), False, False),
    ("38 digits", item(entry(b"a", n("1" * 21 + "." + "1" * 17))), True, True),
    ("39 digits", item(entry(b"a", n("1" * 21 + "." + "1" * 18))), False, False),
    ("not a number", item(entry(b"a", n("abc"))), False, False),
    ("empty number", item(entry(b"a", n(""))), False, False),
    ("out of range", item(entry(b"a", n("1e999"))), False, False),
    ("string set", item(entry(b"a", members(8, [b"a", b"b"]))), True, True),
    ("empty string set", item(entry(b"a", members(8, []))), False, False),
    ("string set duplicate", item(entry(b"a", members(8, [b"a", b"a"]))), False, False),
    ("string set unsorted", item(entry(b"a", members(8, [b"b", b"a"]))), False, False),
    ("binary set", item(entry(b"a", members(10, [b"\x00", b"\x01"]))), True, True),
    ("binary set duplicate", item(entry(b"a", members(10, [b"\x01", b"\x01"]))), False, False),
    (
        "number set by value",
        item(entry(b"a", members(9, [b"-10", b"-2", b"-0.5", b"0", b"0.05", b"0.5", b"2", b"10"]))),
        True,
        True,
    ),
    ("number set by text", item(entry(b"a", members(9, [b"10", b"2"]))), False, False),
    ("number set equal spellings", item(entry(b"a", members(9, [b"1", b"1.0"]))), False, False),
    ("number set not canonical", item(entry(b"a", members(9, [b"1E3"]))), False, False),
    ("number set invalid", item(entry(b"a", members(9, [b"x"]))), False, False),
    ("empty number set", item(entry(b"a", members(9, []))), False, False),
    ("set member field 2", item(entry(b"a", field(8, field(2, b"a")))), False, False),
    ("maps at the depth limit", item(entry(b"a", nested(MAX_DEPTH, "m"))), True, True),
    ("maps past the depth limit", item(entry(b"a", nested(MAX_DEPTH + 1, "m"))), False, False),
    ("lists at the depth limit", item(entry(b"a", nested(MAX_DEPTH, "l"))), True, True),
    ("lists past the depth limit", item(entry(b"a", nested(MAX_DEPTH + 1, "l"))), False, False),
    ("very deep lists", item(entry(b"a", nested(200, "l"))), False, False),
    ("too large", too_large(), False, True),
]


@pytest.mark.parametrize("impl", sorted(IMPLEMENTATIONS))
@pytest.mark.parametrize(
    ("data", "compiled", "python"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule(impl: str, data: bytes, compiled: bool, python: bool) -> None:
    assert oracle(data) == python
    assert python or not compiled, "the compiled verdict may only be stricter"
    assert IMPLEMENTATIONS[impl](data) == (compiled if impl == "compiled" else python)


def test_public_function_takes_the_loaded_implementation() -> None:
    data = item(entry(b"a", b"\x20\x02"))  # valid, but only Python says so
    assert item_bytes.item_bytes_valid(data) is (not item_bytes.COMPILED)


# ---------------------------------------------------------------- random items


NUMBERS = [
    "0",
    "1",
    "-1",
    "1.5",
    "-0.25",
    "0.000001",
    "123456789012345678901",
    "1.0",
    "01",
    "1e3",
    "1E-7",
    "-0",
    "+2",
    ".5",
    "5.",
    "1e200",
    "x",
    "",
]


def random_number(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return rng.choice(NUMBERS)
    digits = "".join(rng.choice(string.digits) for _ in range(rng.randint(1, 40)))
    point = rng.randint(0, len(digits))
    text = digits[:point] + ("." + digits[point:] if point < len(digits) else "")
    return ("-" if rng.random() < 0.3 else "") + text


def random_text(rng: random.Random) -> str:
    alphabet = "ab€é😀\u0000"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4)))


def random_set(v: pb.AttributeValue, rng: random.Random) -> None:
    kind = rng.choice(["ss", "ns", "bs"])
    size = rng.choice([0, 1, 2, 3, 5])
    values: list[Any]
    if kind == "ss":
        values = [random_text(rng) for _ in range(size)]
    elif kind == "ns":
        values = [random_number(rng) for _ in range(size)]
    else:
        values = [rng.randbytes(rng.randint(0, 3)) for _ in range(size)]
    if rng.random() < 0.7 and kind != "ns":
        values = sorted(set(values))
    getattr(v, kind).SetInParent()
    getattr(v, kind).values.extend(values)


def random_value(v: pb.AttributeValue, rng: random.Random, depth: int) -> None:
    kind = rng.choice(["s", "n", "b", "bool", "null", "l", "m", "set"] if depth < 36 else ["s"])
    if kind == "s":
        v.s = random_text(rng)
    elif kind == "n":
        v.n = random_number(rng)
    elif kind == "b":
        v.b = rng.randbytes(rng.randint(0, 4))
    elif kind == "bool":
        v.bool = rng.random() < 0.5
    elif kind == "null":
        v.null = rng.random() < 0.9
    elif kind == "l":
        v.l.SetInParent()
        for _ in range(rng.choice([0, 1, 2, 3])):
            random_value(v.l.values.add(), rng, depth + 1)
    elif kind == "m":
        v.m.SetInParent()
        for _ in range(rng.choice([0, 1, 2, 3])):
            random_value(v.m.fields[random_text(rng)], rng, depth + 1)
    else:
        random_set(v, rng)


def random_item(rng: random.Random) -> pb.Item:
    out = pb.Item()
    for _ in range(rng.randint(0, 6)):
        name = random_text(rng) if rng.random() < 0.9 else ""
        random_value(out.attributes[name], rng, rng.choice([0, 0, 0, 30]))
    return out


def canonical_bytes(data: bytes) -> bytes | None:
    """The item normalized and serialized, or None when Python rejects it."""
    parsed = pb.Item.FromString(data)
    try:
        validate_item(parsed)
    except ItemError:
        return None
    normalize_item(parsed)
    return parsed.SerializeToString()


def mutations(data: bytes, other: bytes, rng: random.Random) -> list[bytes]:
    cut = rng.randint(0, len(data))
    flip = bytearray(data)
    if flip:
        flip[rng.randrange(len(flip))] ^= 1 << rng.randrange(8)
    start = rng.randint(0, len(other))
    piece = other[start : start + rng.randint(1, 8)]
    return [data[:cut], bytes(flip), data[:cut] + piece + data[cut:], data[:cut] + other[cut:]]


def numbers(v: pb.AttributeValue) -> list[str]:
    kind = v.WhichOneof("value")
    if kind == "n":
        return [v.n]
    if kind == "ns":
        return list(v.ns.values)
    if kind == "l":
        return [t for element in v.l.values for t in numbers(element)]
    if kind == "m":
        return [t for member in v.m.fields.values() for t in numbers(member)]
    return []


def positional(data: bytes) -> bool:
    """Whether every number is spelled as the compiled check knows canonical spellings:
    without an exponent and with at most 21 integer digits (items._is_canonical). Python's
    canonical form of other numbers (1E-7, 1E+21, 21 digits before a point...) is left to
    Python."""
    parsed = pb.Item.FromString(data)
    return all(_is_canonical(t) for v in parsed.attributes.values() for t in numbers(v))


@pytest.mark.parametrize("impl", sorted(IMPLEMENTATIONS))
def test_random_items_and_mutations(impl: str) -> None:
    check = IMPLEMENTATIONS[impl]
    rng = random.Random(15)
    accepted = left_to_python = 0
    previous = b""
    for _ in range(1500):
        data = random_item(rng).SerializeToString()
        verdict = check(data)
        assert not verdict or oracle(data), data
        accepted += verdict
        fixed = canonical_bytes(data)
        if fixed is not None:  # valid: its canonical form is accepted
            if impl == "fallback" or positional(fixed):
                assert check(fixed), fixed
            else:
                left_to_python += 1
        for mutated in mutations(data, previous, rng):
            assert not check(mutated) or oracle(mutated), mutated
        previous = data
    assert accepted > 100  # the generator reaches both verdicts
    assert left_to_python < 50
