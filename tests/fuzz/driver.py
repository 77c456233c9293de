"""The fuzz driver: seeded structure-aware mutations of real items and replicated records
(the encoders' output), each given to the compiled code and to the Python code, which must
agree; then the compiled calls repeated to show they keep no memory or references.

tests.fuzz.build builds the sanitized module and runs this under the sanitizers (`make
fuzz`); run directly, it fuzzes the installed module. A sanitizer report aborts the process;
a disagreement exits 1 with the input in hex.

    python -m tests.fuzz.build --inputs 200000 --seed 1
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from tests.fuzz.sanitized import load_sanitized

load_sanitized()

from meridian.model import item_bytes, replicated_bytes, schema  # noqa: E402
from meridian.model.items import ItemError  # noqa: E402
from meridian.pb import node_pb2 as pb  # noqa: E402
from meridian.wire.errors import MalformedRequest  # noqa: E402
from regionnode.replicated_apply import _follows, scan_checked  # noqa: E402
from tests.fuzz import cases, regressions  # noqa: E402
from tests.fuzz.mutate import mutate, truncations  # noqa: E402

ORIGIN = cases.ORIGIN
KINDS = ["items", "records", "layouts", "entries", "keys", "key args"]


class Disagreement(AssertionError):
    """The compiled code and Python disagree on an input."""


def check_item(data: bytes) -> bool:
    """The compiled item check says True only for what the Python fallback accepts; its
    verdict."""
    fast = item_bytes._compiled
    assert fast is not None
    accepted = bool(fast(data))
    if accepted and not item_bytes._parse_and_check(data):
        raise Disagreement(f"item accepted by the compiled check only: {data.hex()}")
    return accepted


def _python_scan(sch: schema.Schema, data: bytes, previous: int) -> replicated_bytes.Scanned | None:
    try:
        return scan_checked(sch, data, ORIGIN, previous)
    except (ItemError, MalformedRequest):
        return None


def check_record(sch: schema.Schema, data: bytes, previous: int) -> bool:
    """The compiled scan gives a record's fields only when Python gives the same ones;
    whether it gave them."""
    prefix, parts = replicated_bytes.layout(sch)
    fast = replicated_bytes.scan(data, prefix, parts)
    python = _python_scan(sch, data, previous)
    if fast is None or not _follows(fast, ORIGIN, previous):
        return False
    if python is None:
        raise Disagreement(f"record accepted by the compiled scan only: {data.hex()}")
    if cases.comparable(fast) != cases.comparable(python):
        raise Disagreement(f"record scanned otherwise: {data.hex()}\n{fast}\n{python}")
    return True


def check_entries(args: list[Any]) -> bool:
    """The compiled entries write entries_python's bytes, or raise where it raises (or, for
    an argument outside what entries_python takes, raise at all); whether they wrote."""
    compiled = replicated_bytes._compiled
    assert compiled is not None
    expected: object
    try:
        expected = replicated_bytes.entries_python(*args)
    except Exception as exc:  # any error: the compiled code must raise too
        expected = type(exc)
    try:
        got: object = compiled.replicated_entries(*args)
    except Exception as exc:
        got = type(exc)
    if got != expected and not (isinstance(got, type) and not cases.in_domain(args)):
        raise Disagreement(f"entries differ: {args!r}: {got!r} != {expected!r}")
    return not isinstance(got, type)


def check_layout(data: bytes, prefix: bytes, parts: Any) -> bool:
    """A key layout of another shape or with integers past C's: the compiled scan gives
    fields or None, or raises TypeError or OverflowError (never a result with an error
    pending, which Python reports as SystemError); whether it gave fields."""
    try:
        return replicated_bytes._compiled.scan_replicated(data, prefix, parts) is not None
    except (TypeError, OverflowError):
        return False


def _extract(sch: schema.Schema, data: bytes) -> tuple[bytes, Any] | None:
    try:
        return sch.extract(pb.Item.FromString(data))
    except ItemError:
        return None


def check_item_key(sch: schema.Schema, data: bytes) -> bool:
    """For an item the compiled check accepts, the compiled key is `Schema.extract`'s
    storage key and key attributes, or None (Python decides); a key where `Schema.extract`
    refuses is a wrong verdict. Whether it gave a key."""
    if not check_item(data):
        return False  # the put path extracts in Python
    fast = item_bytes.item_key(data, sch)
    if fast is None:
        return False
    python = _extract(sch, data)
    if python is None:
        raise Disagreement(f"key read off an item Schema.extract refuses: {data.hex()}")
    if fast != python:
        raise Disagreement(f"key read otherwise: {data.hex()}\n{fast}\n{python}")
    return True


def check_key_args(args: tuple[Any, ...]) -> bool:
    """item_key's compiled function on any bytes (not checked first) and arguments outside
    what item_bytes passes: bytes or None, or TypeError, OverflowError or ValueError (never
    a result with an error pending); whether it gave a key."""
    try:
        found = item_bytes._item_key(*args)  # type: ignore[misc]
    except (TypeError, OverflowError, ValueError):
        return False
    if found is not None and not all(type(part) is bytes for part in found):
        raise Disagreement(f"item_key gave {found!r} for {args!r}")
    return found is not None


def inputs(seed: int) -> Iterator[tuple[str, Callable[[], bool]]]:
    """An endless seeded stream of checks (what each checks, the check): seeds, their
    mutations and truncations."""
    rng = random.Random(seed)
    while True:
        kind = rng.random()
        if kind < 0.35:
            data = cases.item_seed(rng)
            variants = truncations(data, rng) if rng.random() < 0.02 else [data, mutate(data, rng)]
            for variant in variants:
                yield "items", lambda v=variant: check_item(v)  # type: ignore[misc]
        elif kind < 0.75:
            sch, previous = cases.schema_seed(rng), rng.choice([0, 0, 10])
            data = cases.record_seed(sch, rng, previous)
            variants = truncations(data, rng) if rng.random() < 0.02 else [data, mutate(data, rng)]
            for variant in variants:
                yield "records", lambda v=variant, s=sch, p=previous: check_record(s, v, p)  # type: ignore[misc]
        elif kind < 0.85:
            sch, data = cases.key_seed(rng)
            for variant in [data, mutate(data, rng)]:
                yield "keys", lambda v=variant, s=sch: check_item_key(s, v)  # type: ignore[misc]
                key_args = cases.key_args(sch, variant, rng)
                yield "key args", lambda a=key_args: check_key_args(a)  # type: ignore[misc]
        elif kind < 0.88:
            sch = cases.schema_seed(rng)
            data, layout = cases.record_seed(sch, rng, 0), cases.layout_seed(sch, rng)
            yield "layouts", lambda d=data, la=layout: check_layout(d, *la)  # type: ignore[misc]
        else:
            args = cases.entries_seed(rng)
            yield "entries", lambda a=args: check_entries(a)  # type: ignore[misc]


def fuzz(count: int, seed: int) -> Counter[str]:
    """Run `count` checks: how many of each kind, and how many the compiled code accepted
    (the path where a disagreement would be a wrong verdict)."""
    stream, counts = inputs(seed), Counter[str]()
    for _ in range(count):
        kind, check = next(stream)
        counts[kind] += 1
        counts[kind + " accepted"] += check()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--leak-calls", type=int, default=100_000)
    args = parser.parse_args()
    if (
        item_bytes._compiled is None
        or item_bytes._item_key is None
        or not replicated_bytes.COMPILED
    ):
        sys.exit("the compiled module is not loaded: nothing to fuzz")
    started = time.monotonic()
    try:
        regressions.check()
        counts = fuzz(args.inputs, args.seed)
        growth = cases.leaks(args.leak_calls)
    except Disagreement:
        traceback.print_exc()
        sys.exit(1)
    sanitized = "sanitized" if os.environ.get("MERIDIAN_SANITIZED_MODULE") else "installed"
    kinds = ", ".join(f"{counts[k]} {k} ({counts[k + ' accepted']} accepted)" for k in KINDS)
    print(
        f"fuzz: {args.inputs} inputs (seed {args.seed}) on the {sanitized} module: {kinds}; "
        f"{args.leak_calls} calls held {growth} bytes; {time.monotonic() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
