"""Write conditions and UpdateItem actions over DynamoDB-style items.

Everything here is pure: inputs are never mutated and results are new messages.

* ``check_conditions`` raises ``ConditionFailed`` when a condition does not hold, and
  ``ItemError`` when a condition is malformed (every condition is validated before any is
  evaluated, so a malformed request is always reported as such).
* ``apply_updates`` returns the item an UpdateItem would write. Set results (ADD, DELETE)
  keep their members in canonical order (strings by UTF-8 bytes, numbers numerically,
  bytes lexicographically) so equal sets serialize identically.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Collection, Sequence
from decimal import Decimal

from meridian.model.items import ItemError, normalize_number, validate_value, values_equal
from meridian.pb import node_pb2 as pb

__all__ = ["ConditionFailed", "apply_updates", "check_conditions"]

_TYPE_NAMES = {
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
_SET_KINDS = frozenset({"ss", "ns", "bs"})
_SET_NOUNS = {"ss": "string", "ns": "number", "bs": "binary"}
_MAX_DIGITS = 38
_SHOWN_CHARS = 64

# Exact arithmetic for ADD: anything that would need rounding is an overflow.
_EXACT = decimal.Context(
    prec=400,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.Inexact, decimal.Rounded, decimal.Overflow, decimal.InvalidOperation],
)


class ConditionFailed(Exception):
    """A write condition does not hold; the message says which one and why."""


# ---------------------------------------------------------------- conditions


def check_conditions(
    conditions: Sequence[pb.Condition],
    current: pb.Item | None,
    version: pb.Version | None,
) -> None:
    """Raise ``ConditionFailed`` unless every condition holds.

    ``current`` is None when there is no live item (missing or tombstoned); ``version`` is
    the stored version, if any (a tombstone has one).
    """
    for index, condition in enumerate(conditions):
        _validate_condition(index, condition)
    for condition in conditions:
        reason = _condition_failure(condition, current, version)
        if reason is not None:
            raise ConditionFailed(f"condition failed: {reason}")


def _validate_condition(index: int, condition: pb.Condition) -> None:
    kind = condition.WhichOneof("kind")
    where = f"condition[{index}]"
    if kind is None:
        raise ItemError(f"{where}: no kind set")
    if kind in ("item_exists", "item_not_exists") and not getattr(condition, kind):
        raise ItemError(f"{where}: {kind} must be true when set")
    if kind in ("attribute_exists", "attribute_not_exists") and not getattr(condition, kind):
        raise ItemError(f"{where}: {kind} needs an attribute name")
    if kind == "attribute_equals":
        if not condition.attribute_equals.name:
            raise ItemError(f"{where}: attribute_equals needs an attribute name")
        if condition.attribute_equals.value.WhichOneof("value") is None:
            raise ItemError(f"{where}: attribute_equals needs a value")
        validate_value(condition.attribute_equals.name, condition.attribute_equals.value)


def _condition_failure(
    condition: pb.Condition, current: pb.Item | None, version: pb.Version | None
) -> str | None:
    """Why ``condition`` does not hold, or None when it holds."""
    kind = condition.WhichOneof("kind")
    if kind == "item_exists":
        return "item does not exist" if current is None else None
    if kind == "item_not_exists":
        return "item exists" if current is not None else None
    if kind == "attribute_exists":
        name = condition.attribute_exists
        return None if _lookup(current, name) is not None else f"attribute '{name}' does not exist"
    if kind == "attribute_not_exists":
        name = condition.attribute_not_exists
        return f"attribute '{name}' exists" if _lookup(current, name) is not None else None
    if kind == "attribute_equals":
        return _equals_failure(condition.attribute_equals, current)
    return _version_failure(condition.version_equals, version)


def _lookup(item: pb.Item | None, name: str) -> pb.AttributeValue | None:
    return None if item is None else item.attributes.get(name)


def _equals_failure(expected: pb.AttributeEquals, current: pb.Item | None) -> str | None:
    actual = _lookup(current, expected.name)
    if actual is not None and values_equal(actual, expected.value):
        return None
    found = "does not exist" if actual is None else f"is {_describe(actual)}"
    return f"attribute '{expected.name}' {found}, expected {_describe(expected.value)}"


def _version_failure(expected: pb.Version, version: pb.Version | None) -> str | None:
    wanted = _describe_version(expected)
    if version is None:
        return f"item has no version, expected {wanted}"
    if version.hlc == expected.hlc and version.region == expected.region:
        return None
    return f"version is {_describe_version(version)}, expected {wanted}"


def _describe_version(version: pb.Version) -> str:
    return f"hlc={version.hlc} region='{version.region}'"


def _describe(value: pb.AttributeValue) -> str:
    """A short human rendering of a value for error messages."""
    kind = value.WhichOneof("value")
    if kind == "s":
        text = value.s
        return f"'{text}'" if len(text) <= _SHOWN_CHARS else f"'{text[:_SHOWN_CHARS]}...'"
    if kind == "n":
        return value.n
    if kind == "bool":
        return "true" if value.bool else "false"
    if kind == "null":
        return "null"
    if kind == "b":
        return f"binary ({len(value.b)} bytes)"
    if kind == "l":
        return f"a list of {len(value.l.values)} values"
    if kind == "m":
        return f"a map of {len(value.m.fields)} fields"
    if kind in _SET_KINDS:
        return f"a {_SET_NOUNS[kind]} set of {len(getattr(value, kind).values)} members"
    return "an empty value"


# ---------------------------------------------------------------- update actions


def apply_updates(
    current: pb.Item | None,
    key: pb.Item,
    actions: Sequence[pb.UpdateAction],
    key_names: Collection[str],
) -> pb.Item:
    """The item UpdateItem writes: ``current`` (or ``key`` when there is none) with ``actions``.

    Every action is validated before any is applied. Neither ``current`` nor ``key`` is
    mutated; the result is a new message.
    """
    targets = _action_targets(actions, key_names)
    item = pb.Item()
    item.CopyFrom(current if current is not None else key)
    for name, action in zip(targets, actions, strict=True):
        _APPLY[action.WhichOneof("kind")](item, name, action)
    return item


def _action_targets(actions: Sequence[pb.UpdateAction], key_names: Collection[str]) -> list[str]:
    """The attribute each action targets, refusing malformed, key and duplicate actions."""
    seen: set[str] = set()
    names: list[str] = []
    for index, action in enumerate(actions):
        kind = action.WhichOneof("kind")
        if kind is None:
            raise ItemError(f"action[{index}]: no kind set")
        name = action.remove if kind == "remove" else getattr(action, kind).name
        if not name:
            raise ItemError(f"action[{index}]: {kind} needs an attribute name")
        if name in key_names:
            raise ItemError(f"attribute '{name}': key attributes cannot be updated")
        if name in seen:
            raise ItemError(f"attribute '{name}': more than one action")
        if kind != "remove":
            _validate_operand(name, kind, getattr(action, kind).value)
        seen.add(name)
        names.append(name)
    return names


def _validate_operand(name: str, kind: str, value: pb.AttributeValue) -> None:
    if value.WhichOneof("value") is None:
        raise ItemError(f"attribute '{name}': {kind.upper()} needs a value")
    validate_value(name, value)


def _apply_set(item: pb.Item, name: str, action: pb.UpdateAction) -> None:
    item.attributes[name].CopyFrom(action.set.value)


def _apply_remove(item: pb.Item, name: str, action: pb.UpdateAction) -> None:
    if name in item.attributes:
        del item.attributes[name]


def _apply_add(item: pb.Item, name: str, action: pb.UpdateAction) -> None:
    operand = action.add.value
    existing = item.attributes.get(name)
    item.attributes[name].CopyFrom(_added(name, existing, operand))


def _apply_delete(item: pb.Item, name: str, action: pb.UpdateAction) -> None:
    operand = action.delete.value
    kind = operand.WhichOneof("value")
    if kind not in _SET_KINDS:
        raise ItemError(f"attribute '{name}': DELETE needs a set, got {_type_name(operand)}")
    existing = item.attributes.get(name)
    if existing is None:
        return
    if existing.WhichOneof("value") != kind:
        raise ItemError(
            f"attribute '{name}': DELETE needs a set of the same type, "
            f"got {_type_name(operand)} for an attribute of type {_type_name(existing)}"
        )
    removed = _members(name, operand)
    remaining = [m for k, m in _members(name, existing).items() if k not in removed]
    if remaining:
        item.attributes[name].CopyFrom(_set_value(kind, remaining))
    else:
        del item.attributes[name]


_APPLY: dict[str | None, Callable[[pb.Item, str, pb.UpdateAction], None]] = {
    "set": _apply_set,
    "remove": _apply_remove,
    "add": _apply_add,
    "delete": _apply_delete,
}


def _added(
    name: str, existing: pb.AttributeValue | None, operand: pb.AttributeValue
) -> pb.AttributeValue:
    """The value of ``existing`` ADD ``operand`` (``existing`` None: the attribute is absent)."""
    kind = operand.WhichOneof("value")
    if kind != "n" and kind not in _SET_KINDS:
        raise ItemError(
            f"attribute '{name}': ADD needs a number or a set of the same type, "
            f"got {_type_name(operand)}"
        )
    if existing is not None and existing.WhichOneof("value") != kind:
        raise ItemError(
            f"attribute '{name}': ADD needs a number or a set of the same type, "
            f"got {_type_name(operand)} for an attribute of type {_type_name(existing)}"
        )
    if kind == "n":
        base = "0" if existing is None else existing.n
        return pb.AttributeValue(n=_add_numbers(name, base, operand.n))
    members = _members(name, operand)
    if existing is not None:
        members = _members(name, existing) | members
    return _set_value(kind, members.values())


def _add_numbers(name: str, left: str, right: str) -> str:
    a = Decimal(normalize_number(name, left))
    b = Decimal(normalize_number(name, right))
    try:
        total = _EXACT.add(a, b)
    except decimal.DecimalException as exc:
        raise ItemError(
            f"attribute '{name}': ADD result needs more than {_MAX_DIGITS} digits"
        ) from exc
    if len(total.normalize(_EXACT).as_tuple().digits) > _MAX_DIGITS:
        raise ItemError(f"attribute '{name}': ADD result needs more than {_MAX_DIGITS} digits")
    return normalize_number(name, str(total))


# ---------------------------------------------------------------- sets

# The members of a set keyed for comparison: numbers by value (1 and 1.0 are one member),
# strings and bytes by themselves.
_Members = dict[Decimal | str | bytes, str | bytes]


def _members(name: str, value: pb.AttributeValue) -> _Members:
    """The distinct members of a (valid) set value; numbers come back normalized."""
    kind = value.WhichOneof("value")
    if kind == "ns":
        texts = (normalize_number(name, text) for text in value.ns.values)
        return {Decimal(text): text for text in texts}
    return {member: member for member in getattr(value, str(kind)).values}


def _set_value(kind: str, members: Collection[str | bytes]) -> pb.AttributeValue:
    """A set value of ``kind`` holding ``members`` in canonical order."""
    value = pb.AttributeValue()
    if kind == "bs":
        value.bs.values.extend(sorted(m for m in members if isinstance(m, bytes)))
        return value
    texts = [m for m in members if isinstance(m, str)]
    getattr(value, kind).values.extend(sorted(texts, key=Decimal if kind == "ns" else _utf8))
    return value


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _type_name(value: pb.AttributeValue) -> str:
    return _TYPE_NAMES.get(str(value.WhichOneof("value")), "an empty value")
