"""Attribute values as expressions see them: type names, validation with DynamoDB's
messages, numbers and exact arithmetic."""

from __future__ import annotations

import decimal
import itertools
import re
from collections.abc import Iterable
from decimal import Decimal

from meridian.expressions.errors import ExpressionError
from meridian.expressions.model import (
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_EXPONENT,
    MIN_EXPONENT,
    AttributeValue,
    Item,
    normalize_item,
    normalize_number,
)

# DynamoDB's type names, by the name of the AttributeValue oneof member.
TYPE_NAMES = {
    "s": "S",
    "n": "N",
    "b": "B",
    "bool": "BOOL",
    "null": "NULL",
    "l": "L",
    "m": "M",
    "ss": "SS",
    "ns": "NS",
    "bs": "BS",
}
KINDS = {name: kind for kind, name in TYPE_NAMES.items()}
SET_KINDS = frozenset(("ss", "ns", "bs"))
ORDERED_KINDS = frozenset(("s", "n", "b"))  # the types < <= > >= BETWEEN compare

OVERFLOW = (
    "Number overflow. Attempting to store a number with magnitude larger than supported range"
)
UNDERFLOW = (
    "Number underflow. Attempting to store a number with magnitude smaller than supported range"
)
TOO_PRECISE = f"Attempting to store more than {MAX_DIGITS} significant digits in a Number"
NESTING = "Nesting Levels have exceeded supported limits."

_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

# Exact arithmetic: numbers have at most 38 digits and exponents within +-130, so sums and
# differences never need more than a few hundred digits; anything inexact is an overflow.
_EXACT = decimal.Context(
    prec=400,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.Inexact, decimal.Rounded, decimal.Overflow, decimal.InvalidOperation],
)


def type_name(v: AttributeValue) -> str:
    """DynamoDB's name of the value's type: S, N, B, BOOL, NULL, L, M, SS, NS or BS."""
    return TYPE_NAMES[v.WhichOneof("value")]


# ---------------------------------------------------------------- numbers


def number_problem(text: str) -> str | None:
    """Why DynamoDB refuses `text` as a number, or None if it accepts it."""
    if not _NUMBER.fullmatch(text):
        return f"The parameter cannot be converted to a numeric value: {text}"
    try:
        d = Decimal(text)
    except decimal.InvalidOperation:  # an exponent beyond what decimal can hold
        return OVERFLOW if "-" not in text.lower().partition("e")[2] else UNDERFLOW
    return _magnitude_problem(d, TOO_PRECISE)


def _magnitude_problem(d: Decimal, too_precise: str) -> str | None:
    if d.is_zero():
        return None
    if d.adjusted() > MAX_EXPONENT:
        return OVERFLOW
    if d.adjusted() < MIN_EXPONENT:
        return UNDERFLOW
    if len(d.normalize(_EXACT).as_tuple().digits) > MAX_DIGITS:
        return too_precise
    return None


def to_decimal(v: AttributeValue) -> Decimal:
    return Decimal(v.n)


def number_value(d: Decimal) -> AttributeValue:
    """The result of arithmetic as a number value; ValidationException when DynamoDB could
    not store it (its message says overflow for too many digits too)."""
    problem = _magnitude_problem(d, OVERFLOW)
    if problem is not None:
        raise ExpressionError(problem)
    return AttributeValue(n=normalize_number("", str(d)))


def add(a: Decimal, b: Decimal) -> Decimal:
    try:
        return _EXACT.add(a, b)
    except decimal.DecimalException:
        raise ExpressionError(OVERFLOW) from None


def subtract(a: Decimal, b: Decimal) -> Decimal:
    try:
        return _EXACT.subtract(a, b)
    except decimal.DecimalException:
        raise ExpressionError(OVERFLOW) from None


# ---------------------------------------------------------------- validation


def value_problem(v: AttributeValue, depth: int = 0) -> str | None:
    """Why DynamoDB refuses the attribute value `v` (its message), or None."""
    if depth > MAX_DEPTH:
        return NESTING
    kind = v.WhichOneof("value")
    if kind is None:
        return (
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
        )
    if kind == "n":
        return number_problem(v.n)
    if kind == "null" and not v.null:
        return (
            "One or more parameter values were invalid: "
            "Null attribute value types must have the value of true"
        )
    if kind in SET_KINDS:
        return _set_problem(kind, getattr(v, kind).values)
    if kind == "l":
        return _first(value_problem(element, depth + 1) for element in v.l.values)
    if kind == "m":
        return _first(value_problem(member, depth + 1) for member in v.m.fields.values())
    return None


def _first(problems: Iterable[str | None]) -> str | None:
    return next((p for p in problems if p is not None), None)


def _set_problem(kind: str, members: Iterable[str] | Iterable[bytes]) -> str | None:
    values = list(members)
    if not values:
        return {
            "ss": "One or more parameter values were invalid: An string set  may not be empty",
            "ns": "One or more parameter values were invalid: An number set  may not be empty",
            "bs": "One or more parameter values were invalid: Binary sets should not be empty",
        }[kind]
    if kind == "ns":
        problem = _first(number_problem(str(m)) for m in values)
        if problem is not None:
            return problem
        if len({Decimal(str(m)) for m in values}) != len(values):
            return "Input collection contains duplicates"
    elif len(set(values)) != len(values):
        shown = ", ".join(str(m) for m in values)
        suffix = "of type BS " if kind == "bs" else " "
        return (
            "One or more parameter values were invalid: "
            f"Input collection [{shown}]{suffix}contains duplicates."
        )
    return None


def normalized(v: AttributeValue) -> AttributeValue:
    """`v` with numbers spelled canonically and set members sorted (a copy if needed)."""
    kind = v.WhichOneof("value")
    if kind in ("s", "b", "bool", "null"):
        return v
    if kind == "n":
        canonical = normalize_number("", v.n)
        return v if canonical == v.n else AttributeValue(n=canonical)
    if kind in ("ss", "bs"):
        members = getattr(v, kind).values
        if all(a < b for a, b in itertools.pairwise(members)):
            return v
    holder = Item()
    holder.attributes["v"].CopyFrom(v)
    normalize_item(holder)
    return holder.attributes["v"]
