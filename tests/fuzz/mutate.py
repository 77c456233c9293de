"""Structure-aware mutations of a valid encoding: one or a few changes to one field of its
wire tree (tests.fuzz.wire), each of a kind a hostile peer or client could send."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterator
from decimal import Decimal

from tests.fuzz.wire import (
    FIXED32,
    FIXED64,
    LEN,
    VARINT,
    VERBATIM,
    Field,
    Message,
    encode,
    overlong,
    parse,
    varint,
)
from tests.fuzz.wire import fields as all_fields

BAD_UTF8 = [
    b"\xc0\x80",  # overlong NUL
    b"\xe0\x80\x80",  # overlong
    b"\xed\xa0\x80",  # a surrogate
    b"\xf4\x90\x80\x80",  # above U+10FFFF
    b"\xf5\x80\x80\x80",
    b"\xe2\x82",  # cut short
    b"\x80",
    b"\xff",
    b"a\xf0\x9f\x98",
]
NUMBERS = [
    "0",
    "-0",
    "9" * 38,
    "9" * 39,
    "-" + "9" * 38,
    "1" + "0" * 20,
    "1" + "0" * 21,
    "1" * 21 + "." + "1" * 17,
    "1" * 21 + "." + "1" * 18,
    "0.000001",
    "0.0000001",
    "0." + "0" * 5 + "9" * 38,
    "-0." + "0" * 5 + "9" * 39,
    "1E+125",
    "1E+126",
    "1E-130",
    "1E-131",
    "9.9999999999999999999999999999999999999E+125",
    "1e5",
    "",
    "-",
    ".",
    "0.",
    ".5",
    "00",
    "01",
    "1.0",
    "+1",
    "NaN",
    "Infinity",
    " 1",
    "1" * 64,
    "1" * 65,
    "1" * 200,
]
LENGTHS = [(1 << 31) - 1, 1 << 31, (1 << 32) + 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1]
VARINTS = [0, 1, 3, 4, 0x7F, 0x80, (1 << 31) - 1, 1 << 31, (1 << 32), (1 << 63), (1 << 64) - 1]

MAX_INPUT = 600_000  # bytes: past an item's limit (400 KiB), and a bound on the fuzz's memory

Mutation = Callable[[Message, Field, random.Random], None]


def _length_past_end(tree: Message, f: Field, rng: random.Random) -> None:
    size = len(encode(Message([f]))) if f.wire == LEN else 0
    f.wire = LEN if f.wire == VARINT and rng.random() < 0.5 else f.wire
    f.raw = varint(rng.choice([size + 1, size + rng.randint(2, 64), *LENGTHS]))


def _long_varint(tree: Message, f: Field, rng: random.Random) -> None:
    value = f.value if isinstance(f.value, int) else len(_payload(f))
    f.raw = overlong(value, rng.choice([10, 11, 12, 20]) if rng.random() < 0.7 else 2)
    if rng.random() < 0.3:
        f.tag = overlong(f.number << 3 | f.wire, rng.choice([2, 5, 10, 11]))


def _wrong_wire_type(tree: Message, f: Field, rng: random.Random) -> None:
    f.wire = rng.choice([w for w in range(8) if w != f.wire])
    if f.wire in (VARINT, FIXED64, FIXED32) and not isinstance(f.value, int):
        f.value = rng.choice(VARINTS)
    elif f.wire == LEN and isinstance(f.value, int):
        f.value = varint(f.value)


def _varint_value(tree: Message, f: Field, rng: random.Random) -> None:
    f.wire, f.value = VARINT, rng.choice(VARINTS)


def _empty(tree: Message, f: Field, rng: random.Random) -> None:
    if f.wire == LEN:
        f.value = b""
    else:
        f.value = 0


def _bad_utf8(tree: Message, f: Field, rng: random.Random) -> None:
    text = _payload(f)
    at = rng.randint(0, len(text))
    f.wire, f.value = LEN, text[:at] + rng.choice(BAD_UTF8) + text[at:]


def _number(tree: Message, f: Field, rng: random.Random) -> None:
    f.wire, f.value = LEN, rng.choice(NUMBERS).encode()


def _duplicate(tree: Message, f: Field, rng: random.Random) -> None:
    parent, index = _parent(tree, f)
    parent.fields.insert(index + rng.choice([0, 1]), copy.deepcopy(f))


def _drop(tree: Message, f: Field, rng: random.Random) -> None:
    parent, index = _parent(tree, f)
    del parent.fields[index]


def _swap(tree: Message, f: Field, rng: random.Random) -> None:
    parent, index = _parent(tree, f)
    other = rng.randrange(len(parent.fields))
    parent.fields[index], parent.fields[other] = parent.fields[other], parent.fields[index]


def _renumber(tree: Message, f: Field, rng: random.Random) -> None:
    f.number = rng.choice([1, 2, 3, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 99, (1 << 29) - 1])


def _many(tree: Message, f: Field, rng: random.Random) -> None:
    """A huge count: the field repeated in its message (map entries, set members, list
    elements) up to an item's size and past it."""
    parent, index = _parent(tree, f)
    most = MAX_INPUT // max(1, len(encode(Message([f]))))
    count = min(most, rng.choice([17, 100, 5000, most]))
    if rng.random() < 0.5 and f.wire == LEN:  # distinct: a name or payload made unique
        copies = [Field(f.number, f.wire, _distinct(f.value, n)) for n in range(count)]
    else:
        copies = [f] * count
    parent.fields[index] = Field(0, VERBATIM, encode(Message(copies)))


def _deep(tree: Message, f: Field, rng: random.Random) -> None:
    """The field's value wrapped in maps or lists (AttributeValue's m and l) many levels
    deep, around MAX_DEPTH and protobuf's own recursion limit."""
    value = encode(Message([Field(1, LEN, _payload(f))]))  # an AttributeValue's s
    for _ in range(rng.choice([30, 31, 32, 33, 34, 50, 100, 200])):
        if rng.random() < 0.5:  # l: ListValue { values: value }
            value = encode(Message([Field(6, LEN, encode(Message([Field(1, LEN, value)])))]))
        else:  # m: MapValue { fields { key: "a" value: value } }
            entry = encode(Message([Field(1, LEN, b"a"), Field(2, LEN, value)]))
            value = encode(Message([Field(7, LEN, encode(Message([Field(1, LEN, entry)])))]))
    f.wire, f.value = LEN, value


def _truncate_payload(tree: Message, f: Field, rng: random.Random) -> None:
    data = _payload(f)
    f.wire, f.value = LEN, data[: rng.randint(0, max(0, len(data) - 1))]


def _oversize(tree: Message, f: Field, rng: random.Random) -> None:
    f.wire, f.value = LEN, rng.randbytes(rng.randint(1, 8)) * rng.choice([8192, 60000])


VALID_NUMBERS = [
    "0",
    "-1",
    "9" * 38,
    "-" + "9" * 38,
    "1" + "0" * 20,
    "1" * 21 + "." + "1" * 17,
    "0.000001",
    "-0.00000" + "9" * 38,
    "0.1",
    "10.5",
    "-10.05",
]
VALID_TEXTS = ["", "\x00", "\ud7ff", "\ue000", "\uffff", "\U00010000", "\U0010ffff", "é" * 300]


def valid_value(rng: random.Random, depth: int = 0) -> bytes:
    """An AttributeValue that validate_item accepts, normalized, at the edges of its rules."""
    kind = rng.choice(["s", "n", "b", "bool", "null", "ss", "ns", "bs", "l", "m"])
    if depth >= 32 or kind == "s":
        return _len(1, rng.choice(VALID_TEXTS).encode())
    if kind == "n":
        return _len(2, rng.choice(VALID_NUMBERS).encode())
    if kind == "b":
        return _len(3, rng.randbytes(rng.choice([0, 1, 5, 1000])))
    if kind in ("bool", "null"):
        return bytes([4 << 3 if kind == "bool" else 5 << 3, rng.choice([0, 1]) | (kind == "null")])
    if kind == "l" or kind == "m":
        inner = [valid_value(rng, depth + 1) for _ in range(rng.choice([0, 1, 3]))]
        if kind == "l":
            return _len(6, b"".join(_len(1, v) for v in inner))
        names = [rng.choice(VALID_TEXTS).encode() + bytes([n]) for n in range(len(inner))]
        entries = (
            _len(1, _len(1, name) + _len(2, v)) for name, v in zip(names, inner, strict=True)
        )
        return _len(7, b"".join(entries))
    pool = {"ss": [t.encode() for t in VALID_TEXTS], "bs": [b"", b"\0", b"\xff", b"\0\0"]}
    members = rng.sample(pool.get(kind, [n.encode() for n in VALID_NUMBERS]), rng.randint(1, 4))
    order = (lambda m: Decimal(m.decode())) if kind == "ns" else (lambda m: m)
    number = {"ss": 8, "ns": 9, "bs": 10}[kind]
    return _len(number, b"".join(_len(1, m) for m in sorted(members, key=order)))


def _len(number: int, payload: bytes) -> bytes:
    return bytes([number << 3 | LEN]) + varint(len(payload)) + payload


def _valid(tree: Message, f: Field, rng: random.Random) -> None:
    """A valid value in place of the field's: most often still a valid whole, at the edges
    of the accept path."""
    f.wire, f.value = LEN, valid_value(rng)


MUTATIONS: list[Mutation] = [
    _valid,
    _valid,
    _valid,
    _length_past_end,
    _long_varint,
    _wrong_wire_type,
    _varint_value,
    _empty,
    _bad_utf8,
    _number,
    _duplicate,
    _drop,
    _swap,
    _renumber,
    _many,
    _deep,
    _truncate_payload,
    _oversize,
]


def _payload(f: Field) -> bytes:
    if isinstance(f.value, Message):
        return encode(f.value)
    return f.value if isinstance(f.value, bytes) else varint(f.value)


def _distinct(value: object, n: int) -> bytes | Message:
    """`value` with `n` appended to its first bytes (a map entry's name, a set member)."""
    if isinstance(value, Message) and value.fields:
        first = value.fields[0]
        if isinstance(first.value, bytes):
            renamed = Field(first.number, first.wire, first.value + str(n).encode())
            return Message([renamed, *value.fields[1:]])
    return (value if isinstance(value, bytes) else b"") + str(n).encode()


def _parent(tree: Message, target: Field) -> tuple[Message, int]:
    for message, index in all_fields(tree):
        if message.fields[index] is target:
            return message, index
    raise LookupError("field not in tree")


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to three structure-aware mutations of `data` (raw byte ones when it does not
    parse)."""
    tree = parse(data)
    if tree is None or not tree.fields:
        return _bytes_mutation(data, rng)
    for step in range(rng.choice([1, 1, 1, 2, 3])):
        candidates = all_fields(tree)
        if not candidates or (step and len(encode(tree)) > MAX_INPUT):
            break
        mutation = rng.choice(MUTATIONS)
        if mutation is _valid:  # a map entry's value, when there is one
            values = [(m, i) for m, i in candidates if m.fields[i].number == 2]
            candidates = values or candidates
        message, index = rng.choice(candidates)
        mutation(tree, message.fields[index], rng)
    return encode(tree)


def _bytes_mutation(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return rng.randbytes(rng.randint(1, 16))
    at = rng.randrange(len(data))
    flip = bytearray(data)
    flip[at] ^= 1 << rng.randrange(8)
    return rng.choice([bytes(flip), data[:at], data[:at] + rng.randbytes(4) + data[at:]])


def truncations(data: bytes, rng: random.Random) -> Iterator[bytes]:
    """`data` cut at every offset (at 64 random ones when it is longer than 4 KiB)."""
    cuts = range(len(data)) if len(data) <= 4096 else sorted(rng.sample(range(len(data)), 64))
    return (data[:cut] for cut in cuts)
