"""Protobuf's wire format as a tree, for structure-aware mutations: a message is a list of
fields; a length-delimited payload that parses as a message is kept as one (so that a
mutation deep inside a record's new image re-encodes every enclosing length), else as bytes.
A field may carry the raw bytes of its tag and of its length (or varint value), to write
them wrong on purpose."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

VARINT, FIXED64, LEN, FIXED32 = 0, 1, 2, 5  # groups (3, 4) are not read: not a message
VERBATIM = -1  # not a wire type: the field's value is its whole encoding, written as is

Payload = Union[int, bytes, "Message"]


@dataclass
class Field:
    number: int
    wire: int
    value: Payload  # int (varint, fixed), bytes or Message (length-delimited)
    tag: bytes | None = None  # written instead of the tag when set
    raw: bytes | None = None  # written instead of the length (or of a varint's value) when set


@dataclass
class Message:
    fields: list[Field] = field(default_factory=list)


def varint(value: int) -> bytes:
    """Base-128, of the low 64 bits of `value` (negative numbers as protobuf writes int64)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def overlong(value: int, size: int) -> bytes:
    """`value` spelled in `size` bytes (size >= its minimal length; beyond 10 bytes the
    varint is longer than protobuf allows)."""
    groups = [(value >> (7 * i)) & 0x7F for i in range(size)]
    return bytes(g | 0x80 for g in groups[:-1]) + bytes([groups[-1]])


def _read_varint(data: bytes, at: int) -> tuple[int, int] | None:
    """The varint at `at` and the offset after it; None unless minimal and of 64 bits (so
    that a tree always writes back the bytes it was read from)."""
    value = shift = 0
    start = at
    while at < len(data) and shift < 70:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            minimal = at - start == len(varint(value))
            return (value, at) if minimal and value < 1 << 64 else None
        shift += 7
    return None


def parse(data: bytes, depth: int = 0) -> Message | None:
    """The message tree of `data`, or None when it is not a well-formed message (then a
    payload stays bytes)."""
    out, at = Message(), 0
    while at < len(data):
        tag = _read_varint(data, at)
        if tag is None or tag[0] >> 3 == 0:
            return None
        at, number, wire = tag[1], tag[0] >> 3, tag[0] & 7
        value: Payload
        if wire == VARINT:
            read = _read_varint(data, at)
            if read is None:
                return None
            value, at = read
        elif wire in (FIXED64, FIXED32):
            size = 8 if wire == FIXED64 else 4
            if at + size > len(data):
                return None
            value, at = int.from_bytes(data[at : at + size], "little"), at + size
        elif wire == LEN:
            read = _read_varint(data, at)
            if read is None or read[1] + read[0] > len(data):
                return None
            raw = data[read[1] : read[1] + read[0]]
            at = read[1] + read[0]
            inner = parse(raw, depth + 1) if raw and depth < 64 else None
            value = inner if inner is not None else raw
        else:
            return None
        out.fields.append(Field(number, wire, value))
    return out


def encode(message: Message) -> bytes:
    return b"".join(_encode_field(f) for f in message.fields)


def _encode_field(f: Field) -> bytes:
    if f.wire == VERBATIM and isinstance(f.value, bytes):
        return f.value
    tag = f.tag if f.tag is not None else varint(f.number << 3 | f.wire)
    value = f.value
    if isinstance(value, Message):
        payload = encode(value)
    elif isinstance(value, bytes):
        payload = value
    elif f.wire == FIXED64:
        return tag + (value & (1 << 64) - 1).to_bytes(8, "little")
    elif f.wire == FIXED32:
        return tag + (value & (1 << 32) - 1).to_bytes(4, "little")
    else:
        return tag + (f.raw if f.raw is not None else varint(value))
    return tag + (f.raw if f.raw is not None else varint(len(payload))) + payload


def fields(message: Message) -> list[tuple[Message, int]]:
    """Every field of the tree as (its message, its index), depth first."""
    out: list[tuple[Message, int]] = []
    for index, f in enumerate(message.fields):
        out.append((message, index))
        if isinstance(f.value, Message):
            out.extend(fields(f.value))
    return out
