"""Evaluate conditions on items.

Compiling turns a condition into nested closures once; evaluating calls them with the
item's attributes and the request's values. As in DynamoDB, a missing attribute or a type
mismatch makes a comparison false, never an error (except ``<>``, true unless both sides
exist and are equal). Numbers compare as decimals, strings by UTF-8 bytes (the order of
code points), binary values by unsigned bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from meridian.expressions import nodes as n
from meridian.expressions.model import AttributeValue, values_equal
from meridian.expressions.values import KINDS, ORDERED_KINDS, SET_KINDS

Attributes = Mapping[str, AttributeValue]
Values = Mapping[str, AttributeValue]
Getter = Callable[[Attributes, Values], AttributeValue | None]
Predicate = Callable[[Attributes, Values], bool]

EMPTY: Attributes = {}


def resolve(attributes: Attributes, elements: tuple[n.PathElement, ...]) -> AttributeValue | None:
    """The value at a document path, or None if there is none."""
    value = attributes.get(elements[0])  # type: ignore[arg-type]
    for element in elements[1:]:
        if value is None:
            return None
        if isinstance(element, int):
            if value.WhichOneof("value") != "l":
                return None
            elements_ = value.l.values
            value = elements_[element] if element < len(elements_) else None
        else:
            if value.WhichOneof("value") != "m":
                return None
            value = value.m.fields.get(element)
    return value


# ---------------------------------------------------------------- operands


def compile_operand(operand: n.Operand) -> Getter:
    if isinstance(operand, n.Path):
        elements = operand.elements
        if len(elements) == 1:
            name = elements[0]
            return lambda attributes, values: attributes.get(name)  # type: ignore[arg-type]
        return lambda attributes, values: resolve(attributes, elements)
    if isinstance(operand, n.Value):
        placeholder = operand.name
        return lambda attributes, values: values[placeholder]
    # size() is the only function that yields an operand in a condition.
    inner = compile_operand(operand.args[0])
    return lambda attributes, values: size(inner(attributes, values))


def size(value: AttributeValue | None) -> AttributeValue | None:
    """size(): UTF-8 bytes of a string, bytes of a binary, members of a set, list or map;
    None (so any comparison is false) for other types and missing values."""
    if value is None:
        return None
    kind = value.WhichOneof("value")
    if kind == "s":
        length = len(value.s.encode())
    elif kind == "b":
        length = len(value.b)
    elif kind in SET_KINDS:
        length = len(getattr(value, kind).values)
    elif kind == "l":
        length = len(value.l.values)
    elif kind == "m":
        length = len(value.m.fields)
    else:
        return None
    return AttributeValue(n=str(length))


# ---------------------------------------------------------------- comparisons


def _key(value: AttributeValue, kind: str) -> Any:
    return Decimal(value.n) if kind == "n" else getattr(value, kind)


def ordered(a: AttributeValue | None, b: AttributeValue | None) -> tuple[Any, Any] | None:
    """Comparable keys of two values of one ordered type (S, N or B), else None."""
    if a is None or b is None:
        return None
    kind = a.WhichOneof("value")
    if kind not in ORDERED_KINDS or kind != b.WhichOneof("value"):
        return None
    return _key(a, kind), _key(b, kind)


def equal(a: AttributeValue | None, b: AttributeValue | None) -> bool:
    return a is not None and b is not None and values_equal(a, b)


_ORDER_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda x, y: x < y,
    "<=": lambda x, y: x <= y,
    ">": lambda x, y: x > y,
    ">=": lambda x, y: x >= y,
}


def _compare(op: str, left: Getter, right: Getter) -> Predicate:
    if op == "=":
        return lambda attributes, values: equal(left(attributes, values), right(attributes, values))
    if op == "<>":
        return lambda attributes, values: (
            not equal(left(attributes, values), right(attributes, values))
        )
    test = _ORDER_TESTS[op]

    def predicate(attributes: Attributes, values: Values) -> bool:
        keys = ordered(left(attributes, values), right(attributes, values))
        return keys is not None and test(*keys)

    return predicate


def _between(subject: Getter, low: Getter, high: Getter) -> Predicate:
    def predicate(attributes: Attributes, values: Values) -> bool:
        value = subject(attributes, values)
        lower = ordered(value, low(attributes, values))
        upper = ordered(value, high(attributes, values))
        return lower is not None and upper is not None and lower[1] <= lower[0] <= upper[1]

    return predicate


def _in(subject: Getter, choices: tuple[Getter, ...]) -> Predicate:
    def predicate(attributes: Attributes, values: Values) -> bool:
        value = subject(attributes, values)
        return value is not None and any(equal(value, c(attributes, values)) for c in choices)

    return predicate


# ---------------------------------------------------------------- functions


def begins_with(value: AttributeValue | None, prefix: AttributeValue | None) -> bool:
    if value is None or prefix is None:
        return False
    kind = value.WhichOneof("value")
    if kind not in ("s", "b") or kind != prefix.WhichOneof("value"):
        return False
    return bool(getattr(value, kind).startswith(getattr(prefix, kind)))


def contains(value: AttributeValue | None, operand: AttributeValue | None) -> bool:
    """contains(): substring of a string, bytes within a binary, member of a set of the
    operand's type, or element of a list equal to the operand."""
    if value is None or operand is None:
        return False
    kind, operand_kind = value.WhichOneof("value"), operand.WhichOneof("value")
    if kind in ("s", "b"):
        return kind == operand_kind and getattr(operand, kind) in getattr(value, kind)
    if kind in SET_KINDS:
        if kind[0] != operand_kind:
            return False
        if kind == "ns":
            wanted = Decimal(operand.n)
            return any(Decimal(m) == wanted for m in value.ns.values)
        return getattr(operand, operand_kind) in getattr(value, kind).values
    if kind == "l":
        return any(values_equal(element, operand) for element in value.l.values)
    return False


def attribute_type(value: AttributeValue | None, type_name: AttributeValue | None) -> bool:
    if value is None or type_name is None:
        return False
    return KINDS.get(type_name.s) == value.WhichOneof("value")


_BINARY_FUNCTIONS: dict[str, Callable[[AttributeValue | None, AttributeValue | None], bool]] = {
    "begins_with": begins_with,
    "contains": contains,
    "attribute_type": attribute_type,
}


def _call(call: n.Call) -> Predicate:
    if call.name in ("attribute_exists", "attribute_not_exists"):
        target = compile_operand(call.args[0])
        if call.name == "attribute_exists":
            return lambda attributes, values: target(attributes, values) is not None
        return lambda attributes, values: target(attributes, values) is None
    function = _BINARY_FUNCTIONS[call.name]
    first, second = (compile_operand(arg) for arg in call.args)
    return lambda attributes, values: function(
        first(attributes, values), second(attributes, values)
    )


# ---------------------------------------------------------------- conditions


def compile_condition(condition: n.Condition) -> Predicate:
    """A predicate ``(attributes, values) -> bool`` for a built (valid) condition."""
    if isinstance(condition, n.And):
        left, right = compile_condition(condition.left), compile_condition(condition.right)
        return lambda attributes, values: left(attributes, values) and right(attributes, values)
    if isinstance(condition, n.Or):
        left, right = compile_condition(condition.left), compile_condition(condition.right)
        return lambda attributes, values: left(attributes, values) or right(attributes, values)
    if isinstance(condition, n.Not):
        inner = compile_condition(condition.operand)
        return lambda attributes, values: not inner(attributes, values)
    if isinstance(condition, n.Compare):
        return _compare(
            condition.op, compile_operand(condition.left), compile_operand(condition.right)
        )
    if isinstance(condition, n.Between):
        return _between(
            *(compile_operand(o) for o in (condition.subject, condition.low, condition.high))
        )
    if isinstance(condition, n.In):
        return _in(
            compile_operand(condition.subject),
            tuple(compile_operand(c) for c in condition.choices),
        )
    return _call(condition)
