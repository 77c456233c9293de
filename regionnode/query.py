"""Key ranges for Query and Scan: pure functions from a request to storage-key bounds."""

from __future__ import annotations

import zlib

from meridian.expressions import SortCondition
from meridian.model import keys
from meridian.model.items import ItemError
from meridian.model.schema import Schema
from meridian.pb import node_pb2 as pb


def successor(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with `prefix`."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\xff" * (len(prefix) + 1)
    return stripped[:-1] + bytes([stripped[-1] + 1])


def sort_range(schema: Schema, prefix: bytes, cond: SortCondition | None) -> tuple[bytes, bytes]:
    """[low, high) of storage keys matching a partition prefix and a sort-key condition
    (None: the whole partition)."""
    if cond is None:
        return prefix, successor(prefix)
    if schema.sk_name is None:
        raise ItemError(f"sort_key: table {schema.name!r} has no sort key")
    name, kind = schema.sk_name, schema.sk_type
    if cond.op == "BEGINS_WITH":
        if kind == pb.KEY_TYPE_N:
            raise ItemError(f"sort_key {name!r}: begins_with needs a string or binary key")
        low = prefix + keys.encode_prefix(kind, cond.value, name)
        return low, successor(low)
    keys.check_type(kind, cond.value, name, 1024)
    at = prefix + keys.encode_component(kind, cond.value, name)
    end = successor(prefix)
    if cond.op == "EQ":
        return at, at + b"\x00"
    if cond.op == "LT":
        return prefix, at
    if cond.op == "LE":
        return prefix, at + b"\x00"
    if cond.op == "GT":
        return at + b"\x00", end
    if cond.op == "GE":
        return at, end
    if cond.op == "BETWEEN" and cond.high is not None:
        keys.check_type(kind, cond.high, name, 1024)
        upper = prefix + keys.encode_component(kind, cond.high, name)
        if upper < at:
            raise ItemError(f"sort_key {name!r}: BETWEEN bounds are in the wrong order")
        return at, upper + b"\x00"
    raise ItemError(f"sort_key {name!r}: unknown operator {cond.op}")


def resume(low: bytes, high: bytes, start: bytes | None, backward: bool) -> tuple[bytes, bytes]:
    """Narrow [low, high) to what comes after an exclusive start key."""
    if start is None:
        return low, high
    if backward:
        return low, min(high, start)
    return max(low, start + b"\x00"), high


def in_segment(partition_prefix: bytes, segment: int, total: int) -> bool:
    """Parallel scan: a partition belongs to exactly one of `total` segments."""
    return total <= 1 or zlib.crc32(partition_prefix) % total == segment
