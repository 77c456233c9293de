"""The inputs of bugs found in the compiled code, kept: tests.fuzz.driver runs them first
(under the sanitizers), tests/unit/test_replicated_bytes.py on the installed module."""

from __future__ import annotations

from typing import Any

from meridian.model import replicated_bytes
from meridian.pb import node_pb2 as pb

ORIGIN = "eu"


def long_key_record() -> bytes:
    """A REMOVE whose string key, then number key, fill the storage key's buffer (8,192
    bytes) to its end when a key part's byte limit is above the schema's."""
    record = pb.ReplicatedRecord(event_name=pb.REMOVE, sequence_number=1)
    record.version.hlc, record.version.region = 5, ORIGIN
    record.keys.attributes["pk"].s = "\0" * 4090
    record.keys.attributes["sk"].n = "-0.00000" + "9" * 38
    return record.SerializeToString()


BAD_LAYOUTS: list[Any] = [
    (),
    ((b"pk",),),
    (("pk", 1, 2048),),
    ((b"pk", "1", 2048),),
    ((b"pk", 1, None),),
    [(b"pk", 1, 2048)],
    ((b"pk", 1, 2048),) * 3,
]


def number_key_record() -> bytes:
    """A REMOVE of the number key 7."""
    record = pb.ReplicatedRecord(event_name=pb.REMOVE, sequence_number=1)
    record.version.hlc, record.version.region = 5, ORIGIN
    record.keys.attributes["pk"].n = "7"
    return record.SerializeToString()


OVERFLOWING_LAYOUTS: list[Any] = [((b"pk", pb.KEY_TYPE_N, 1 << 70),), ((b"pk", 1 << 70, 64),)]


def check() -> None:
    """The inputs of bugs the fuzzing found: each must pass (under the sanitizers: without a
    report)."""
    compiled = replicated_bytes._compiled
    # A number key wrote past the storage key's stack buffer.
    layout = ((b"pk", pb.KEY_TYPE_S, 10**6), (b"sk", pb.KEY_TYPE_N, 64))
    assert compiled.scan_replicated(long_key_record(), b"p" * 8, layout) is None
    # A key schema of other shapes was read as tuples of bytes and ints.
    for parts in BAD_LAYOUTS:
        try:
            compiled.scan_replicated(long_key_record(), b"p", parts)
        except TypeError:
            continue
        raise AssertionError(f"layout {parts!r} accepted")
    # A number key's limit beyond C's integers gave a key with OverflowError pending.
    for parts in OVERFLOWING_LAYOUTS:
        try:
            compiled.scan_replicated(number_key_record(), b"p", parts)
        except OverflowError:
            continue
        raise AssertionError(f"layout {parts!r} accepted")
