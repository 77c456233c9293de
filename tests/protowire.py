"""Protobuf requests encoded by hand, for tests: protobuf itself refuses to build (or to
serialize) the malformed and too deeply nested messages these tests send."""

from __future__ import annotations


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    size, length = bytearray(), len(payload)
    while True:
        size.append((length & 0x7F) | (0x80 if length > 0x7F else 0))
        length >>= 7
        if not length:
            break
    return bytes([number << 3 | 2]) + bytes(size) + payload


def entry(name: str, value: bytes) -> bytes:
    return field(1, name.encode()) + field(2, value)


def nested_map(depth: int) -> bytes:
    """An AttributeValue whose maps nest `depth` levels."""
    value = field(1, b"bottom")  # s
    for _ in range(depth):
        value = field(7, field(1, entry("a", value)))  # m { fields { a: value } }
    return value


def nested_list(depth: int) -> bytes:
    """An AttributeValue whose lists nest `depth` levels."""
    value = field(1, b"bottom")
    for _ in range(depth):
        value = field(6, field(1, value))  # l { values: [value] }
    return value


def string(text: bytes) -> bytes:
    return field(1, text)


def put_request(value: bytes, table: bytes = b"orders") -> bytes:
    """A PutItemRequest whose item has keys pk (S) and sk (N) and the attribute `deep`."""
    attributes = (("pk", string(b"k")), ("sk", field(2, b"1")), ("deep", value))
    item = b"".join(field(1, entry(name, v)) for name, v in attributes)
    return field(1, table) + field(2, item)
