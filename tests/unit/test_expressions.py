"""Table-driven tests of meridian.expressions: grammar, validation, evaluation, updates,
projections, key conditions and legacy parameters, against DynamoDB's documented and
observed behaviour."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from meridian.expressions import (
    ExpressionError,
    KeySchema,
    check_not_mixed,
    compile_legacy,
    compile_request,
)
from meridian.expressions.request import _template
from meridian.model import items
from meridian.pb import node_pb2 as pb

SCHEMA = KeySchema("p", "S")
SORTED = KeySchema("p", "S", "s", "N")

ITEM = {
    "p": "key",
    "n": 5,
    "s": "hello",
    "e": "",
    "b": b"\x01\xff",
    "t": True,
    "z": None,
    "ss": {"x", "y"},
    "ns": {1, 10},
    "bs": {b"\x01"},
    "l": [1, "two", [3]],
    "m": {"a": 1, "b": {"c": "deep"}, "l": [1, 2, 3]},
}


def item(obj: dict[str, Any] | None = None) -> pb.Item:
    return items.from_plain(ITEM if obj is None else obj)


def values(obj: dict[str, Any]) -> dict[str, pb.AttributeValue]:
    return {name: items.value_from_plain(name, v) for name, v in obj.items()}


def condition(text: str, vals: dict[str, Any] | None = None, **kw: Any) -> Any:
    return compile_request("PutItem", condition=text, values=values(vals) if vals else None, **kw)


def error(call: Any) -> str:
    with pytest.raises(ExpressionError) as raised:
        call()
    assert raised.value.code == "ValidationException"
    return raised.value.message


# ---------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("text", "vals", "expected"),
    [
        ("n = :v", {":v": 5}, True),
        ("n = :v", {":v": Decimal("5.0")}, True),
        ("n = :v", {":v": "5"}, False),  # different types are never equal
        ("n <> :v", {":v": "5"}, True),
        ("gone <> :v", {":v": 1}, True),  # <> holds when an operand is missing
        ("gone = :v", {":v": None}, False),  # gone is not NULL
        ("z = :v", {":v": None}, True),
        ("n < :v", {":v": 6}, True),
        ("n < :v", {":v": "6"}, False),
        ("gone < :v", {":v": 6}, False),
        ("s < :v", {":v": "hellp"}, True),
        ("s >= :v", {":v": "hello"}, True),
        ("b > :v", {":v": b"\x01\x00"}, True),  # binary compares as unsigned bytes
        ("b < :v", {":v": b"\x02"}, True),
        ("s > :v", {":v": "\u00e9"}, False),  # code point / UTF-8 order, not locale
        ("n BETWEEN :a AND :b", {":a": 1, ":b": 5}, True),
        ("n BETWEEN :a AND :b", {":a": 6, ":b": 9}, False),
        ("s BETWEEN :a AND :b", {":a": "a", ":b": "z"}, True),
        ("gone BETWEEN :a AND :b", {":a": 1, ":b": 5}, False),
        ("n IN (:a, :b)", {":a": 4, ":b": 5}, True),
        ("n IN (:a)", {":a": "5"}, False),
        ("ss IN (:a)", {":a": {"y", "x"}}, True),  # sets compare as sets
        ("attribute_exists(m.b.c)", None, True),
        ("attribute_exists(m.l[2])", None, True),
        ("attribute_exists(m.l[3])", None, False),
        ("attribute_exists(l[2][0])", None, True),
        ("attribute_not_exists(m.x)", None, True),
        ("attribute_exists(s.x)", None, False),
        ("attribute_type(n, :t)", {":t": "N"}, True),
        ("attribute_type(ss, :t)", {":t": "SS"}, True),
        ("attribute_type(z, :t)", {":t": "NULL"}, True),
        ("attribute_type(l, :t)", {":t": "M"}, False),
        ("begins_with(s, :p)", {":p": "he"}, True),
        ("begins_with(s, :p)", {":p": ""}, True),
        ("begins_with(b, :p)", {":p": b"\x01"}, True),
        ("begins_with(n, :p)", {":p": "5"}, False),
        ("contains(s, :v)", {":v": "ell"}, True),
        ("contains(ss, :v)", {":v": "x"}, True),
        ("contains(ns, :v)", {":v": 10}, True),
        ("contains(ns, :v)", {":v": "10"}, False),
        ("contains(bs, :v)", {":v": b"\x01"}, True),
        ("contains(b, :v)", {":v": b"\xff"}, True),
        ("contains(l, :v)", {":v": "two"}, True),
        ("contains(l, :v)", {":v": [3]}, True),
        ("contains(gone, :v)", {":v": "x"}, False),
        ("size(s) = :v", {":v": 5}, True),
        ("size(e) = :v", {":v": 0}, True),
        ("size(b) = :v", {":v": 2}, True),
        ("size(ss) = :v", {":v": 2}, True),
        ("size(l) = :v", {":v": 3}, True),
        ("size(m) = :v", {":v": 3}, True),
        ("size(n) = :v", {":v": 1}, False),  # no size for numbers: false, not an error
        ("size(gone) < :v", {":v": 1}, False),
        ("size(s) = :v", {":v": "5"}, False),
        ("size(:x) = :v", {":x": "abc", ":v": 3}, True),
        ("size(s) > m.a", None, True),
        ("m.a < m.l[1]", None, True),
        ("NOT n = :v", {":v": 5}, False),
        ("n = :v OR s = :v AND t = :v", {":v": 5}, True),  # AND binds tighter than OR
        ("(n = :v OR s = :v) AND t = :v", {":v": 5}, False),
        ("NOT attribute_exists(x) AND n = :v", {":v": 5}, True),
        ("n between :a and :b", {":a": 1, ":b": 9}, True),  # keywords in any case
        ("#k = :v", {":v": "hello"}, True),
    ],
)
def test_condition_evaluation(text: str, vals: dict[str, Any] | None, expected: bool) -> None:
    names = {"#k": "s"} if "#k" in text else None
    compiled = condition(text, vals, names=names)
    assert compiled.condition_holds(item()) is expected


def test_condition_on_a_missing_item() -> None:
    assert condition("attribute_not_exists(p)").condition_holds(None)
    assert not condition("attribute_exists(p)").condition_holds(None)
    assert condition("p <> :v", {":v": "x"}).condition_holds(None)


def test_names_resolve_to_literal_attribute_names() -> None:
    doc = item({"p": "k", "a.b": 1, "a": {"b": 2}})
    compiled = condition("#n = :v", {":v": 1}, names={"#n": "a.b"})
    assert compiled.condition_holds(doc)
    assert condition("a.b = :v", {":v": 2}).condition_holds(doc)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(condition=""), "Invalid ConditionExpression: The expression can not be empty;"),
        (
            dict(condition="size = :v", values={":v": 1}),
            "Invalid ConditionExpression: Attribute name is a reserved keyword; "
            "reserved keyword: size",
        ),
        (
            dict(condition="Name = :v", values={":v": 1}),
            "Invalid ConditionExpression: Attribute name is a reserved keyword; "
            "reserved keyword: Name",
        ),
        (
            dict(condition="a = :v"),
            "Invalid ConditionExpression: An expression attribute value used in expression "
            "is not defined; attribute value: :v",
        ),
        (
            dict(condition="#a = :v", values={":v": 1}),
            "Invalid ConditionExpression: An expression attribute name used in the document "
            "path is not defined; attribute name: #a",
        ),
        (
            dict(condition="a = :v", values={":v": 1, ":w": 2}),
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}",
        ),
        (
            dict(condition="a = :v", values={":v": 1}, names={"#a": "a", "#b": "b"}),
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #b}",
        ),
        (
            dict(condition="foo(a)"),
            "Invalid ConditionExpression: Invalid function name; function: foo",
        ),
        (
            dict(condition="SIZE(a) = :v", values={":v": 1}),
            "Invalid ConditionExpression: Invalid function name; function: SIZE",
        ),
        (
            dict(condition="size(a)"),
            "Invalid ConditionExpression: The function is not allowed to be used this way "
            "in an expression; function: size",
        ),
        (
            dict(condition="attribute_exists(a) = :v", values={":v": True}),
            "Invalid ConditionExpression: The function is not allowed to be used this way "
            "in an expression; function: attribute_exists",
        ),
        (
            dict(condition="if_not_exists(a, :v) = :v", values={":v": 1}),
            "Invalid ConditionExpression: The function is not allowed to be used this way "
            "in an expression; function: if_not_exists",
        ),
        (
            dict(condition="size(a, b) = :v", values={":v": 1}),
            "Invalid ConditionExpression: Incorrect number of operands for operator or "
            "function; operator or function: size, number of operands: 2",
        ),
        (
            dict(condition="size(:x) = :v", values={":x": 1, ":v": 1}),
            "Invalid ConditionExpression: Incorrect operand type for operator or function; "
            "operator or function: size, operand type: N",
        ),
        (
            dict(condition="size(size(a)) = :v", values={":v": 1}),
            "Invalid ConditionExpression: Incorrect operand type for operator or function; "
            "operator or function: size, operand type: N",
        ),
        (
            dict(condition="begins_with(a, :v)", values={":v": 1}),
            "Invalid ConditionExpression: Incorrect operand type for operator or function; "
            "operator or function: begins_with, operand type: N",
        ),
        (
            dict(condition="attribute_exists(:v)", values={":v": 1}),
            "Invalid ConditionExpression: Operator or function requires a document path; "
            "operator or function: attribute_exists",
        ),
        (
            dict(condition="attribute_type(a, :v)", values={":v": 1}),
            "Invalid ConditionExpression: Incorrect operand type for operator or function; "
            "operator or function: attribute_type, operand type: N",
        ),
        (
            dict(condition="attribute_type(a, :v)", values={":v": "STRING"}),
            "Invalid ConditionExpression: Invalid attribute type name found; type: STRING, "
            "valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
        ),
        (
            dict(condition="a = a"),
            "Invalid ConditionExpression: The first operand must be distinct from the "
            "remaining operands for this operator or function; operator: =, first operand: [a]",
        ),
        (
            dict(condition="contains(a.b, a.b)"),
            "Invalid ConditionExpression: The first operand must be distinct from the "
            "remaining operands for this operator or function; operator: contains, "
            "first operand: [a, b]",
        ),
        (
            dict(condition="a < :v", values={":v": [1]}),
            "Invalid ConditionExpression: Incorrect operand type for operator or function; "
            "operator or function: <, operand type: L",
        ),
        (
            dict(condition="a BETWEEN :x AND :y", values={":x": 5, ":y": 1}),
            "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be "
            "greater than or equal to lower bound; lower bound operand: AttributeValue: "
            "{N:5}, upper bound operand: AttributeValue: {N:1}",
        ),
        (
            dict(condition="a BETWEEN :x AND :y", values={":x": 5, ":y": "a"}),
            "Invalid ConditionExpression: The BETWEEN operator requires same data type for "
            "lower and upper bounds; lower bound operand: AttributeValue: {N}, upper bound "
            "operand: AttributeValue: {S}",
        ),
        (
            dict(condition="((a = :v))", values={":v": 1}),
            "Invalid ConditionExpression: The expression has redundant parentheses;",
        ),
        (
            dict(condition="a = :v AND", values={":v": 1}),
            'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: ":v AND"',
        ),
        (
            dict(condition="a == :v", values={":v": 1}),
            'Invalid ConditionExpression: Syntax error; token: "=", near: "== :v"',
        ),
        (
            dict(condition="_a = :v", values={":v": 1}),
            'Invalid ConditionExpression: Syntax error; token: "_", near: "_a"',
        ),
        (
            dict(condition="a" + ".b" * 32 + " = :v", values={":v": 1}),
            "Invalid ConditionExpression: The document path has too many nesting levels; "
            "nesting levels: 33",
        ),
        (
            dict(condition="a IN (" + ", ".join([":v"] * 101) + ")", values={":v": 1}),
            "Invalid ConditionExpression: The IN operator is provided with too many "
            "operands; number of operands: 101",
        ),
        (
            dict(condition=" OR ".join(["a < b"] * 151)),
            "Invalid ConditionExpression: The expression contains too many operators; "
            "operator count: 301",
        ),
        (
            dict(condition="a = :v" + " " * 4091, values={":v": 1}),
            "Invalid ConditionExpression: Expression size has exceeded the maximum allowed "
            "size; expression size: 4097",
        ),
        (dict(condition="a = :v", values={}), "ExpressionAttributeValues must not be empty"),
        (dict(condition="a = b", names={}), "ExpressionAttributeNames must not be empty"),
        (
            dict(condition="a = :v", values={"v": 1}),
            'ExpressionAttributeValues contains invalid key: Syntax error; key: "v"',
        ),
        (
            dict(condition="#a = b", names={"a": "a"}),
            'ExpressionAttributeNames contains invalid key: Syntax error; key: "a"',
        ),
        (
            dict(names={"#a": "a"}),
            "ExpressionAttributeNames can only be specified when using expressions",
        ),
        (
            dict(values={":v": 1}),
            "ExpressionAttributeValues can only be specified when using expressions: "
            "ConditionExpression is null",
        ),
    ],
)
def test_condition_validation(kwargs: dict[str, Any], message: str) -> None:
    if kwargs.get("values"):
        kwargs["values"] = values(kwargs["values"])
    assert error(lambda: compile_request("PutItem", **kwargs)) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (pb.AttributeValue(n="dog"), "The parameter cannot be converted to a numeric value: dog"),
        (
            pb.AttributeValue(n="1e126"),
            "Number overflow. Attempting to store a number with "
            "magnitude larger than supported range",
        ),
        (
            pb.AttributeValue(n="1e-131"),
            "Number underflow. Attempting to store a number with "
            "magnitude smaller than supported range",
        ),
        (
            pb.AttributeValue(n="1" * 39),
            "Attempting to store more than 38 significant digits in a Number",
        ),
        (
            pb.AttributeValue(ss=pb.StringSet()),
            "One or more parameter values were invalid: An string set  may not be empty",
        ),
        (
            pb.AttributeValue(ss=pb.StringSet(values=["a", "a"])),
            "One or more parameter values "
            "were invalid: Input collection [a, a] contains duplicates.",
        ),
        (
            pb.AttributeValue(),
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
        ),
    ],
)
def test_invalid_values(value: pb.AttributeValue, message: str) -> None:
    got = error(lambda: compile_request("PutItem", condition="a = :v", values={":v": value}))
    assert got == f"ExpressionAttributeValues contains invalid value: {message} for key :v"


def test_empty_strings_and_binaries_are_values() -> None:
    compiled = condition("e = :v", {":v": ""})
    assert compiled.condition_holds(item())


# ---------------------------------------------------------------- updates


def update(text: str, vals: dict[str, Any] | None = None, names: dict[str, str] | None = None):
    return compile_request(
        "UpdateItem",
        update=text,
        values=values(vals) if vals else None,
        names=names,
        schema=SCHEMA,
    )


def applied(text: str, vals: dict[str, Any] | None = None, start: dict[str, Any] | None = None):
    doc = item(start) if start is not None else item()
    return update(text, vals).apply_update(doc, items.from_plain({"p": "key"}))


@pytest.mark.parametrize(
    ("text", "vals", "start", "expected"),
    [
        ("SET a = :v", {":v": 1}, {"p": "k"}, {"p": "k", "a": 1}),
        ("SET a = a + :v", {":v": 2}, {"p": "k", "a": 1}, {"p": "k", "a": 3}),
        ("SET a = :v - a", {":v": 2}, {"p": "k", "a": 5}, {"p": "k", "a": -3}),
        (
            "SET a = :a + :b",
            {":a": 1, ":b": Decimal("10000000000000000000000")},
            {"p": "k"},
            {"p": "k", "a": Decimal("10000000000000000000001")},
        ),
        ("SET a = b, b = a", None, {"p": "k", "a": 1, "b": 2}, {"p": "k", "a": 2, "b": 1}),
        ("SET a = if_not_exists(a, :v)", {":v": 0}, {"p": "k"}, {"p": "k", "a": 0}),
        ("SET a = if_not_exists(a, :v)", {":v": 0}, {"p": "k", "a": 7}, {"p": "k", "a": 7}),
        (
            "SET a = if_not_exists(a, :z) + :v",
            {":z": 0, ":v": 3},
            {"p": "k"},
            {"p": "k", "a": 3},
        ),
        ("SET a = list_append(a, :v)", {":v": [3]}, {"p": "k", "a": [1]}, {"p": "k", "a": [1, 3]}),
        ("SET a = list_append(:v, a)", {":v": [3]}, {"p": "k", "a": [1]}, {"p": "k", "a": [3, 1]}),
        (
            "SET m.x = :v, m.b.c = :w",
            {":v": 1, ":w": 2},
            {"p": "k", "m": {"b": {"c": 0}}},
            {"p": "k", "m": {"x": 1, "b": {"c": 2}}},
        ),
        ("SET l[1] = :v", {":v": 9}, {"p": "k", "l": [1, 2]}, {"p": "k", "l": [1, 9]}),
        (
            "SET l[84] = :a, l[37] = :b, l[17] = :c",
            {":a": "a1", ":b": "a2", ":c": "a3"},
            {"p": "k", "l": [1]},
            {"p": "k", "l": [1, "a3", "a2", "a1"]},
        ),
        (
            "REMOVE a[1] SET a[3] = :v",
            {":v": 17},
            {"p": "k", "a": [2, 3, 4, 5, 6, 7]},
            {"p": "k", "a": [2, 4, 17, 6, 7]},
        ),
        (
            "REMOVE l[0], l[2]",
            None,
            {"p": "k", "l": [0, 1, 2, 3]},
            {"p": "k", "l": [1, 3]},
        ),
        ("REMOVE l[7], gone", None, {"p": "k", "l": [1]}, {"p": "k", "l": [1]}),
        ("REMOVE m.a", None, {"p": "k", "m": {"a": 1}}, {"p": "k", "m": {}}),
        ("ADD n :v", {":v": 2}, {"p": "k"}, {"p": "k", "n": 2}),
        ("ADD n :v", {":v": Decimal("-3.5")}, {"p": "k", "n": 1}, {"p": "k", "n": Decimal("-2.5")}),
        ("ADD s :v", {":v": {"b"}}, {"p": "k", "s": {"a"}}, {"p": "k", "s": {"a", "b"}}),
        ("ADD s :v", {":v": {1}}, {"p": "k"}, {"p": "k", "s": {1}}),
        ("ADD m.n :v", {":v": 1}, {"p": "k", "m": {}}, {"p": "k", "m": {"n": 1}}),
        ("DELETE s :v", {":v": {"a"}}, {"p": "k", "s": {"a", "b"}}, {"p": "k", "s": {"b"}}),
        ("DELETE s :v", {":v": {"a", "b"}}, {"p": "k", "s": {"a", "b"}}, {"p": "k"}),
        ("DELETE s :v", {":v": {2}}, {"p": "k", "s": {1, 2}}, {"p": "k", "s": {1}}),
        ("DELETE s :v", {":v": {"x"}}, {"p": "k"}, {"p": "k"}),
        ("set a = :v", {":v": ""}, {"p": "k"}, {"p": "k", "a": ""}),
        ("SET a = :v", {":v": []}, {"p": "k"}, {"p": "k", "a": []}),
    ],
)
def test_update_results(
    text: str, vals: dict[str, Any] | None, start: dict[str, Any], expected: dict[str, Any]
) -> None:
    result = applied(text, vals, start)
    assert result.item is not None
    assert items.to_plain(result.item) == expected


@pytest.mark.parametrize(
    ("text", "vals", "start", "message"),
    [
        (
            "SET a = b + :v",
            {":v": 1},
            {"p": "k"},
            "The provided expression refers to an attribute that does not exist in the item",
        ),
        (
            "SET a = list_append(b, :v)",
            {":v": [1]},
            {"p": "k"},
            "The provided expression refers to an attribute that does not exist in the item",
        ),
        (
            "SET a = a + :v",
            {":v": 1},
            {"p": "k", "a": "x"},
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "SET a = list_append(a, :v)",
            {":v": [1]},
            {"p": "k", "a": 1},
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "ADD a :v",
            {":v": 1},
            {"p": "k", "a": "x"},
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "ADD a :v",
            {":v": {"x"}},
            {"p": "k", "a": {1}},
            "An operand in the update expression has an incorrect data type",
        ),
        (
            "SET a.c = :v",
            {":v": 1},
            {"p": "k", "a": "hello"},
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "SET c.c = :v",
            {":v": 1},
            {"p": "k"},
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "SET a[0] = :v",
            {":v": 1},
            {"p": "k", "a": "hello"},
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "REMOVE c.c",
            None,
            {"p": "k"},
            "The document path provided in the update expression is invalid for update",
        ),
        (
            "SET a = :x + :y",
            {":x": Decimal("9e125"), ":y": Decimal("9e125")},
            {"p": "k"},
            "Number overflow. Attempting to store a number with magnitude larger than "
            "supported range",
        ),
        (
            "SET a = :x + :y",
            {":x": Decimal("1e50"), ":y": 1},
            {"p": "k"},
            "Number overflow. "
            "Attempting to store a number with magnitude larger than supported range",
        ),
        (
            "SET a = :v",
            {":v": "x" * 409_600},
            {"p": "k"},
            "Item size to update has exceeded the maximum allowed size",
        ),
    ],
)
def test_update_errors(
    text: str, vals: dict[str, Any] | None, start: dict[str, Any], message: str
) -> None:
    assert error(lambda: applied(text, vals, start)) == message


@pytest.mark.parametrize(
    ("text", "vals", "names", "message"),
    [
        (
            "SET a = :v, a.b = :v",
            {":v": 1},
            None,
            "Two document paths overlap with each "
            "other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]",
        ),
        (
            "SET a[1] = :v REMOVE a[1]",
            {":v": 1},
            None,
            "Two document paths overlap with each "
            "other; must remove or rewrite one of these paths; path one: [a, [1]], "
            "path two: [a, [1]]",
        ),
        (
            "SET #a = :v, #b = :v",
            {":v": 1},
            {"#a": "x", "#b": "x"},
            "Two document paths "
            "overlap with each other; must remove or rewrite one of these paths; path one: "
            "[x], path two: [x]",
        ),
        (
            "SET a.b = :v, a[1] = :v",
            {":v": 1},
            None,
            "Two document paths conflict with each "
            "other; must remove or rewrite one of these paths; path one: [a, b], "
            "path two: [a, [1]]",
        ),
        (
            "SET a = :v SET b = :v",
            {":v": 1},
            None,
            'The "SET" section can only be used once in an update expression;',
        ),
        (
            "ADD a :v",
            {":v": "x"},
            None,
            "Incorrect operand type for operator or function; operator: ADD, operand type: STRING",
        ),
        (
            "DELETE a :v",
            {":v": 1},
            None,
            "Incorrect operand type for operator or function; "
            "operator: DELETE, operand type: NUMBER",
        ),
        (
            "SET a = :v + :w",
            {":v": 1, ":w": "x"},
            None,
            "Incorrect operand type for operator "
            "or function; operator or function: +, operand type: S",
        ),
        (
            "SET a = list_append(:v, :w)",
            {":v": [1], ":w": 1},
            None,
            "Incorrect operand type "
            "for operator or function; operator or function: list_append, operand type: N",
        ),
        (
            "SET a = if_not_exists(:v, :w)",
            {":v": 1, ":w": 1},
            None,
            "Operator or function requires a document path; operator or function: if_not_exists",
        ),
        (
            "SET a = size(b)",
            None,
            None,
            "The function is not allowed to be used this way in an expression; function: size",
        ),
        (
            "SET a = list_append(:v)",
            {":v": [1]},
            None,
            "Incorrect number of operands for "
            "operator or function; operator or function: list_append, number of operands: 1",
        ),
        (
            "SET a = :v + :w + :w",
            {":v": 1, ":w": 1},
            None,
            'Syntax error; token: "+", near: ":w + :w"',
        ),
        ("SET a[#i] = :v", {":v": 1}, {"#i": "1"}, 'Syntax error; token: "#i", near: "[#i]"'),
        (
            "SET and = :v",
            {":v": 1},
            None,
            "Attribute name is a reserved keyword; reserved keyword: and",
        ),
    ],
)
def test_update_validation(
    text: str, vals: dict[str, Any] | None, names: dict[str, str] | None, message: str
) -> None:
    assert error(lambda: update(text, vals, names)) == f"Invalid UpdateExpression: {message}"


def test_key_attributes_cannot_be_updated() -> None:
    got = error(lambda: update("SET p = :v", {":v": "x"}))
    assert got == (
        "One or more parameter values were invalid: Cannot update attribute p. "
        "This attribute is part of the key"
    )


def test_updated_old_and_new_are_the_touched_paths() -> None:
    start = {"p": "k", "a": {"b": "dog", "c": [1, 2, 3]}, "d": "cat"}
    result = applied("SET a.c[1] = :v, a.b = :w, n = :v", {":v": 7, ":w": "x"}, start)
    assert items.to_plain(result.updated_old) == {"a": {"b": "dog", "c": [2]}}
    assert items.to_plain(result.updated_new) == {"a": {"b": "x", "c": [7]}, "n": 7}
    # Rewriting a value with itself still counts as an update.
    same = applied("SET d = :v", {":v": "cat"}, start)
    assert items.to_plain(same.updated_old) == {"d": "cat"}
    # Appending past the end is not in UPDATED_NEW; REMOVE shows the shifted element.
    appended = applied("SET a.c[100] = :v", {":v": 70}, start)
    assert appended.updated_new is None
    removed = applied("REMOVE a.c[1], a.c[3]", None, start)
    assert items.to_plain(removed.updated_old) == {"a": {"c": [2]}}
    assert items.to_plain(removed.updated_new) == {"a": {"c": [3]}}


def test_update_of_a_missing_item() -> None:
    key = items.from_plain({"p": "new"})
    created = update("SET a = :v", {":v": 1}).apply_update(None, key)
    assert items.to_plain(created.item) == {"p": "new", "a": 1}
    assert created.updated_old is None
    # Only removing things creates nothing, even below a gone parent.
    assert update("REMOVE x.y").apply_update(None, key).item is None
    assert update("DELETE s :v", {":v": {"x"}}).apply_update(None, key).item is None


def test_update_leaves_the_stored_item_alone() -> None:
    doc = item({"p": "k", "a": [1, 2]})
    before = doc.SerializeToString()
    applied_to = update("SET a[0] = :v REMOVE a[1]", {":v": 5})
    applied_to.apply_update(doc, items.from_plain({"p": "k"}))
    assert doc.SerializeToString() == before


# ---------------------------------------------------------------- projections


@pytest.mark.parametrize(
    ("text", "names", "expected"),
    [
        ("n, s", None, {"n": 5, "s": "hello"}),
        ("m.b.c", None, {"m": {"b": {"c": "deep"}}}),
        ("m.l[2], m.l[0]", None, {"m": {"l": [1, 3]}}),
        ("l[2][0]", None, {"l": [[3]]}),
        ("gone, m.x, l[9], n", None, {"n": 5}),
        ("#a.#b", {"#a": "m", "#b": "a"}, {"m": {"a": 1}}),
    ],
)
def test_projection(text: str, names: dict[str, str] | None, expected: dict[str, Any]) -> None:
    compiled = compile_request("GetItem", projection=text, names=names)
    assert items.to_plain(compiled.project(item())) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "a, a.b",
            "Two document paths overlap with each other; must remove or rewrite one "
            "of these paths; path one: [a], path two: [a, b]",
        ),
        (
            "a.b, a[0]",
            "Two document paths conflict with each other; must remove or rewrite "
            "one of these paths; path one: [a, b], path two: [a, [0]]",
        ),
        ("a, size", "Attribute name is a reserved keyword; reserved keyword: size"),
        ("a" + ".b" * 32, "The document path has too many nesting levels; nesting levels: 33"),
    ],
)
def test_projection_validation(text: str, message: str) -> None:
    got = error(lambda: compile_request("GetItem", projection=text))
    assert got == f"Invalid ProjectionExpression: {message}"


# ---------------------------------------------------------------- key conditions


@pytest.mark.parametrize(
    ("text", "vals", "op", "count"),
    [
        ("p = :p", {":p": "k"}, None, 0),
        ("p = :p AND s = :a", {":p": "k", ":a": 1}, "EQ", 1),
        ("s < :a AND p = :p", {":p": "k", ":a": 1}, "LT", 1),
        ("p = :p AND :a <= s", {":p": "k", ":a": 1}, "GE", 1),
        ("p = :p AND s BETWEEN :a AND :b", {":p": "k", ":a": 1, ":b": 2}, "BETWEEN", 2),
        ("#p = :p", {":p": "k"}, None, 0),
    ],
)
def test_key_condition(text: str, vals: dict[str, Any], op: str | None, count: int) -> None:
    names = {"#p": "p"} if "#p" in text else None
    compiled = compile_request(
        "Query", key_condition=text, values=values(vals), names=names, schema=SORTED
    )
    key = compiled.key_condition
    assert key is not None
    assert compiled.values[key.partition.values[0].name].s == "k"
    sort = key.sort_condition(compiled.values)
    if op is None:
        assert sort is None
        return
    assert sort is not None and sort.op == op
    assert sort.value.n == "1"
    assert (sort.high is not None and sort.high.n == "2") is (count == 2)


def test_begins_with_key_condition() -> None:
    schema = KeySchema("p", "S", "s", "S")
    compiled = compile_request(
        "Query",
        key_condition="p = :p AND begins_with(s, :x)",
        values=values({":p": "k", ":x": "ab"}),
        schema=schema,
    )
    sort = compiled.key_condition.sort_condition(compiled.values)  # type: ignore[union-attr]
    assert sort is not None and sort.op == "BEGINS_WITH" and sort.value.s == "ab"


@pytest.mark.parametrize(
    ("text", "vals", "message"),
    [
        (
            "p = :p OR s = :a",
            {":p": "k", ":a": 1},
            "Invalid operator used in KeyConditionExpression: OR",
        ),
        (
            "p = :p AND s <> :a",
            {":p": "k", ":a": 1},
            "Invalid operator used in KeyConditionExpression: <>",
        ),
        (
            "p = :p AND attribute_exists(s)",
            {":p": "k"},
            "Invalid operator used in KeyConditionExpression: attribute_exists",
        ),
        (
            "p = :p AND p = :p",
            {":p": "k"},
            "KeyConditionExpressions must only contain one condition per key",
        ),
        ("s = :a", {":a": 1}, "Query condition missed key schema element: p"),
        ("p = :p AND x = :a", {":p": "k", ":a": 1}, "Query condition missed key schema element: s"),
        ("p < :p", {":p": "k"}, "Query key condition not supported"),
        (
            "p = :p AND s = :a",
            {":p": "k", ":a": "x"},
            "One or more parameter values were "
            "invalid: Condition parameter type does not match schema type",
        ),
        (
            "p.x = :p",
            {":p": "k"},
            "KeyConditionExpressions cannot have conditions on nested attributes",
        ),
        (
            "p = :p AND s = :a AND s = :a",
            {":p": "k", ":a": 1},
            "Conditions can be of length 1 or 2 only",
        ),
    ],
)
def test_key_condition_validation(text: str, vals: dict[str, Any], message: str) -> None:
    got = error(
        lambda: compile_request("Query", key_condition=text, values=values(vals), schema=SORTED)
    )
    assert got == message


def test_query_filter_cannot_name_key_attributes() -> None:
    got = error(
        lambda: compile_request(
            "Query",
            key_condition="p = :p",
            filter="s > :a",
            values=values({":p": "k", ":a": 1}),
            schema=SORTED,
        )
    )
    assert got == (
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: s"
    )


def test_filter_expression() -> None:
    compiled = compile_request("Scan", filter="n > :v", values=values({":v": 4}))
    assert compiled.filter_matches(item())
    assert not compiled.filter_matches(item({"p": "k", "n": 3}))


# ---------------------------------------------------------------- caching


def test_compiled_templates_are_shared_and_values_checked_every_time() -> None:
    first = condition("a BETWEEN :x AND :y", {":x": 1, ":y": 2})
    second = condition("a BETWEEN :x AND :y", {":x": 3, ":y": 4})
    assert first.template is second.template
    assert second.condition_holds(item({"p": "k", "a": 3}))
    assert not first.condition_holds(item({"p": "k", "a": 3}))
    # The same text with values of other types compiles anew, and is checked anew.
    error(lambda: condition("a BETWEEN :x AND :y", {":x": 1, ":y": "z"}))
    error(lambda: condition("a BETWEEN :x AND :y", {":x": 5, ":y": 1}))
    assert _template.cache_info().hits > 0


# ---------------------------------------------------------------- legacy


def v(x: Any) -> pb.AttributeValue:
    return items.value_from_plain("v", x)


@pytest.mark.parametrize(
    ("expected", "operator", "holds"),
    [
        ({"n": {"Value": v(5)}}, None, True),
        ({"n": {"Exists": True, "Value": v(4)}}, None, False),
        ({"x": {"Exists": False}}, None, True),
        ({"n": {"ComparisonOperator": "GT", "AttributeValueList": [v(4)]}}, None, True),
        ({"x": {"ComparisonOperator": "NE", "AttributeValueList": [v(1)]}}, None, True),
        ({"x": {"ComparisonOperator": "NOT_CONTAINS", "AttributeValueList": [v(1)]}}, None, False),
        ({"ss": {"ComparisonOperator": "CONTAINS", "AttributeValueList": [v("x")]}}, None, True),
        ({"n": {"ComparisonOperator": "IN", "AttributeValueList": [v(1), v(5)]}}, None, True),
        ({"n": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [v(1), v(5)]}}, None, True),
        ({"s": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [v("he")]}}, None, True),
        ({"x": {"ComparisonOperator": "NULL"}}, None, True),
        ({"n": {"Value": v(1)}, "s": {"Value": v("hello")}}, "OR", True),
        ({"n": {"Value": v(1)}, "s": {"Value": v("hello")}}, "AND", False),
    ],
)
def test_legacy_expected(expected: dict[str, Any], operator: str | None, holds: bool) -> None:
    compiled = compile_legacy(expected=expected, conditional_operator=operator)
    assert compiled.condition_holds(item()) is holds


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            dict(expected={"a": {"Exists": True}}),
            "One or more parameter values were invalid: "
            "Value must be provided when Exists is true for Attribute: a",
        ),
        (
            dict(expected={"a": {"Exists": False, "Value": v(1)}}),
            "One or more parameter values "
            "were invalid: Value cannot be used when Exists is false for Attribute: a",
        ),
        (
            dict(expected={"a": {"ComparisonOperator": "EQ", "AttributeValueList": []}}),
            "One or "
            "more parameter values were invalid: Invalid number of argument(s) for the EQ "
            "ComparisonOperator",
        ),
        (
            dict(expected={"a": {"ComparisonOperator": "LT", "AttributeValueList": [v([1])]}}),
            "One or more parameter values were invalid: ComparisonOperator LT is not valid for L "
            "AttributeValue type",
        ),
        (
            dict(
                expected={
                    "a": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [v(5), v(1)]}
                }
            ),
            "The BETWEEN condition was provided a range where the lower bound is greater than "
            "the upper bound",
        ),
        (
            dict(attribute_updates={"a": {"Action": "PUT"}}),
            "One or more parameter values were "
            "invalid: Only DELETE action is allowed when no attribute value is specified",
        ),
        (
            dict(attribute_updates={"p": {"Value": v("x")}}, schema=SCHEMA),
            "One or more "
            "parameter values were invalid: Cannot update attribute p. This attribute is part "
            "of the key",
        ),
        (
            dict(attributes_to_get=["a", "a"]),
            "One or more parameter values were invalid: Duplicate value in attribute name: a",
        ),
    ],
)
def test_legacy_validation(kwargs: dict[str, Any], message: str) -> None:
    assert error(lambda: compile_legacy(**kwargs)) == message


@pytest.mark.parametrize(
    ("updates", "start", "expected"),
    [
        ({"a": {"Value": v(1)}}, {"p": "k"}, {"p": "k", "a": 1}),
        ({"a": {"Action": "DELETE"}}, {"p": "k", "a": 1}, {"p": "k"}),
        ({"a": {"Action": "ADD", "Value": v(2)}}, {"p": "k", "a": 1}, {"p": "k", "a": 3}),
        (
            {"a": {"Action": "ADD", "Value": v({"y"})}},
            {"p": "k", "a": {"x"}},
            {"p": "k", "a": {"x", "y"}},
        ),
        ({"a": {"Action": "ADD", "Value": v([2])}}, {"p": "k", "a": [1]}, {"p": "k", "a": [1, 2]}),
        ({"a": {"Action": "ADD", "Value": v([2])}}, {"p": "k"}, {"p": "k", "a": [2]}),
        (
            {"a": {"Action": "DELETE", "Value": v({1})}},
            {"p": "k", "a": {1, 2}},
            {"p": "k", "a": {2}},
        ),
        ({}, {"p": "k", "a": 1}, {"p": "k", "a": 1}),
    ],
)
def test_legacy_attribute_updates(
    updates: dict[str, Any], start: dict[str, Any], expected: dict[str, Any]
) -> None:
    compiled = compile_legacy(attribute_updates=updates, schema=SCHEMA)
    result = compiled.apply_update(item(start), items.from_plain({"p": "k"}))
    assert items.to_plain(result.item) == expected


def test_legacy_type_mismatch_and_missing_items() -> None:
    mismatch = compile_legacy(attribute_updates={"a": {"Action": "ADD", "Value": v({"x"})}})
    got = error(lambda: mismatch.apply_update(item({"p": "k", "a": {1}}), item({"p": "k"})))
    assert got == "Type mismatch for attribute to update"
    key = items.from_plain({"p": "new"})
    remove = compile_legacy(attribute_updates={"a": {"Action": "DELETE"}})
    assert remove.apply_update(None, key).item is None
    empty = compile_legacy(attribute_updates={})
    assert items.to_plain(empty.apply_update(None, key).item) == {"p": "new"}


def test_legacy_key_conditions_and_filters() -> None:
    compiled = compile_legacy(
        key_conditions={
            "p": {"ComparisonOperator": "EQ", "AttributeValueList": [v("k")]},
            "s": {"ComparisonOperator": "GE", "AttributeValueList": [v(3)]},
        },
        query_filter={"n": {"ComparisonOperator": "GT", "AttributeValueList": [v(1)]}},
        attributes_to_get=["n"],
        schema=SORTED,
    )
    sort = compiled.key_condition.sort_condition(compiled.values)  # type: ignore[union-attr]
    assert sort is not None and sort.op == "GE" and sort.value.n == "3"
    assert compiled.filter_matches(item())
    assert items.to_plain(compiled.project(item())) == {"n": 5}
    got = error(
        lambda: compile_legacy(
            key_conditions={"p": {"ComparisonOperator": "NE", "AttributeValueList": [v("k")]}},
            schema=SORTED,
        )
    )
    assert got == "Attempted conditional constraint is not an indexable operation"


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        (
            {"UpdateExpression": "SET a = :v", "AttributeUpdates": {}},
            "Non-expression "
            "parameters: {AttributeUpdates} Expression parameters: {UpdateExpression}",
        ),
        (
            {"ProjectionExpression": "a", "AttributesToGet": ["a"]},
            "Non-expression parameters: "
            "{AttributesToGet} Expression parameters: {ProjectionExpression}",
        ),
        (
            {"ConditionExpression": "a = :v", "Expected": {}, "ConditionalOperator": "OR"},
            "Non-expression parameters: {Expected, ConditionalOperator} Expression parameters: "
            "{ConditionExpression}",
        ),
    ],
)
def test_mixing_legacy_and_expressions(parameters: dict[str, Any], message: str) -> None:
    got = error(lambda: check_not_mixed(parameters))
    assert got == (
        f"Can not use both expression and non-expression parameters in the same request: {message}"
    )


def test_query_may_mix_key_conditions_with_expressions() -> None:
    check_not_mixed({"KeyConditions": {}, "FilterExpression": "a = :v"})
