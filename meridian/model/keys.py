"""Order-preserving, prefix-free byte encodings of key attribute values.

For two values of the same key type, the bytewise order of their encodings is DynamoDB's
order (strings by UTF-8 bytes, binaries by unsigned bytes, numbers numerically). No encoding
is a proper prefix of another, so a partition key and a sort key can be concatenated and the
result still sorts by (partition key, sort key).

S and B: the bytes with 0x00 escaped as 0x00 0xFF, then the terminator 0x00 0x01, which sorts
below any continuation.

N: a sign byte (negative < zero < positive); zero is the sign byte alone. Otherwise a 2-byte
biased exponent, one ASCII byte per significant digit and the terminator 0x00; for negative
numbers every byte after the sign byte is complemented, so the terminator becomes 0xFF and
larger magnitudes sort first.
"""

from __future__ import annotations

import decimal
import struct

from meridian.model.items import MAX_DIGITS, ItemError, normalize_number, number
from meridian.pb import node_pb2 as pb

_KINDS: dict[int, str] = {pb.KEY_TYPE_S: "s", pb.KEY_TYPE_N: "n", pb.KEY_TYPE_B: "b"}

_TERMINATOR = b"\x00\x01"
_NEGATIVE, _ZERO, _POSITIVE = b"\x01", b"\x02", b"\x03"
_EXPONENT = struct.Struct(">H")
_EXPONENT_BIAS = 0x8000
# Canonical numbers have at most MAX_DIGITS digits, so normalizing in this context is exact.
_CONTEXT = decimal.Context(prec=MAX_DIGITS)


def _error(path: str, message: str) -> ItemError:
    return ItemError(f"key attribute '{path}': {message}")


def _kind(key_type: int, value: pb.AttributeValue, path: str) -> str:
    """The value's oneof field name, after checking that it matches the key type."""
    expected = _KINDS.get(key_type)
    if expected is None:
        raise _error(path, f"unsupported key type {key_type}")
    actual = value.WhichOneof("value")
    if actual != expected:
        got = "no type" if actual is None else actual.upper()
        raise _error(path, f"expected type {expected.upper()}, got {got}")
    return expected


def _data(kind: str, value: pb.AttributeValue) -> bytes:
    return value.s.encode() if kind == "s" else value.b


def check_type(key_type: int, value: pb.AttributeValue, path: str, max_len: int = 2048) -> None:
    """Raise ItemError unless ``value`` can be a key of this type.

    S and B keys must be non-empty and at most ``max_len`` bytes (2048 for partition keys;
    sort keys pass 1024).
    """
    kind = _kind(key_type, value, path)
    if kind != "n":
        _check_size(_data(kind, value), path, max_len)


def _check_size(data: bytes, path: str, max_len: int) -> None:
    if not data:
        raise _error(path, "must not be empty")
    if len(data) > max_len:
        raise _error(path, f"{len(data)} bytes exceeds the {max_len}-byte limit")


def _escape(data: bytes) -> bytes:
    return data.replace(b"\x00", b"\x00\xff")


_COMPLEMENT = bytes(0xFF - x for x in range(256))


def _encode_number(text: str, path: str) -> bytes:
    canonical = normalize_number(path, text)
    if canonical == "0":
        return _ZERO
    if "E" in canonical:
        d = number(canonical).normalize(_CONTEXT)
        negative, digits, _ = d.as_tuple()
        adjusted, significant = d.adjusted(), bytes(0x30 + x for x in digits)
    else:  # positional: read the digits and exponent off the text, no Decimal needed
        negative = canonical[0] == "-"
        whole, _, fraction = canonical.lstrip("-").partition(".")
        if whole == "0":
            significant = fraction.lstrip("0").encode()
            adjusted = len(significant) - len(fraction) - 1
        else:
            significant = (whole + fraction).rstrip("0").encode()
            adjusted = len(whole) - 1
    body = _EXPONENT.pack(adjusted + _EXPONENT_BIAS) + significant
    if negative:
        return _NEGATIVE + body.translate(_COMPLEMENT) + b"\xff"
    return _POSITIVE + body + b"\x00"


def encode_checked(key_type: int, value: pb.AttributeValue, path: str, max_len: int) -> bytes:
    """check_type, then encode_component, looking at the value once."""
    kind = _kind(key_type, value, path)
    if kind == "n":
        return _encode_number(value.n, path)
    data = _data(kind, value)
    _check_size(data, path, max_len)
    return _escape(data) + _TERMINATOR


def encode_component(key_type: int, value: pb.AttributeValue, path: str) -> bytes:
    """The order-preserving, prefix-free encoding of a key value of the given type."""
    kind = _kind(key_type, value, path)
    if kind == "n":
        return _encode_number(value.n, path)
    return _escape(_data(kind, value)) + _TERMINATOR


def encode_prefix(key_type: int, value: pb.AttributeValue, path: str) -> bytes:
    """Bytes that start exactly the encodings of the S or B values beginning with ``value``.

    This is what a begins_with condition scans for; numbers have no such prefix.
    """
    kind = _kind(key_type, value, path)
    if kind == "n":
        raise _error(path, "begins_with needs a string or binary key")
    return _escape(_data(kind, value))
