"""The compiled scan and entries of replicated records (meridian/model/replicated_bytes.py)
against their Python code, over seeded random records and byte mutations of them.

Whenever the compiled scan accepts a record (and Python's own checks of origin, sequence and
clock pass), `scan_checked` must accept it too and give the same fields (the keys item the
same message; Python's serialization of its map may order the entries otherwise, as it did
before the compiled scan, when every record's keys were serialized again); the compiled entries
must be byte for byte `entries_python`'s, which are the messages' encodings.
"""

from __future__ import annotations

import os
import random
from typing import Any

import pytest

from meridian.model import replicated_bytes, schema, ttl
from meridian.model.items import ItemError, normalize_item, validate_item
from meridian.model.replicated_bytes import Scanned
from meridian.pb import node_pb2 as pb
from meridian.wire.errors import MalformedRequest
from regionnode.replicated_apply import MAX_REPLICATED_HLC, _follows, scan_checked
from tests.fuzz import regressions
from tests.unit.test_item_bytes import mutations, random_item, random_number, random_text

ORIGIN = "eu"
KEY_TYPES = [pb.KEY_TYPE_S, pb.KEY_TYPE_N, pb.KEY_TYPE_B]
EXPIRY = pb.UserIdentity(type=ttl.SERVICE_TYPE, principal_id=ttl.SERVICE_PRINCIPAL)
compiled = replicated_bytes._compiled
KEY_NUMBERS = ["0", "7", "-7", "1.5", "-0.001", "100", "-120", "0.000105", "9" * 38, "1E-7"]


def test_compiled_scan_is_loaded_when_required() -> None:
    required = os.environ.get("MERIDIAN_REQUIRE_NATIVE") == "1"
    assert replicated_bytes.COMPILED or not required, "the compiled scan did not load"


def _schema(rng: random.Random) -> schema.Schema:
    spec = pb.TableSpec(
        name=rng.choice(["orders", "t", "é€"]),
        partition_key=pb.KeyAttribute(name=rng.choice(["pk", "id"]), type=rng.choice(KEY_TYPES)),
    )
    if rng.random() < 0.7:
        spec.sort_key.name, spec.sort_key.type = rng.choice(["sk", "é"]), rng.choice(KEY_TYPES)
    return schema.Schema(spec)


def _key_value(key_type: int, rng: random.Random) -> pb.AttributeValue:
    """A value of the key type, sometimes of another type, empty or too long."""
    value = pb.AttributeValue()
    if rng.random() < 0.05:
        key_type = rng.choice(KEY_TYPES)
    if key_type == pb.KEY_TYPE_N:
        value.n = random_number(rng) if rng.random() < 0.3 else rng.choice(KEY_NUMBERS)
    elif key_type == pb.KEY_TYPE_S:
        text = random_text(rng) or "k"
        value.s = text if rng.random() < 0.98 else "x" * rng.choice([1024, 2049])
    else:
        value.b = rng.randbytes(rng.randint(0, 4)) if rng.random() < 0.98 else b"\0" * 2049
    return value


def _record(sch: schema.Schema, rng: random.Random, previous: int) -> pb.ReplicatedRecord:
    """A record of the origin's stream, valid or not in one of many ways."""
    keys = pb.Item()
    for name, key_type in [(sch.pk_name, sch.pk_type), (sch.sk_name, sch.sk_type)]:
        if name and rng.random() < 0.98:
            keys.attributes[name].CopyFrom(_key_value(key_type, rng))
    if rng.random() < 0.03:
        keys.attributes["extra"].s = "x"
    record = pb.ReplicatedRecord(
        event_name=rng.choice([1, 2, 3] * 8 + [0, 7]),
        sequence_number=previous + rng.choice([1] * 15 + [5, 0, -1 if previous else 0]),
        creation_time_ms=rng.choice([0, 1_700_000_000_000]),
        event_id=rng.choice(["", "eu-node.t.9"]),
        table=rng.choice(["", "t"]),
        size_bytes=rng.choice([0, 99]),
        view_type=rng.choice([0, 1, 4]),
    )
    record.keys.CopyFrom(keys)
    if record.event_name != pb.REMOVE or rng.random() < 0.2:
        image = _valid_item(rng)
        for name, value in keys.attributes.items():
            if rng.random() < 0.97:
                image.attributes[name].CopyFrom(value)
        if rng.random() < 0.03 and image.attributes:
            image.attributes[next(iter(image.attributes))].CopyFrom(_key_value(1, rng))
        record.new_image = image.SerializeToString()
    if rng.random() < 0.1:
        record.old_image = random_item(rng).SerializeToString()
    clock = rng.choice([1 << 60] * 15 + [1, MAX_REPLICATED_HLC, 0, (1 << 64) - 1])
    region = rng.choice([ORIGIN] * 15 + ["us", ""])
    if clock or region or rng.random() < 0.5:
        record.version.hlc, record.version.region = clock, region
    if rng.random() < 0.2:
        record.user_identity.CopyFrom(EXPIRY if rng.random() < 0.7 else pb.UserIdentity(type="x"))
    if rng.random() < 0.03:
        record.attributes.deleted.hlc = 5
    return record


def _valid_item(rng: random.Random) -> pb.Item:
    """A random item that validate_item accepts, normalized (most of the time), or empty."""
    item = random_item(rng)
    try:
        validate_item(item)
    except ItemError:
        return pb.Item()
    if rng.random() < 0.9:
        normalize_item(item)
    return item


def _fields(scanned: Scanned) -> tuple[object, ...]:
    """The fields, the keys as a message: protobuf writes a map's entries in an order of its
    own (it differs between processes), the compiled scan keeps the record's."""
    return (*scanned[:8], pb.Item.FromString(scanned.keys), *scanned[9:])


def _python(sch: schema.Schema, raw: bytes, previous: int) -> Scanned | None:
    try:
        return scan_checked(sch, raw, ORIGIN, previous)
    except (ItemError, MalformedRequest):
        return None


def test_random_records_and_mutations_scan_as_python_does() -> None:
    rng = random.Random(15)
    accepted = valid = 0
    other = b""
    for _ in range(3000):
        sch = _schema(rng)
        prefix, parts = replicated_bytes.layout(sch)
        previous = rng.choice([0, 0, 10])
        raw = _record(sch, rng, previous).SerializeToString()
        for data in [raw, *mutations(raw, other, rng)]:
            fast = replicated_bytes.scan(data, prefix, parts)
            python = _python(sch, data, previous)
            if fast is not None and _follows(fast, ORIGIN, previous):
                assert python is not None, data
                assert _fields(fast) == _fields(python), data
                accepted += data is raw
            valid += data is raw and python is not None
        other = raw
    assert valid > 1000, valid
    # Left to Python by design: keys or images not in normalized form (numbers such as "01"
    # or "1E-7"), attribute states, keys with other attributes than the key schema's.
    assert accepted > 0.75 * valid or not replicated_bytes.COMPILED, (accepted, valid)


def test_scanned_fields_match_the_struct_sequence() -> None:
    assert compiled is None or compiled.ScannedRecord.__match_args__ == Scanned._fields  # type: ignore[attr-defined]


def _entries_args(rng: random.Random) -> list[Any]:
    removed = rng.random() < 0.3
    maybe = lambda data: data if rng.random() < 0.5 else None  # noqa: E731
    version = pb.Version(hlc=rng.choice([0, 1, 1 << 63]), region=rng.choice(["", "eu", "é"]))
    keys, image = random_item(rng).SerializeToString(), random_item(rng).SerializeToString()
    return [
        version.SerializeToString(),
        removed,
        rng.choice([0, 1, 1_700_000_000_000]),
        keys,
        b"" if removed else image * rng.choice([1, 200]),
        maybe(random_item(rng).SerializeToString()),
        maybe(EXPIRY.SerializeToString()),
        maybe(pb.AttributeState(deleted=version).SerializeToString()),
        rng.choice([0, 1, 2, 3]),
        rng.choice([0, 1, 1 << 40]),
        rng.choice(["", "node.orders.1", "é€😀"]),
        rng.choice(["", "orders", "é€"]),
        rng.choice([0, 1, 4]),
    ]


def _messages(args: list[Any]) -> tuple[pb.StoredItem, pb.StreamRecord]:
    """What entries_python's bytes must parse to."""
    (version, removed, written, keys, image, old, identity, attributes) = args[:8]
    (event_name, sequence, event_id, table, view_type) = args[8:]
    stored = pb.StoredItem(tombstone=removed, written_ms=written)
    stored.version.ParseFromString(version)
    stored.item.ParseFromString(keys if removed else image)
    record = pb.StreamRecord(
        event_id=event_id,
        event_name=event_name,
        sequence_number=sequence,
        creation_time_ms=written,
        table=table,
        view_type=view_type,
    )
    record.version.ParseFromString(version)
    record.keys.ParseFromString(keys)
    if not removed:
        record.new_image.ParseFromString(image)
    for message, data, field in [
        (record, old, "old_image"),
        (record, identity, "user_identity"),
        (record, attributes, "attributes"),
        (stored, attributes, "attributes"),
    ]:
        if data is not None:
            getattr(message, field).ParseFromString(data)
            getattr(message, field).SetInParent()
    return stored, record


def test_random_entries_are_the_messages_encodings() -> None:
    rng = random.Random(16)
    for _ in range(2000):
        args = _entries_args(rng)
        stored_raw, record_raw = replicated_bytes.entries_python(*args)
        if compiled is not None:
            assert compiled.replicated_entries(*args) == (stored_raw, record_raw), args
        stored, record = _messages(args)
        assert pb.StoredItem.FromString(stored_raw) == stored
        parsed = pb.StreamRecord.FromString(record_raw)
        assert parsed.size_bytes == len(record_raw) - 1 - len(
            replicated_bytes.varint(parsed.size_bytes)
        )
        parsed.ClearField("size_bytes")
        assert parsed == record


def test_scan_leaves_a_storage_key_past_its_buffer_to_python() -> None:
    """A number key after a long string key (a byte limit above the schema's) once wrote
    past the compiled scan's key buffer; tests/fuzz runs this under AddressSanitizer."""
    layout = ((b"pk", pb.KEY_TYPE_S, 10**6), (b"sk", pb.KEY_TYPE_N, 64))
    if compiled is not None:
        assert compiled.scan_replicated(regressions.long_key_record(), b"p" * 8, layout) is None


@pytest.mark.parametrize("parts", regressions.BAD_LAYOUTS)
def test_scan_refuses_key_layouts_of_another_shape(parts: Any) -> None:
    if compiled is not None:
        with pytest.raises(TypeError, match="parts"):
            compiled.scan_replicated(regressions.long_key_record(), b"p", parts)


@pytest.mark.parametrize("parts", regressions.OVERFLOWING_LAYOUTS)
def test_scan_raises_overflow_for_key_layouts_beyond_c_integers(parts: Any) -> None:
    """A limit too large for C once gave a key with the OverflowError still pending."""
    if compiled is not None:
        with pytest.raises(OverflowError):
            compiled.scan_replicated(regressions.number_key_record(), b"p", parts)


class _Unsure:
    def __bool__(self) -> bool:
        raise ValueError("no truth here")


def test_entries_raise_the_first_error_of_their_arguments() -> None:
    """Each argument's conversion is checked before the next (the compiled entries once went
    on converting with an error pending, and the last error replaced the first)."""
    args = _entries_args(random.Random(1))
    args[1], args[2] = _Unsure(), None
    for entries in [replicated_bytes.entries_python, getattr(compiled, "replicated_entries", None)]:
        if entries is not None:
            with pytest.raises(ValueError, match="no truth here"):
                entries(*args)
