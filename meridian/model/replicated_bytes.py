"""A replicated record's per-record work on its bytes: its fields read and checked
(`scan`), and the stored item and stream record of a winner built (`entries`).

The compiled module (meridian/model/_replicated.c) does both in one call each. `scan` is a
fast accept: it gives the record's fields only when the node's Python checks
(regionnode/replicated_apply.py `scan_checked`) would accept them and give the same ones, and
None otherwise (the caller then asks Python, which gives the verdict and its exact error).
Without the compiled module `scan` always says None, and `entries` is `entries_python`,
which writes the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from meridian.model import schema
from meridian.model.item_bytes import compiled_module
from meridian.pb import node_pb2 as pb


class Scanned(NamedTuple):
    """What the node needs of a replicated record (the compiled scan returns a struct
    sequence with the same fields)."""

    raw: bytes  # the record's bytes
    key: bytes  # its storage key
    sequence: int  # the origin's sequence number
    hlc: int  # its version's clock
    region: str  # its version's region (the origin)
    event_name: int
    creation_time_ms: int
    version: bytes  # a serialized pb.Version
    keys: bytes  # a serialized pb.Item: the key attributes
    new_image: bytes  # a serialized pb.Item (b"" for REMOVE)
    user_identity: bytes | None  # a serialized pb.UserIdentity, when the record has one
    attributes: bytes | None  # a serialized pb.AttributeState, when the record has one


Layout = tuple[bytes, tuple[tuple[bytes, int, int], ...]]


def layout(sch: schema.Schema) -> Layout:
    """The key schema as the compiled scan reads it: the storage key prefix, then (name,
    key type, byte limit) per key attribute."""
    parts = [(sch.pk_name.encode(), sch.pk_type, schema.MAX_PARTITION_KEY_BYTES)]
    if sch.sk_name:
        parts.append((sch.sk_name.encode(), sch.sk_type, schema.MAX_SORT_KEY_BYTES))
    return sch.prefix, tuple(parts)


_compiled = compiled_module()
if not hasattr(_compiled, "scan_replicated"):  # a module built before the scan
    _compiled = None
COMPILED = _compiled is not None
"""Whether this process runs the compiled scan and entries."""


def _no_scan(data: bytes, prefix: bytes, parts: tuple[tuple[bytes, int, int], ...]) -> None:
    return None


scan: Callable[[bytes, bytes, tuple[tuple[bytes, int, int], ...]], Scanned | None] = (
    _compiled.scan_replicated if COMPILED else _no_scan
)
"""scan(data, *layout(schema)): the fields of the serialized ReplicatedRecord `data` when
they are known valid, else None (ask Python)."""

_EXPIRY_IDENTITY = pb.UserIdentity(
    type="Service", principal_id="dynamodb.amazonaws.com"
).SerializeToString()


def is_expiry(user_identity: bytes | None) -> bool:
    """ttl.is_expiry of a record whose user identity is given serialized as protobuf writes
    it (the compiled scan accepts no other encoding; Python's scan serializes it)."""
    return user_identity == _EXPIRY_IDENTITY


def varint(value: int) -> bytes:
    """Protobuf's base-128 encoding of a non-negative integer."""
    if value < 0x80:
        return bytes((value,))
    if value < 0x4000:  # the size of most records and items
        return bytes((value & 0x7F | 0x80, value >> 7))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def length_delimited(tag: bytes, data: bytes) -> bytes:
    """The encoding of a length-delimited field (its length inline up to the two bytes of
    an item of the size of most: a call less per field on the hot paths)."""
    size = len(data)
    if size < 0x80:
        return tag + bytes((size,)) + data
    if size < 0x4000:
        return tag + bytes((size & 0x7F | 0x80, size >> 7)) + data
    return tag + varint(size) + data


def entries_python(
    version: bytes,
    removed: bool,
    written_ms: int,
    keys: bytes,
    new_image: bytes,
    old_image: bytes | None,
    user_identity: bytes | None,
    attributes: bytes | None,
    event_name: int,
    sequence: int,
    event_id: str,
    table: str,
    view_type: int,
) -> tuple[bytes, bytes]:
    """The serialized StoredItem (version, tombstone, written time, the item: the new image
    or, for a tombstone, the keys; attributes) and this region's StreamRecord (its head in
    field order, the images, then its size: the size of what precedes it) of a record that
    won. The same bytes as the messages' encodings with those fields set."""
    stored = length_delimited(b"\x0a", version)
    stored += b"\x10\x01" if removed else b""
    stored += b"\x20" + varint(written_ms) if written_ms else b""
    stored += length_delimited(b"\x1a", keys if removed else new_image)
    stored += length_delimited(b"\x2a", attributes) if attributes is not None else b""
    head = length_delimited(b"\x0a", event_id.encode()) if event_id else b""
    head += b"\x10" + varint(event_name) if event_name else b""
    head += b"\x18" + varint(sequence) if sequence else b""
    head += b"\x20" + varint(written_ms) if written_ms else b""
    head += length_delimited(b"\x4a", version)
    head += length_delimited(b"\x52", table.encode()) if table else b""
    head += b"\x58" + varint(view_type) if view_type else b""
    head += length_delimited(b"\x62", user_identity) if user_identity is not None else b""
    record = head + length_delimited(b"\x2a", keys)
    record += b"" if removed else length_delimited(b"\x32", new_image)
    record += length_delimited(b"\x3a", old_image) if old_image is not None else b""
    record += length_delimited(b"\x6a", attributes) if attributes is not None else b""
    return stored, record + b"\x40" + varint(len(record))


entries: Callable[..., tuple[bytes, bytes]] = (
    _compiled.replicated_entries if COMPILED else entries_python
)
"""entries_python, compiled when the module is there."""
