"""The compiled key of a serialized item (meridian/model/item_bytes.py `item_key`) against
`Schema.extract`, over seeded random schemas and items, valid keys or not (without the
compiled module, as with MERIDIAN_ITEM_CHECK=python, `item_key` must always say None).

For an item the compiled check accepted, `item_key` must give exactly `Schema.extract`'s
storage key and key attributes, or None; when `Schema.extract` refuses the item, `item_key`
must say None (so the caller gets Python's error). Every valid key of the types it encodes
(strings, binaries, positional numbers) must be read off the bytes, not left to Python.
"""

from __future__ import annotations

import os
import random

import pytest

from meridian.model import item_bytes, schema
from meridian.model.items import ItemError
from meridian.pb import node_pb2 as pb
from tests.unit.test_item_bytes import mutations, random_item, random_number, random_text

KEY_TYPES = [pb.KEY_TYPE_S, pb.KEY_TYPE_N, pb.KEY_TYPE_B]
KEY_NUMBERS = ["0", "7", "-7", "1.5", "-1.5", "-0.001", "100", "-120", "0.000105", "9" * 21]
KEY_NUMBERS += ["1." + "0" * 36 + "1", "-0.00000" + "9" * 38]
KEY_NUMBERS += ["-" + "9" * 21, "123456789012345678901", "0.1", "-0.0000012", "10.01", "1E-7"]
compiled_key = item_bytes._item_key
compiled = compiled_key is not None


def test_compiled_key_is_loaded_when_required() -> None:
    required = os.environ.get("MERIDIAN_REQUIRE_NATIVE") == "1"
    assert compiled or not required, "the compiled item_key did not load"


def _schema(rng: random.Random) -> schema.Schema:
    spec = pb.TableSpec(
        name=rng.choice(["orders", "t", "é€"]),
        partition_key=pb.KeyAttribute(
            name=rng.choice(["pk", "id", "é"]), type=rng.choice(KEY_TYPES)
        ),
    )
    if rng.random() < 0.7:
        spec.sort_key.name, spec.sort_key.type = rng.choice(["sk", "€x"]), rng.choice(KEY_TYPES)
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
        value.s = (
            text if rng.random() < 0.97 else rng.choice(["", "x" * 1024, "x" * 1025, "y" * 2049])
        )
    else:
        data = rng.randbytes(rng.randint(0, 4)) + rng.choice([b"", b"\0", b"\0\xff"])
        value.b = data if rng.random() < 0.97 else b"\0" * rng.choice([1024, 1025, 2048, 2049])
    return value


def _item(sch: schema.Schema, rng: random.Random) -> pb.Item:
    item = random_item(rng)
    for name, key_type in [(sch.pk_name, sch.pk_type), (sch.sk_name, sch.sk_type)]:
        if name and rng.random() < 0.97:
            item.attributes[name].CopyFrom(_key_value(key_type, rng))
    return item


def _python(sch: schema.Schema, item: pb.Item) -> tuple[bytes, pb.Item] | None:
    try:
        return sch.extract(item)
    except ItemError:
        return None


def test_random_items_give_extracts_key() -> None:
    rng = random.Random(15)
    read_off = refused = 0
    for _ in range(20000):
        sch = _schema(rng)
        item = _item(sch, rng)
        raw = item.SerializeToString()
        if not item_bytes.item_bytes_valid(raw):
            continue  # the caller checks, normalises and extracts in Python
        found, expected = item_bytes.item_key(raw, sch), _python(sch, item)
        if expected is None:
            assert found is None, (item, found)
            refused += 1
            continue
        number_keys = [
            item.attributes[name].n
            for name, key_type in [(sch.pk_name, sch.pk_type), (sch.sk_name, sch.sk_type)]
            if name and key_type == pb.KEY_TYPE_N
        ]
        if found is None:  # compiled: only a number key in exponent form is left to Python
            assert not compiled or any("E" in text for text in number_keys), item
            continue
        assert found == expected, (item, found, expected)
        read_off += 1
    assert refused > 100 and (read_off > 4000 if compiled else read_off == 0), (read_off, refused)


@pytest.mark.parametrize("number", KEY_NUMBERS[:-1])
def test_each_key_number_encodes_as_python_does(number: str) -> None:
    spec = pb.TableSpec(
        name="t",
        partition_key=pb.KeyAttribute(name="pk", type=pb.KEY_TYPE_S),
        sort_key=pb.KeyAttribute(name="sk", type=pb.KEY_TYPE_N),
    )
    sch = schema.Schema(spec)
    item = pb.Item()
    item.attributes["pk"].s = "p"
    item.attributes["sk"].n = number
    item.attributes["other"].n = "1"
    raw = item.SerializeToString()
    assert item_bytes.item_bytes_valid(raw)
    assert item_bytes.item_key(raw, sch) == (sch.extract(item) if compiled else None)


def test_any_bytes_give_bytes_or_none() -> None:
    """Bytes the check did not accept never reach `item_key`; given them anyway, the
    compiled function stays within them and answers bytes or None."""
    rng = random.Random(16)
    previous = b""
    for _ in range(20000):
        sch = _schema(rng)
        raw = _item(sch, rng).SerializeToString()
        for data in mutations(raw, previous, rng):
            if compiled_key is None:
                assert item_bytes.item_key(data, sch) is None
                continue
            found = compiled_key(data, sch.pk_name, sch.pk_type, 2048, sch.sk_name or "", 2, 1024)
            assert found is None or all(isinstance(part, bytes) for part in found)
        previous = raw


def test_without_the_compiled_module_python_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(item_bytes, "_item_key", None)
    spec = pb.TableSpec(name="t", partition_key=pb.KeyAttribute(name="pk", type=pb.KEY_TYPE_S))
    item = pb.Item()
    item.attributes["pk"].s = "p"
    assert item_bytes.item_key(item.SerializeToString(), schema.Schema(spec)) is None
