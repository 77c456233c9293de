"""Filter patterns (EventBridge syntax) matched against event records. Pure.

Patterns are validated and compiled by ``meridian.config.parse_filter``; this module
decides whether one event record (the JSON object a function receives in ``Records``)
matches. A trigger with several patterns takes a record when any pattern matches; inside
one pattern every field must match. A field's value list matches when any entry matches
any of the record's values there (lists in the record are flattened, as EventBridge does).

Differences from Lambda, all additive: ``exists`` also works on a mapping (``NewImage``),
``numeric`` also compares numbers written as strings (DynamoDB ``N`` values), a number in
a pattern equals a string holding the same number, and the string ``${region}`` stands for
the runner's region (``{"meridian": {"origin": ["${region}"]}}`` keeps local writes only).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from meridian.config import FilterMatcher, FilterPattern, parse_filter

__all__ = ["bind", "compile_pattern", "matches", "matches_any"]

REGION_VARIABLE = "${region}"
_ABSENT: list[Any] = []


def compile_pattern(pattern: Any) -> FilterPattern:
    """A pattern from a mapping or JSON text; ConfigError when it is malformed."""
    return parse_filter(pattern, "pattern")


def matches_any(patterns: Sequence[FilterPattern], record: Any) -> bool:
    """True when there are no patterns or at least one matches."""
    return not patterns or any(matches(p, record) for p in patterns)


def matches(pattern: FilterPattern, record: Any) -> bool:
    for key, rule in pattern.fields:
        values = _children(record, key)
        if isinstance(rule, FilterPattern):
            nested = [v for v in _flatten(values) if isinstance(v, dict)] or [{}]
            if not any(matches(rule, v) for v in nested):
                return False
        elif not _leaf(rule, _flatten(values)):
            return False
    return all(any(matches(p, record) for p in group) for group in pattern.any_of)


# --------------------------------------------------------------------------- values


def _children(obj: Any, key: str) -> list[Any]:
    """The values under ``key``; lists on the way are searched element by element."""
    if isinstance(obj, dict):
        return [obj[key]] if key in obj else _ABSENT
    if isinstance(obj, list):
        return [v for element in obj for v in _children(element, key)]
    return _ABSENT


def _flatten(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if isinstance(value, list):
            out.extend(_flatten(value))
        else:
            out.append(value)
    return out


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, str) and value.strip() == value and value:
        try:
            number = Decimal(value)
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _equal(expected: Any, value: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool) or expected is None or value is None:
        return type(expected) is type(value) and expected == value
    if isinstance(expected, str):
        return isinstance(value, str) and value == expected
    # a number in the pattern: numbers and numeric strings compare by value
    number = _number(value)
    return number is not None and number == _number(expected)


_COMPARE = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _scalar_match(m: FilterMatcher, value: Any) -> bool:
    if isinstance(value, dict):
        return False
    op = m.op
    if op == "equals":
        return _equal(m.value, value)
    if op == "numeric":
        number = _number(value)
        return number is not None and all(_COMPARE[o](number, n) for o, n in m.value)
    if not isinstance(value, str):
        return op == "anything-but" and not any(_equal(e, value) for e in m.value)
    if op == "prefix":
        return value.startswith(m.value)
    if op == "suffix":
        return value.endswith(m.value)
    if op == "equals-ignore-case":
        return value.casefold() == str(m.value).casefold()
    if op == "anything-but":
        return not any(_equal(e, value) for e in m.value)
    if op == "anything-but-prefix":
        return not value.startswith(m.value)
    if op == "anything-but-suffix":
        return not value.endswith(m.value)
    return False


def _leaf(matchers: tuple[FilterMatcher, ...], values: list[Any]) -> bool:
    for m in matchers:
        if m.op == "exists":
            if bool(values) == m.value:
                return True
        elif m.op.startswith("anything-but"):
            # every value present must differ; a missing field does not match
            if values and all(_scalar_match(m, v) for v in values):
                return True
        elif any(_scalar_match(m, v) for v in values):
            return True
    return False


# --------------------------------------------------------------------------- variables


def bind(pattern: FilterPattern, region: str) -> FilterPattern:
    """The pattern with ``${region}`` replaced by ``region`` in every string operand."""
    fields = tuple(
        (key, bind(rule, region) if isinstance(rule, FilterPattern) else _bind_all(rule, region))
        for key, rule in pattern.fields
    )
    any_of = tuple(tuple(bind(p, region) for p in group) for group in pattern.any_of)
    return FilterPattern(fields, any_of, pattern.text.replace(REGION_VARIABLE, region))


def _bind_all(matchers: tuple[FilterMatcher, ...], region: str) -> tuple[FilterMatcher, ...]:
    return tuple(FilterMatcher(m.op, _bind_value(m.value, region)) for m in matchers)


def _bind_value(value: Any, region: str) -> Any:
    if isinstance(value, str):
        return value.replace(REGION_VARIABLE, region)
    if isinstance(value, tuple) and all(not isinstance(v, tuple) for v in value):
        return tuple(_bind_value(v, region) for v in value)
    return value
