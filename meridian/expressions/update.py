"""Apply an UpdateExpression to an item.

Every operand is read from the item as it was before the update, and every document path
refers to it too: ``REMOVE a[1] SET a[3] = :v`` replaces the element that was at index 3.
So the new values are computed first; then SET, ADD and DELETE results are written (in
path order, so that list elements set past the end are appended in index order), then
REMOVE runs from the highest list index down.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from meridian.expressions import nodes as n
from meridian.expressions.errors import ExpressionError
from meridian.expressions.evaluate import EMPTY, Attributes, Values, resolve
from meridian.expressions.model import MAX_DEPTH, MAX_ITEM_BYTES, AttributeValue, Item, item_size
from meridian.expressions.values import NESTING, SET_KINDS, add, number_value, subtract

MISSING_OPERAND = "The provided expression refers to an attribute that does not exist in the item"
BAD_PATH = "The document path provided in the update expression is invalid for update"
TOO_LARGE = "Item size to update has exceeded the maximum allowed size"


class _WrongType(Exception):
    """An operand of the wrong type; reported with the update's own message."""


# What an action writes: a value, or None to remove the path (DELETE that empties a set).
Write = tuple[n.Path, AttributeValue | None]


def apply(update: n.Update, old: Item | None, key: Item, values: Values) -> Item | None:
    """The item after the update, or None when the item does not exist and the update
    only removes things (DynamoDB then creates nothing). `key` holds the key attributes,
    used when the item does not exist yet. Raises ExpressionError (ValidationException)."""
    attributes = old.attributes if old is not None else EMPTY
    _check_targets(update, old if old is not None else key, old is not None)
    writes: list[Write] = []
    removes: list[n.Path] = []
    wrong_type = False
    # SET operands first, as DynamoDB reads them all before acting: a missing attribute is
    # reported before an operand of the wrong type.
    ordered = sorted(update.actions, key=lambda a: not isinstance(a, n.SetAction))
    for action in ordered:
        if isinstance(action, n.RemoveAction):
            removes.append(action.path)
            continue
        try:
            writes.append((action.path, _new_value(action, attributes, values)))
        except _WrongType:
            wrong_type = True
    if wrong_type:
        raise ExpressionError(update.type_error)
    creates = any(isinstance(a, n.SetAction | n.AddAction) for a in update.actions)
    if old is None and update.actions and not creates:
        return None
    new = Item()
    new.CopyFrom(old if old is not None else key)
    for path, value in sorted(writes, key=lambda write: write[0].elements):
        if value is None:
            _remove(new, path.elements, strict=True)
        else:
            _assign(new, path.elements, value)
    for path in sorted(removes, key=lambda path: path.elements, reverse=True):
        _remove(new, path.elements, strict=old is not None)
    if item_size(new) > MAX_ITEM_BYTES:
        raise ExpressionError(TOO_LARGE)
    return new


def _check_targets(update: n.Update, item: Item, exists: bool) -> None:
    """Refuse an action whose path has no container of the right type to act in (checked
    before anything is evaluated, as DynamoDB does). A REMOVE on a missing item is fine."""
    for action in update.actions:
        elements = action.path.elements
        if len(elements) == 1 or (isinstance(action, n.RemoveAction) and not exists):
            continue
        if _parent(item, elements) is None:
            raise ExpressionError(BAD_PATH)


# ---------------------------------------------------------------- values


def _new_value(action: n.Action, attributes: Attributes, values: Values) -> AttributeValue | None:
    if isinstance(action, n.SetAction):
        value = _evaluate(action.value, attributes, values)
        if _depth(value) + len(action.path.elements) - 1 > MAX_DEPTH:
            raise ExpressionError(NESTING)
        return value
    assert not isinstance(action, n.RemoveAction)
    current = resolve(attributes, action.path.elements)
    operand = values[action.value.name]
    if isinstance(action, n.AddAction):
        return _add(current, operand)
    return _delete(current, operand)


def _evaluate(value: n.Operand | n.Arith, attributes: Attributes, values: Values) -> AttributeValue:
    if isinstance(value, n.Arith):
        left = _number(_evaluate(value.left, attributes, values))
        right = _number(_evaluate(value.right, attributes, values))
        return number_value(add(left, right) if value.op == "+" else subtract(left, right))
    if isinstance(value, n.Value):
        return values[value.name]
    if isinstance(value, n.Path):
        found = resolve(attributes, value.elements)
        if found is None:
            raise ExpressionError(MISSING_OPERAND)
        return found
    if value.name == "if_not_exists":
        path = value.args[0]
        assert isinstance(path, n.Path)
        found = resolve(attributes, path.elements)
        return found if found is not None else _evaluate(value.args[1], attributes, values)
    # list_append
    first, second = (_evaluate(arg, attributes, values) for arg in value.args)
    if first.WhichOneof("value") != "l" or second.WhichOneof("value") != "l":
        raise _WrongType
    result = AttributeValue()
    result.l.values.extend(first.l.values)
    result.l.values.extend(second.l.values)
    return result


def _number(value: AttributeValue) -> Decimal:
    if value.WhichOneof("value") != "n":
        raise _WrongType
    return Decimal(value.n)


def _depth(value: AttributeValue) -> int:
    """Levels of nesting inside a value (0 for a scalar)."""
    kind = value.WhichOneof("value")
    if kind == "l":
        return 1 + max((_depth(e) for e in value.l.values), default=0)
    if kind == "m":
        return 1 + max((_depth(m) for m in value.m.fields.values()), default=0)
    return 0


def _add(current: AttributeValue | None, operand: AttributeValue) -> AttributeValue:
    kind = operand.WhichOneof("value")
    if kind == "n":
        base = Decimal(0) if current is None else _number(current)
        return number_value(add(base, Decimal(operand.n)))
    if current is None:
        return operand
    if current.WhichOneof("value") != kind:
        raise _WrongType
    return _set_of(kind, [*getattr(current, kind).values, *getattr(operand, kind).values])


def _delete(current: AttributeValue | None, operand: AttributeValue) -> AttributeValue | None:
    kind = operand.WhichOneof("value")
    if current is None:
        return None
    if current.WhichOneof("value") != kind:
        raise _WrongType
    key = _member_key(kind)
    gone = {key(m) for m in getattr(operand, kind).values}
    kept = [m for m in getattr(current, kind).values if key(m) not in gone]
    return _set_of(kind, kept) if kept else None


def _member_key(kind: str) -> Callable[[str | bytes], object]:
    return (lambda m: Decimal(m)) if kind == "ns" else (lambda m: m)  # type: ignore[arg-type]


def _set_of(kind: str, members: list[str] | list[bytes]) -> AttributeValue:
    """A set value with duplicates dropped and members in canonical order."""
    assert kind in SET_KINDS
    key = _member_key(kind)
    unique = {key(m): m for m in members}
    result = AttributeValue()
    getattr(result, kind).values.extend(unique[k] for k in sorted(unique))  # type: ignore[type-var]
    return result


# ---------------------------------------------------------------- paths


def _parent(item: Item, elements: tuple[n.PathElement, ...]) -> AttributeValue | None:
    """The container holding the last element of a nested path, if it has the right type."""
    parent = resolve(item.attributes, elements[:-1])
    wanted = "l" if isinstance(elements[-1], int) else "m"
    if parent is None or parent.WhichOneof("value") != wanted:
        return None
    return parent


def _assign(item: Item, elements: tuple[n.PathElement, ...], value: AttributeValue) -> None:
    last = elements[-1]
    if len(elements) == 1:
        item.attributes[last].CopyFrom(value)  # type: ignore[index]
        return
    parent = _parent(item, elements)
    if parent is None:
        raise ExpressionError(BAD_PATH)
    if isinstance(last, int):
        members = parent.l.values
        (members[last] if last < len(members) else members.add()).CopyFrom(value)
    else:
        parent.m.fields[last].CopyFrom(value)


def _remove(item: Item, elements: tuple[n.PathElement, ...], strict: bool) -> None:
    """Remove the value at a path if there is one. A missing or mistyped parent is an
    error when `strict` (DynamoDB ignores it when the item does not exist)."""
    last = elements[-1]
    if len(elements) == 1:
        if last in item.attributes:
            del item.attributes[last]  # type: ignore[arg-type]
        return
    parent = _parent(item, elements)
    if parent is None:
        if strict:
            raise ExpressionError(BAD_PATH)
        return
    if isinstance(last, int):
        if last < len(parent.l.values):
            del parent.l.values[last]
    elif last in parent.m.fields:
        del parent.m.fields[last]
