"""What the fuzz driver feeds the compiled code: seeds from the real encoders, inputs at the
edges of its limits, the inputs of bugs found (regressions), and the repeated calls that
show it keeps no memory or references (leaks)."""

from __future__ import annotations

import contextlib
import gc
import random
import sys
import tracemalloc
from typing import Any

from meridian.model import item_bytes, replicated_bytes, schema
from meridian.model.items import MAX_DEPTH, MAX_ITEM_BYTES
from meridian.pb import node_pb2 as pb
from tests.fuzz.mutate import NUMBERS
from tests.fuzz.wire import LEN, varint
from tests.unit import test_item_key as keyed
from tests.unit import test_replicated_bytes as records
from tests.unit.test_item_bytes import random_item

ORIGIN = records.ORIGIN
LEAK_BOUND = 256 * 1024  # bytes the compiled calls may leave behind (free lists, caches)


def _value(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return bytes([number << 3 | LEN]) + varint(len(payload)) + payload


def _entry(name: bytes, value: bytes) -> bytes:
    return _value(1, _value(1, name) + _value(2, value))


def _nested(depth: int, rng: random.Random) -> bytes:
    """An AttributeValue nesting maps and lists `depth` levels."""
    value = _value(1, b"x")
    for _ in range(depth):
        value = (
            _value(7, _entry(b"a", value)) if rng.random() < 0.5 else _value(6, _value(1, value))
        )
    return value


def edge_item(rng: random.Random) -> bytes:
    """An item at one of the check's limits: nesting, size, count, numbers."""
    kind = rng.randrange(5)
    if kind == 0:
        return _entry(b"a", _nested(rng.choice([MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1]), rng))
    if kind == 1:  # about MAX_ITEM_BYTES of binary
        size = MAX_ITEM_BYTES - rng.choice([16, 8, 0, -8])
        return _entry(b"b", _value(3, b"\0" * size))
    if kind == 2:  # many names: the sorted duplicate check
        count = rng.choice([15, 16, 17, 1000, 30000])
        names = [str(n).encode() for n in range(count)]
        if rng.random() < 0.5:
            names[rng.randrange(count)] = names[rng.randrange(count)]
        return b"".join(_entry(name, _value(5, b"\x01")) for name in names)
    if kind == 3:  # a number set of spellings at the limits
        members = sorted({rng.choice(NUMBERS) for _ in range(rng.randint(1, 4))})
        return _entry(b"n", _value(9, b"".join(_value(1, m.encode()) for m in members)))
    return _entry(b"n", _value(2, rng.choice(NUMBERS).encode()))


def item_seed(rng: random.Random) -> bytes:
    """A serialized item: random (often invalid), valid and normalized, or at a limit."""
    kind = rng.random()
    if kind < 0.3:
        return random_item(rng).SerializeToString()
    if kind < 0.85:
        return records._valid_item(rng).SerializeToString()
    return edge_item(rng)


def schema_seed(rng: random.Random) -> schema.Schema:
    return records._schema(rng)


def record_seed(sch: schema.Schema, rng: random.Random, previous: int) -> bytes:
    return records._record(sch, rng, previous).SerializeToString()


def key_seed(rng: random.Random) -> tuple[schema.Schema, bytes]:
    """A schema and a serialized item holding its key attributes (most of the time), of the
    key's type or not, at and past the key's limits."""
    sch = keyed._schema(rng)
    item = records._valid_item(rng) if rng.random() < 0.7 else random_item(rng)
    for name, key_type in [(sch.pk_name, sch.pk_type), (sch.sk_name, sch.sk_type)]:
        if name and rng.random() < 0.97:
            item.attributes[name].CopyFrom(keyed._key_value(key_type, rng))
    return sch, item.SerializeToString()


KEY_ARG_EDGES: list[Any] = [-1, 0, 1, 2, 3, 4, 1024, 2048, 2049, 1 << 62, 1 << 70, None, "1"]
KEY_NAME_EDGES: list[Any] = ["", "\0", "\ud800", "x" * 3000, b"pk", None]


def key_args(sch: schema.Schema, data: bytes, rng: random.Random) -> tuple[Any, ...]:
    """item_key's compiled arguments as item_bytes.item_key passes them, one sometimes
    changed: key types and limits at and past C's and the schema's, odd names."""
    args: list[Any] = [data, sch.pk_name, sch.pk_type, 2048, sch.sk_name or "", sch.sk_type, 1024]
    if rng.random() < 0.5:
        at = rng.randrange(1, 7)
        args[at] = rng.choice(KEY_NAME_EDGES if at in (1, 4) else KEY_ARG_EDGES)
    return tuple(args)


INT_EDGES: list[Any] = [-1, 1 << 63, (1 << 64) - 1, 1 << 64, 1 << 100, True, 1.0, None]


def entries_seed(rng: random.Random) -> list[Any]:
    """entries' arguments as the node passes them, sometimes one outside their domain."""
    args = records._entries_args(rng)
    if rng.random() < 0.3:
        at = rng.randrange(len(args))
        if at in (2, 8, 9, 12):
            args[at] = rng.choice(INT_EDGES)
        elif at in (10, 11):
            args[at] = rng.choice(["\ud800", "a\udfff", b"x", None])
        elif at == 1:
            args[at] = rng.choice([0, 2, None, "", [0]])
        else:
            args[at] = rng.choice([None, "x", bytearray(b"x"), b"", b"\0" * 70000])
    return args


LAYOUT_INTS: list[Any] = [
    -1,
    0,
    1,
    2,
    3,
    4,
    64,
    2048,
    1 << 31,
    1 << 63,
    1 << 64,
    1 << 70,
    -(1 << 70),
]


def layout_seed(sch: schema.Schema, rng: random.Random) -> tuple[bytes, Any]:
    """A key layout as replicated_bytes.layout gives it, one of its parts sometimes changed:
    integers at and past C's limits, other types, other shapes."""
    prefix, parts = replicated_bytes.layout(sch)
    changed: list[Any] = [list(part) for part in parts]
    part = rng.choice(changed)
    at = rng.randrange(3)
    kind = rng.random()
    if kind < 0.6:
        part[at] = rng.choice(LAYOUT_INTS) if at else rng.choice([b"", b"\0", b"pk" * 200])
    elif kind < 0.8:
        part[at] = rng.choice([None, "pk", 2.0, b"x", (1,)])
    else:
        del part[at]
    shaped = tuple(tuple(p) for p in changed)
    return rng.choice([prefix, b"", b"p" * 300]), rng.choice([shaped, shaped * 2, list(shaped)])


def in_domain(args: list[Any]) -> bool:
    """Whether entries' arguments are of the kinds the node passes: bytes (None where
    optional), integers of 64 bits, strings that encode."""
    optional = {5, 6, 7}
    for at in (0, 3, 4, 5, 6, 7):
        if not (type(args[at]) is bytes or (at in optional and args[at] is None)):
            return False
    for at in (2, 8, 9, 12):
        if type(args[at]) not in (int, bool) or not 0 <= args[at] < 1 << 64:
            return False
    for at in (10, 11):
        if type(args[at]) is not str or any(0xD800 <= ord(c) < 0xE000 for c in args[at]):
            return False
    return True


def comparable(scanned: replicated_bytes.Scanned) -> tuple[object, ...]:
    """A scan's fields, the keys as a message (protobuf orders a map's entries its own way;
    the compiled scan keeps the record's)."""
    return (*scanned[:8], pb.Item.FromString(scanned.keys), *scanned[9:])


Corpus = list[tuple[Any, tuple[Any, ...]]]


def _corpus() -> Corpus:
    """Calls of each compiled function, accepted, refused and raising."""
    rng = random.Random(7)
    compiled = replicated_bytes._compiled
    calls: Corpus = []
    for _ in range(40):
        calls.append((item_bytes._compiled, (item_seed(rng),)))
        sch = schema_seed(rng)
        raw = record_seed(sch, rng, 0)
        calls.append((compiled.scan_replicated, (raw, *replicated_bytes.layout(sch))))
        calls.append(
            (compiled.scan_replicated, (raw[: len(raw) // 2], *replicated_bytes.layout(sch)))
        )
        calls.append((compiled.replicated_entries, tuple(entries_seed(rng))))
        key_schema, item = key_seed(rng)
        calls.append((compiled.item_key, key_args(key_schema, item, rng)))
    calls.append((item_bytes._compiled, ("not bytes",)))
    calls.append((compiled.scan_replicated, (b"", b"", "not a tuple")))
    return calls


def _call(function: Any, args: tuple[Any, ...]) -> None:
    """One call; an error (refused arguments) is one of the outcomes whose memory counts."""
    with contextlib.suppress(Exception):
        function(*args)


def leaks(calls: int, corpus: Corpus | None = None) -> int:
    """Repeat the calls of `corpus` (default: of each compiled function, accepted, refused
    and raising) `calls` times in all: the bytes still held after them (at most LEAK_BOUND)
    and no reference gained or lost on any argument, None, True or False."""
    corpus = _corpus() if corpus is None else corpus
    for function, args in corpus:  # warm up: caches, interned objects, free lists
        _call(function, args)
    # Small ints are the interpreter's statics (a count near 10**9), shared by all its code.
    watched = [o for _, args in corpus for o in args if sys.getrefcount(o) < 10**8]
    watched += [None, True, False]
    tracemalloc.start()
    gc.collect()
    before = [sys.getrefcount(obj) for obj in watched]
    start = tracemalloc.get_traced_memory()[0]
    for n in range(calls):
        function, args = corpus[n % len(corpus)]
        _call(function, args)
    gc.collect()
    growth = tracemalloc.get_traced_memory()[0] - start
    after = [sys.getrefcount(obj) for obj in watched]
    tracemalloc.stop()
    # One reference per call of one corpus entry shows as calls / len(corpus); less is
    # other code's (small ints and the singletons are shared by the whole interpreter).
    bound = max(2, calls // (4 * len(corpus)))
    counts = zip(watched, before, after, strict=True)
    changed = [(repr(o)[:60], b, a) for o, b, a in counts if abs(a - b) > bound]
    assert not changed, f"references gained or lost by the compiled calls: {changed}"
    assert growth <= LEAK_BOUND, f"{calls} compiled calls kept {growth} bytes"
    return growth
