"""Item validation, sizing, normalization, equality and the plain/typed JSON forms."""

from __future__ import annotations

import json
import random
import re
from decimal import Decimal

import pytest

from meridian.model import items
from meridian.model.items import ItemError
from meridian.pb import node_pb2 as pb


def S(s: str) -> pb.AttributeValue:
    return pb.AttributeValue(s=s)


def N(n: str) -> pb.AttributeValue:
    return pb.AttributeValue(n=n)


def L(*values: pb.AttributeValue) -> pb.AttributeValue:
    v = pb.AttributeValue()
    v.l.SetInParent()
    v.l.values.extend(values)
    return v


def M(**fields: pb.AttributeValue) -> pb.AttributeValue:
    v = pb.AttributeValue()
    v.m.SetInParent()
    for name, value in fields.items():
        v.m.fields[name].CopyFrom(value)
    return v


def SS(*values: str) -> pb.AttributeValue:
    v = pb.AttributeValue()
    v.ss.SetInParent()
    v.ss.values.extend(values)
    return v


def NS(*values: str) -> pb.AttributeValue:
    v = pb.AttributeValue()
    v.ns.SetInParent()
    v.ns.values.extend(values)
    return v


def BS(*values: bytes) -> pb.AttributeValue:
    v = pb.AttributeValue()
    v.bs.SetInParent()
    v.bs.values.extend(values)
    return v


def item(**attributes: pb.AttributeValue) -> pb.Item:
    result = pb.Item()
    for name, value in attributes.items():
        result.attributes[name].CopyFrom(value)
    return result


def nested_lists(levels: int) -> pb.AttributeValue:
    value = S("leaf")
    for _ in range(levels):
        value = L(value)
    return value


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("0", "0"),
        ("-0", "0"),
        ("0.000", "0"),
        ("+0E+7", "0"),
        ("1", "1"),
        ("1.0", "1"),
        ("001.500", "1.5"),
        ("+5", "5"),
        (".5", "0.5"),
        ("5.", "5"),
        ("-1.50", "-1.5"),
        ("1E+3", "1000"),
        ("1e20", "100000000000000000000"),
        ("1e21", "1E+21"),
        ("1.5E+30", "1.5E+30"),
        ("0.000001", "0.000001"),
        ("1E-7", "1E-7"),
        ("0.00000012345", "1.2345E-7"),
        ("12345678901234567890123456789012345678", "12345678901234567890123456789012345678"),
        (
            "123456789012345678901234567890123456780000",
            "1.2345678901234567890123456789012345678E+41",
        ),
        ("1E-130", "1E-130"),
        ("-1.23E-130", "-1.23E-130"),
        ("10E-131", "1E-130"),
        (
            "9.9999999999999999999999999999999999999E+125",
            "9.9999999999999999999999999999999999999E+125",
        ),
        (
            "-9.9999999999999999999999999999999999999E+125",
            "-9.9999999999999999999999999999999999999E+125",
        ),
        ("0.1000000000000000000000000000000000000000000", "0.1"),
    ],
)
def test_normalize_number(text: str, canonical: str) -> None:
    assert items.normalize_number("n", text) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid number ''"),
        ("abc", "invalid number"),
        ("1e", "invalid number"),
        (" 1", "invalid number"),
        ("1_000", "invalid number"),
        ("0x10", "invalid number"),
        ("NaN", "invalid number"),
        ("Infinity", "invalid number"),
        ("\u0661", "invalid number"),  # ARABIC-INDIC DIGIT ONE, which Decimal() takes
        ("--1", "invalid number"),
        ("1" * 39, "more than 38 significant digits"),
        ("1.00000000000000000000000000000000000001", "more than 38 significant digits"),
        ("1E+126", "exceeds the largest magnitude"),
        ("-1E+126", "exceeds the largest magnitude"),
        ("1E-131", "below the smallest magnitude"),
        ("0.9E-130", "below the smallest magnitude"),
        ("1e99999999999999999999", "out of range"),
    ],
)
def test_normalize_number_rejects(text: str, message: str) -> None:
    with pytest.raises(ItemError) as exc:
        items.normalize_number("a.b[2]", text)
    assert str(exc.value).startswith("attribute 'a.b[2]': ")
    assert message in str(exc.value)


def test_number_parses_exactly() -> None:
    assert items.number("12345678901234567890123456789012345678") == Decimal(
        "12345678901234567890123456789012345678"
    )
    assert items.number("1E-130") == Decimal("1E-130")
    with pytest.raises(ValueError, match="invalid number"):
        items.number("NaN")


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (item(x=pb.AttributeValue()), "attribute 'x': no type set"),
        (item(x=pb.AttributeValue(null=False)), "attribute 'x': NULL must be true"),
        (item(x=N("one")), "attribute 'x': invalid number 'one'"),
        (item(x=N("1E+126")), "attribute 'x': number '1E+126' exceeds"),
        (item(tags=SS()), "attribute 'tags': string set must not be empty"),
        (item(tags=NS()), "attribute 'tags': number set must not be empty"),
        (item(tags=BS()), "attribute 'tags': binary set must not be empty"),
        (item(tags=SS("a", "b", "a")), "attribute 'tags': string set must not contain duplicates"),
        (item(tags=NS("1", "1.0")), "attribute 'tags': number set must not contain duplicates"),
        (item(tags=NS("-0", "0")), "attribute 'tags': number set must not contain duplicates"),
        (item(tags=BS(b"\x00", b"\x00")), "attribute 'tags': binary set must not contain dup"),
        (item(tags=NS("1", "x")), "attribute 'tags': invalid number 'x'"),
        (item(a=M(b=L(S("ok"), N("1"), N("bad")))), "attribute 'a.b[2]': invalid number 'bad'"),
        (item(a=L(M(c=pb.AttributeValue()))), "attribute 'a[0].c': no type set"),
        (item(a=M(b=M(c=SS()))), "attribute 'a.b.c': string set must not be empty"),
        (item(deep=nested_lists(33)), "nesting exceeds 32 levels"),
        (item(**{"": S("x")}), "attribute '': name must not be empty"),
    ],
)
def test_validate_item_rejects(bad: pb.Item, message: str) -> None:
    with pytest.raises(ItemError) as exc:
        items.validate_item(bad)
    assert message in str(exc.value)


@pytest.mark.parametrize(
    "good",
    [
        item(),
        item(s=S(""), n=N("-0.5"), b=pb.AttributeValue(b=b""), yes=pb.AttributeValue(bool=False)),
        item(nothing=pb.AttributeValue(null=True), empty_list=L(), empty_map=M()),
        item(tags=SS("a", "b"), nums=NS("1", "1.5", "-1"), bins=BS(b"", b"\x00")),
        item(deep=nested_lists(32)),
        item(**{"a.b": S("dots are fine in names")}),
    ],
)
def test_validate_item_accepts(good: pb.Item) -> None:
    items.validate_item(good)


def test_validate_value_uses_the_given_path() -> None:
    with pytest.raises(ItemError, match=r"^attribute 'pk\[1\]': no type set$"):
        items.validate_value("pk", L(S("x"), pb.AttributeValue()))


# ---------------------------------------------------------------- size


@pytest.mark.parametrize(
    ("attributes", "size"),
    [
        ({"a": S("abc")}, 1 + 3),
        ({"é": S("é")}, 2 + 2),
        ({"a": N("12345")}, 1 + 3 + 1),
        ({"a": N("1000")}, 1 + 1 + 1),  # trailing zeros are not significant
        ({"a": N("0.001")}, 1 + 1 + 1),  # nor leading ones
        ({"a": N("-1.5E+30")}, 1 + 1 + 1),
        ({"a": N("0")}, 1 + 1 + 1),
        ({"a": pb.AttributeValue(b=b"\x00\x01")}, 1 + 2),
        ({"a": pb.AttributeValue(bool=True)}, 1 + 1),
        ({"a": pb.AttributeValue(null=True)}, 1 + 1),
        ({"a": L()}, 1 + 3),
        ({"a": L(S("x"), S("yz"))}, 1 + 3 + 1 + 2),
        ({"a": M(k=S("v"), kk=N("12"))}, 1 + 3 + (1 + 1) + (2 + 2)),
        ({"a": SS("x", "yz")}, 1 + 3),
        ({"a": NS("1", "123")}, 1 + 2 + 3),
        ({"a": BS(b"x", b"")}, 1 + 1),
        ({"a": S("x"), "bb": S("y")}, 2 + 3),
    ],
)
def test_item_size(attributes: dict[str, pb.AttributeValue], size: int) -> None:
    assert items.item_size(item(**attributes)) == size


def test_size_limit_is_exactly_400_kb() -> None:
    at_limit = item(a=S("x" * (items.MAX_ITEM_BYTES - 1)))
    assert items.item_size(at_limit) == 409600
    items.validate_item(at_limit)

    over = item(a=S("x" * items.MAX_ITEM_BYTES))
    with pytest.raises(ItemError, match=r"^item size 409601 bytes exceeds the 409600-byte limit$"):
        items.validate_item(over)


# ---------------------------------------------------------------- normalization and equality


def test_normalize_item_canonicalizes_numbers_and_sorts_sets() -> None:
    value = item(
        n=N("001.50"),
        nums=NS("10", "9", "-1E+3", "0.50"),
        tags=SS("b", "é", "a", "Z"),
        bins=BS(b"\xff", b"\x00", b""),
        nested=M(inner=L(N("1E+2"), NS("2.0", "1"))),
    )
    items.normalize_item(value)
    attrs = value.attributes
    assert attrs["n"].n == "1.5"
    assert list(attrs["nums"].ns.values) == ["-1000", "0.5", "9", "10"]
    assert list(attrs["tags"].ss.values) == ["Z", "a", "b", "é"]
    assert list(attrs["bins"].bs.values) == [b"", b"\x00", b"\xff"]
    inner = attrs["nested"].m.fields["inner"].l.values
    assert inner[0].n == "100"
    assert list(inner[1].ns.values) == ["1", "2"]


def test_equal_items_serialize_identically_after_normalization() -> None:
    a = item(tags=SS("x", "y", "z"), nums=NS("3", "1.0", "2"))
    b = item(tags=SS("z", "x", "y"), nums=NS("2", "3", "1"))
    for value in (a, b):
        items.normalize_item(value)
    assert a.SerializeToString(deterministic=True) == b.SerializeToString(deterministic=True)


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (N("1"), N("1.0"), True),
        (N("-0"), N("0"), True),
        (N("1E+2"), N("100"), True),
        (N("1"), N("1.01"), False),
        (S("1"), N("1"), False),
        (N("12.5"), N("12.5"), True),
        (S("a"), S("a"), True),
        (S("a"), S("b"), False),
        (S(""), S(""), True),
        (pb.AttributeValue(b=b"a"), pb.AttributeValue(b=b"a"), True),
        (pb.AttributeValue(bool=True), pb.AttributeValue(bool=False), False),
        (pb.AttributeValue(null=True), pb.AttributeValue(null=True), True),
        (SS("a", "b", "c"), SS("c", "a", "b"), True),
        (SS("a", "b"), SS("a", "b", "c"), False),
        (SS("a"), BS(b"a"), False),
        (NS("1", "2.50"), NS("2.5", "1.0"), True),
        (NS("1", "2"), NS("1", "3"), False),
        (BS(b"\x01", b"\x02"), BS(b"\x02", b"\x01"), True),
        (L(N("1"), S("x")), L(N("1.0"), S("x")), True),
        (L(N("1"), S("x")), L(S("x"), N("1")), False),
        (L(N("1")), L(N("1"), N("1")), False),
        (L(), M(), False),
        (M(a=NS("1", "2"), b=L(SS("p", "q"))), M(b=L(SS("q", "p")), a=NS("2", "1")), True),
        (M(a=N("1")), M(a=N("1"), b=N("2")), False),
        (M(a=N("1")), M(b=N("1")), False),
        (N("4"), N("5"), False),  # canonical spellings that differ: no Decimal needed
        (N("-0.5"), N("0.5"), False),
        (N("1.5"), N("1.50"), True),
        (N("0.0000001"), N("1E-7"), True),
    ],
)
def test_values_equal(a: pb.AttributeValue, b: pb.AttributeValue, equal: bool) -> None:
    assert items.values_equal(a, b) is equal
    assert items.values_equal(b, a) is equal


def test_number_equality_agrees_with_decimal() -> None:
    """Numbers compare without Decimal when both are spelled canonically: the verdict must
    be Decimal's for every pair of spellings, canonical or not."""
    rng = random.Random(3)
    pool = ["0", "-0", "1", "1.0", "1E+0", "10", "1E+1", "0.1", "0.10", "-0.1", "1E-7"]
    pool += ["0.0000001", "123456789012345678901", "1.23456789012345678901E+20", "5", "-5"]
    pool += [str(rng.randrange(-1000, 1000) / rng.choice((1, 10, 100))) for _ in range(200)]
    for a in pool:
        for b in [*rng.sample(pool, 30), a]:
            assert items.values_equal(N(a), N(b)) is (Decimal(a) == Decimal(b)), (a, b)


def test_values_equal_does_not_insert_missing_map_keys() -> None:
    a, b = M(a=N("1")), M(b=N("1"))
    items.values_equal(a, b)
    assert set(a.m.fields) == {"a"}
    assert set(b.m.fields) == {"b"}


def test_items_equal() -> None:
    assert items.items_equal(item(a=N("1"), s=SS("x", "y")), item(s=SS("y", "x"), a=N("1.00")))
    assert not items.items_equal(item(a=N("1")), item(a=N("1"), b=N("1")))
    assert not items.items_equal(item(a=N("1")), item(a=N("2")))
    same_size = item(a=N("1"), b=S("x")), item(a=N("1"), c=S("x"))
    assert not items.items_equal(*same_size)
    assert [set(i.attributes) for i in same_size] == [{"a", "b"}, {"a", "c"}]  # none inserted


# ---------------------------------------------------------------- plain form

PLAIN = {
    "s": "héllo",
    "empty": "",
    "i": 42,
    "f": 1.5,
    "d": Decimal("12345678901234567890123456789012345678"),
    "tiny": Decimal("1E-130"),
    "t": True,
    "nothing": None,
    "raw": b"\x00\xff",
    "list": [1, "two", [None, False]],
    "map": {"k": {"deeper": [b"x"]}, "": "empty key"},
    "ss": {"b", "a"},
    "ns": {1, Decimal("2.5")},
    "bs": frozenset({b"\x01", b""}),
}


def test_plain_round_trip() -> None:
    converted = items.from_plain(PLAIN)
    assert items.to_plain(converted) == PLAIN
    attrs = converted.attributes
    assert attrs["i"].n == "42"
    assert attrs["f"].n == "1.5"
    assert attrs["raw"].b == b"\x00\xff"
    assert list(attrs["ss"].ss.values) == ["a", "b"]
    assert list(attrs["ns"].ns.values) == ["1", "2.5"]
    assert attrs["nothing"].null
    assert attrs["map"].m.fields["k"].m.fields["deeper"].l.values[0].b == b"x"


def test_value_to_plain_types() -> None:
    plain = items.to_plain(items.from_plain(PLAIN))
    assert isinstance(plain["i"], Decimal)
    assert isinstance(plain["raw"], bytes)
    assert isinstance(plain["ss"], set)
    assert isinstance(plain["list"], list)


def test_plain_json_markers() -> None:
    converted = items.from_plain(
        {"bin": {"$b": "AP8="}, "tags": {"$set": ["x", "y"]}, "bins": {"$set": [{"$b": "AQ=="}]}}
    )
    assert converted.attributes["bin"].b == b"\x00\xff"
    assert list(converted.attributes["tags"].ss.values) == ["x", "y"]
    assert list(converted.attributes["bins"].bs.values) == [b"\x01"]


def test_plain_floats_use_their_shortest_spelling() -> None:
    assert items.value_from_plain("f", 0.1).n == "0.1"
    assert items.value_from_plain("f", 1e16).n == "10000000000000000"
    assert items.value_from_plain("f", -0.0).n == "0"


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"x": set()}, "attribute 'x': set must not be empty"),
        ({"x": {"$set": []}}, "attribute 'x': set must not be empty"),
        ({"x": {"a", 1}}, "attribute 'x': set members must be all strings, all numbers or all"),
        ({"x": {"$set": ["a", {"$b": "AA=="}]}}, "attribute 'x': set members must be all"),
        ({"x": {"$set": ["a", "a"]}}, "attribute 'x': string set must not contain duplicates"),
        ({"x": {"$set": "ab"}}, "attribute 'x': $set must be a list"),
        ({"x": {True}}, "attribute 'x': unsupported set member of type bool"),
        ({"x": float("nan")}, "attribute 'x': invalid number nan"),
        ({"x": float("inf")}, "attribute 'x': invalid number inf"),
        ({"x": Decimal("NaN")}, "attribute 'x': invalid number NaN"),
        ({"x": 10**126}, "attribute 'x': number"),
        ({"x": {"y": [1, object()]}}, "attribute 'x.y[1]': unsupported type object"),
        ({"x": complex(1, 2)}, "attribute 'x': unsupported type complex"),
        ({"x": {1: "a"}}, "attribute 'x': map key 1 is not a string"),
        ({"x": {"$b": "not base64!"}}, "attribute 'x': binary value is not valid base64"),
        ({"x": {"$b": 5}}, "attribute 'x': binary value must be a base64 string"),
        ({"": "x"}, "attribute '': name must not be empty"),
        ({1: "x"}, "attribute name 1 is not a string"),
        ([1, 2], "item must be a JSON object"),
    ],
)
def test_from_plain_rejects(obj: object, message: str) -> None:
    with pytest.raises(ItemError) as exc:
        items.from_plain(obj)
    assert message in str(exc.value)


def test_from_plain_rejects_deep_nesting_without_recursing_further() -> None:
    deep: object = "leaf"
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ItemError, match=r"attribute 'x.*': nesting exceeds 32 levels"):
        items.from_plain({"x": deep})


def test_from_plain_enforces_the_size_limit() -> None:
    with pytest.raises(ItemError, match="exceeds the 409600-byte limit"):
        items.from_plain({"a": "x" * items.MAX_ITEM_BYTES})


def test_value_from_plain_validates_and_normalizes() -> None:
    assert items.value_from_plain("v", Decimal("1.50")).n == "1.5"
    assert list(items.value_from_plain("v", {3, 1, 2}).ns.values) == ["1", "2", "3"]
    with pytest.raises(ItemError, match=r"attribute 'v\[0\]': number"):
        items.value_from_plain("v", [Decimal("1E+200")])


# ---------------------------------------------------------------- typed form

TYPED = {
    "s": {"S": "héllo"},
    "n": {"N": "-1.5"},
    "b": {"B": "AP8="},
    "t": {"BOOL": False},
    "z": {"NULL": True},
    "l": {"L": [{"N": "1"}, {"L": []}, {"M": {}}]},
    "m": {"M": {"inner": {"SS": ["a", "b"]}, "n": {"NS": ["1", "2"]}}},
    "ss": {"SS": ["x"]},
    "ns": {"NS": ["-1", "0.5", "12345678901234567890123456789012345678"]},
    "bs": {"BS": ["", "AQ=="]},
}


def test_typed_round_trip() -> None:
    converted = items.from_typed(TYPED)
    assert items.to_typed(converted) == TYPED
    assert converted.attributes["b"].b == b"\x00\xff"
    assert list(converted.attributes["bs"].bs.values) == [b"", b"\x01"]


def test_typed_input_is_normalized() -> None:
    converted = items.from_typed({"n": {"N": "1.500"}, "ns": {"NS": ["10", "2", "1E+0"]}})
    assert items.to_typed(converted) == {"n": {"N": "1.5"}, "ns": {"NS": ["1", "2", "10"]}}


def test_plain_and_typed_agree() -> None:
    typed = items.from_typed(TYPED)
    assert items.items_equal(items.from_plain(items.to_plain(typed)), typed)
    assert items.to_typed(items.from_plain(items.to_plain(typed))) == TYPED


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"x": {}}, "attribute 'x': value must be an object with exactly one of S, N, B, BOOL"),
        ({"x": {"S": "a", "N": "1"}}, "attribute 'x': value must be an object with exactly one"),
        ({"x": {"STRING": "a"}}, "attribute 'x': value must be an object with exactly one"),
        ({"x": "plain"}, "attribute 'x': value must be an object with exactly one"),
        ({"x": {"S": 1}}, "attribute 'x': S must be a string"),
        ({"x": {"N": 1}}, "attribute 'x': N must be a string"),
        ({"x": {"N": "1e999"}}, "attribute 'x': number '1e999' exceeds"),
        ({"x": {"BOOL": "true"}}, "attribute 'x': BOOL must be a boolean"),
        ({"x": {"NULL": False}}, "attribute 'x': NULL must be true"),
        ({"x": {"B": "***"}}, "attribute 'x': binary value is not valid base64"),
        ({"x": {"L": {}}}, "attribute 'x': L must be a list"),
        ({"x": {"M": []}}, "attribute 'x': M must be an object"),
        ({"x": {"SS": "a"}}, "attribute 'x': SS must be a list"),
        ({"x": {"SS": ["a", 1]}}, "attribute 'x': SS member must be a string"),
        ({"x": {"NS": [1]}}, "attribute 'x': NS member must be a string"),
        ({"x": {"SS": []}}, "attribute 'x': string set must not be empty"),
        ({"x": {"BS": []}}, "attribute 'x': binary set must not be empty"),
        ({"x": {"NS": ["1", "1.00"]}}, "attribute 'x': number set must not contain duplicates"),
        ({"x": {"M": {"a": {"L": [{"S": "ok"}, {"N": "?"}]}}}}, "attribute 'x.a[1]': invalid"),
        ("item", "item must be a JSON object"),
    ],
)
def test_from_typed_rejects(obj: object, message: str) -> None:
    with pytest.raises(ItemError) as exc:
        items.from_typed(obj)
    assert message in str(exc.value)


def test_value_from_typed_uses_the_given_path() -> None:
    with pytest.raises(ItemError, match=r"^attribute 'k\.a': S must be a string$"):
        items.value_from_typed("k", {"M": {"a": {"S": None}}})
    assert items.value_from_typed("k", {"N": "2.0"}) == N("2")


# ---------------------------------------------------------------- JSON text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (
            Decimal("12345678901234567890123456789012345678"),
            "12345678901234567890123456789012345678",
        ),
        (Decimal("0.000001"), "0.000001"),
        (Decimal("1.50"), "1.5"),
        (Decimal("1E+3"), "1000"),
        (Decimal("-0"), "0"),
        (Decimal("1E+30"), "1E+30"),
        (Decimal("-1.5E-130"), "-1.5E-130"),
        (
            Decimal("1234567890123456789012345678901234567890123"),
            "1234567890123456789012345678901234567890123",
        ),
        (b"\x00\xff", '{"$b": "AP8="}'),
        ({"b", "a"}, '{"$set": ["a", "b"]}'),
        (frozenset({Decimal("10"), 9}), '{"$set": [9, 10]}'),
        ({b"b", b"a"}, '{"$set": [{"$b": "YQ=="}, {"$b": "Yg=="}]}'),
        ([1, "x", None, True, 0.5], '[1, "x", null, true, 0.5]'),
    ],
)
def test_dumps(value: object, text: str) -> None:
    assert items.dumps(value) == text
    json.loads(items.dumps(value))  # valid JSON


def test_dumps_passes_options_through() -> None:
    assert items.dumps({"b": Decimal("1.0"), "a": [Decimal("2")]}, sort_keys=True, indent=1) == (
        '{\n "a": [\n  2\n ],\n "b": 1\n}'
    )


def test_dumps_leaves_look_alike_strings_alone() -> None:
    assert items.dumps(["0:0", Decimal(1)]) == '["0:0", 1]'


@pytest.mark.parametrize(
    "value", [Decimal("NaN"), Decimal("Infinity"), float("nan"), float("-inf")]
)
def test_dumps_rejects_non_finite_numbers(value: object) -> None:
    with pytest.raises(ValueError):
        items.dumps({"x": value})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12345678901234567890123456789012345678", 12345678901234567890123456789012345678),
        ("0.000001", Decimal("0.000001")),
        ("1.10", Decimal("1.10")),
        ("1e400", Decimal("1E+400")),
        ('{"a": [1, 2.5]}', {"a": [1, Decimal("2.5")]}),
    ],
)
def test_loads_is_exact(text: str, value: object) -> None:
    parsed = items.loads(text)
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", "-Infinity"])
def test_loads_rejects_non_json_constants(text: str) -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        items.loads(text)


def test_json_text_round_trip_is_exact() -> None:
    original = items.from_plain(
        {
            "big": Decimal("12345678901234567890123456789012345678"),
            "small": Decimal("0.000001"),
            "huge": Decimal("9.9999999999999999999999999999999999999E+125"),
            "tiny": Decimal("-1E-130"),
            "int": 10**37,
            "raw": b"\x00\x01\xff",
            "tags": {"é", "a"},
            "nums": {Decimal("0.1"), Decimal("0.09")},
            "bins": {b"\x00", b"\xff"},
            "nested": {"l": [None, True, {"$b": "AA=="}]},
        }
    )
    text = items.dumps(items.to_plain(original))
    restored = items.from_plain(items.loads(text))
    assert restored == original
    assert '"big": 12345678901234567890123456789012345678' in text
    assert '"small": 0.000001' in text


def test_typed_json_text_round_trip() -> None:
    original = items.from_typed(TYPED)
    assert items.from_typed(items.loads(items.dumps(items.to_typed(original)))) == original


def test_canonical_fast_path_agrees_with_the_full_normalisation() -> None:
    """normalize_number returns canonical spellings unchanged without the slow path; it
    must give exactly what the slow path gives for every spelling."""
    import random

    from meridian.model import items as it

    rng = random.Random(11)
    spellings = [
        "0",
        "-0",
        "1",
        "10",
        "100.0",
        "0.1",
        "0.0000001",
        "0.00000001",
        "1E+3",
        "12345678901234567890",
        "123456789012345678901",
        "1234567890123456789012",
        "-0.000001",
        "9" * 38,
        "0." + "9" * 38,
        "1.50",
        "007",
    ]
    for _ in range(3000):
        digits = str(rng.randrange(1, 10 ** rng.randrange(1, 40)))
        point = rng.randrange(0, len(digits) + 8)
        text = (
            ("0." + "0" * (point - len(digits)) + digits)
            if point > len(digits)
            else (
                digits[: len(digits) - point]
                + ("." + digits[len(digits) - point :] if point else "")
            )
        )
        spellings.append(("-" if rng.random() < 0.3 else "") + text)
    for text in spellings:
        try:
            slow = it._format(it._reduce(it._parse_decimal("n", text)))
        except it.ItemError:
            continue
        if it._significant_digits(slow) > it.MAX_DIGITS:
            continue
        try:
            fast = it.normalize_number("n", text)
        except it.ItemError:
            continue
        assert fast == ("0" if slow in ("0", "-0") else slow), text


# ---------------------------------------------------------------- check_item and the size bound


def _random_value(rng: random.Random, depth: int = 0) -> pb.AttributeValue:
    containers = ["l", "m"] if depth < 2 else []
    kind = rng.choice(["s", "n", "b", "bool", "null", "ss", "ns", "bs", *containers])
    numbers = ["0", "-0", "1", "1.50", "1E+3", "0.0000001", "-12.5", "123456789012345678901"]
    if kind == "s":
        return S(rng.choice(["", "x", "é" * rng.randrange(5)]))
    if kind == "n":
        return N(rng.choice(numbers))
    if kind == "b":
        return pb.AttributeValue(b=bytes(rng.randrange(4)))
    if kind == "bool":
        return pb.AttributeValue(bool=rng.random() < 0.5)
    if kind == "null":
        return pb.AttributeValue(null=True)
    if kind == "l":
        return L(*(_random_value(rng, depth + 1) for _ in range(rng.randrange(3))))
    if kind == "m":
        return M(**{f"k{i}": _random_value(rng, depth + 1) for i in range(rng.randrange(3))})
    if kind == "ss":
        return SS(*rng.sample(["a", "b", "é", ""], rng.randrange(1, 4)))
    if kind == "ns":
        return NS(*rng.sample(["3", "1.0", "-2", "1E+2"], rng.randrange(1, 4)))
    return BS(*rng.sample([b"", b"\x00", b"\xff"], rng.randrange(1, 4)))


def _random_items(count: int) -> list[pb.Item]:
    rng = random.Random(5)
    return [
        item(**{f"a{i}": _random_value(rng) for i in range(rng.randrange(6))}) for _ in range(count)
    ]


def test_item_size_never_exceeds_the_encoded_size() -> None:
    """validate_item skips the exact count when the encoding fits: that needs this bound."""
    edge = [item(a=L()), item(a=M()), item(a=N("0")), item(a=L(L(), M())), item(**{"é": S("")})]
    for value in [*edge, *_random_items(2000)]:
        assert items.item_size(value) <= value.ByteSize(), value


def test_check_item_is_validate_then_normalize() -> None:
    typical = item(pk=S("p"), sk=N("0"), n=N("-12.5"), b=pb.AttributeValue(b=b"\x00"))
    for value in [typical, *_random_items(2000), item(x=N("1e5")), item(x=N("-0"))]:
        expected, got = pb.Item(), pb.Item()
        expected.CopyFrom(value)
        got.CopyFrom(value)
        try:
            items.validate_item(expected)
            items.normalize_item(expected)
        except ItemError as exc:
            with pytest.raises(ItemError) as refused:
                items.check_item(got)
            assert str(refused.value) == str(exc)
            continue
        items.check_item(got)
        assert got.SerializeToString(deterministic=True) == expected.SerializeToString(
            deterministic=True
        )


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (item(x=pb.AttributeValue()), "attribute 'x': no type set"),
        (item(x=N("1e5x")), "attribute 'x': invalid number '1e5x'"),
        (item(x=N("1" * 39)), "attribute 'x': number '" + "1" * 39 + "' has more than 38"),
        (item(**{"": S("x")}), "attribute '': name must not be empty"),
    ],
)
def test_check_item_refuses_what_validate_item_refuses(bad: pb.Item, message: str) -> None:
    with pytest.raises(ItemError, match=re.escape(message)):
        items.check_item(bad)


def test_check_item_refuses_oversized_items_with_the_exact_size() -> None:
    over = item(a=S("x" * items.MAX_ITEM_BYTES))
    with pytest.raises(ItemError, match=r"^item size 409601 bytes exceeds the 409600-byte limit$"):
        items.check_item(over)
    many = item(**{f"a{i:05d}": pb.AttributeValue(bool=True) for i in range(50000)})
    assert many.ByteSize() > items.MAX_ITEM_BYTES >= items.item_size(many)
    items.check_item(many)  # the encoding is over the limit, the item is not


def _meaning(v: pb.AttributeValue) -> object:
    """A value by meaning, as a reference for items_equal: numbers as Decimal, sets without
    order, each tagged with its kind."""
    kind = v.WhichOneof("value")
    if kind == "n":
        return kind, Decimal(v.n)
    if kind == "ns":
        return kind, frozenset(Decimal(m) for m in v.ns.values)
    if kind in ("ss", "bs"):
        return kind, frozenset(getattr(v, kind).values)
    if kind == "l":
        return kind, tuple(_meaning(e) for e in v.l.values)
    if kind == "m":
        return kind, frozenset((name, _meaning(m)) for name, m in v.m.fields.items())
    return kind, getattr(v, kind)


def test_items_equal_agrees_with_equality_by_meaning() -> None:
    """Pairs of random items (nested, sets, numbers in several spellings, binary), and each
    item against a copy with one attribute respelled, changed or dropped."""
    rng = random.Random(9)
    corpus = _random_items(400)
    pairs = [(rng.choice(corpus), rng.choice(corpus)) for _ in range(2000)]
    for value in corpus:
        other = pb.Item()
        other.CopyFrom(value)
        if other.attributes:
            name = rng.choice(sorted(other.attributes))
            change = rng.choice(["respell", "replace", "drop"])
            if change == "drop":
                del other.attributes[name]
            elif change == "replace":
                other.attributes[name].CopyFrom(_random_value(rng))
            else:  # respell: numbers canonical, set members sorted
                items.normalize_item(other)
        pairs.append((value, other))
        pairs.append((value, value))
    for a, b in pairs:
        expected = {n: _meaning(v) for n, v in a.attributes.items()} == {
            n: _meaning(v) for n, v in b.attributes.items()
        }
        assert items.items_equal(a, b) is expected, (a, b)
        assert items.items_equal(b, a) is expected, (a, b)
