"""Trigger filter patterns (EventBridge syntax), validated and compiled into matchers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from meridian.config.errors import ConfigError
from meridian.config.values import bool_value, key_path, show_value

MAX_FILTERS = 5


@dataclass(frozen=True, slots=True)
class FilterMatcher:
    """One rule of a filter pattern's value list (EventBridge syntax).

    ``op`` is one of equals, prefix, suffix, equals-ignore-case, anything-but,
    anything-but-prefix, anything-but-suffix, exists, numeric. ``value`` holds the operand:
    a scalar (equals), a string, a tuple of scalars (anything-but), a bool (exists) or a
    tuple of (operator, Decimal) pairs (numeric).
    """

    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class FilterPattern:
    """A validated filter pattern: every field must match (AND); ``any_of`` holds the
    ``$or`` alternatives (one of each group must match)."""

    fields: tuple[tuple[str, FilterPattern | tuple[FilterMatcher, ...]], ...]
    any_of: tuple[tuple[FilterPattern, ...], ...] = ()
    text: str = ""  # the pattern as compact JSON, for messages


_NUMERIC_OPS = ("<", "<=", "=", ">", ">=")


def parse_filter(value: Any, path: str) -> FilterPattern:
    """A filter pattern (EventBridge syntax) given as a mapping or as JSON text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    return filter_pattern(value, path)


def filter_pattern(value: Any, path: str) -> FilterPattern:
    if not isinstance(value, dict) or not value:
        raise ConfigError(
            f"{path}: expected a non-empty mapping of field: [values] or field: {{...}}, "
            f"got {show_value(value)}"
        )
    fields: list[tuple[str, FilterPattern | tuple[FilterMatcher, ...]]] = []
    any_of: list[tuple[FilterPattern, ...]] = []
    for key, rule in value.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"{path}: expected field names, got {show_value(key)}")
        where = key_path(path, key)
        if key == "$or":
            if not isinstance(rule, list) or len(rule) < 2:
                raise ConfigError(f"{where}: expected a list of at least two patterns")
            any_of.append(tuple(filter_pattern(p, f"{where}[{i}]") for i, p in enumerate(rule)))
        elif key.startswith("$"):
            raise ConfigError(
                f"{where}: unknown operator {show_value(key)} (only $or is supported)"
            )
        elif isinstance(rule, dict):
            fields.append((key, filter_pattern(rule, where)))
        elif isinstance(rule, list):
            if not rule:
                raise ConfigError(f"{where}: expected at least one value to match")
            fields.append((key, tuple(_matcher(m, f"{where}[{i}]") for i, m in enumerate(rule))))
        else:
            raise ConfigError(
                f"{where}: expected a list of values to match or a nested mapping, got "
                f"{show_value(rule)} (write [{show_value(rule)}])"
            )
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return FilterPattern(tuple(fields), tuple(any_of), text)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _matcher(value: Any, path: str) -> FilterMatcher:
    if _scalar(value):
        return FilterMatcher("equals", value)
    if not isinstance(value, dict) or len(value) != 1:
        raise ConfigError(
            f"{path}: expected a value or one of {{prefix: ...}}, {{suffix: ...}}, "
            f"{{equals-ignore-case: ...}}, {{anything-but: ...}}, {{exists: ...}}, "
            f"{{numeric: [...]}}, got {show_value(value)}"
        )
    ((op, operand),) = value.items()
    where = key_path(path, str(op))
    if op in ("prefix", "suffix", "equals-ignore-case"):
        if not isinstance(operand, str):
            raise ConfigError(f"{where}: expected a string, got {show_value(operand)}")
        return FilterMatcher(op, operand)
    if op == "exists":
        return FilterMatcher(op, bool_value(operand, where))
    if op == "anything-but":
        return _anything_but(operand, where)
    if op == "numeric":
        return FilterMatcher(op, _numeric(operand, where))
    raise ConfigError(
        f"{path}: unknown operator {show_value(op)} (expected prefix, suffix, equals-ignore-case, "
        f"anything-but, exists or numeric)"
    )


def _anything_but(operand: Any, path: str) -> FilterMatcher:
    if isinstance(operand, dict):
        if len(operand) == 1:
            ((op, text),) = operand.items()
            if op in ("prefix", "suffix") and isinstance(text, str):
                return FilterMatcher(f"anything-but-{op}", text)
        raise ConfigError(
            f"{path}: expected a value, a list of values, {{prefix: TEXT}} or {{suffix: TEXT}}, "
            f"got {show_value(operand)}"
        )
    values = operand if isinstance(operand, list) else [operand]
    if not values or not all(_scalar(v) and v is not None for v in values):
        raise ConfigError(f"{path}: expected a value or a non-empty list of values")
    return FilterMatcher("anything-but", tuple(values))


def _numeric(operand: Any, path: str) -> tuple[tuple[str, Decimal], ...]:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise ConfigError(
            f'{path}: expected [OP, NUMBER] or [OP, NUMBER, OP, NUMBER] like [">", 0]'
        )
    pairs = []
    for i in range(0, len(operand), 2):
        op, number = operand[i], operand[i + 1]
        if op not in _NUMERIC_OPS:
            raise ConfigError(
                f"{path}[{i}]: expected one of {', '.join(_NUMERIC_OPS)}, got {show_value(op)}"
            )
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ConfigError(f"{path}[{i + 1}]: expected a number, got {show_value(number)}")
        pairs.append((op, Decimal(str(number))))
    return tuple(pairs)
