"""Key schemas and KeyConditionExpression: from a condition to a partition value and at
most one sort-key condition, which a node turns into a storage-key range."""

from __future__ import annotations

from dataclasses import dataclass

from meridian.expressions import nodes as n
from meridian.expressions.errors import ExpressionError
from meridian.expressions.evaluate import Values
from meridian.expressions.model import AttributeValue


@dataclass(frozen=True, slots=True)
class KeySchema:
    """A table's key: attribute names and types (S, N or B); no sort key when range_name
    is None."""

    hash_name: str
    hash_type: str
    range_name: str | None = None
    range_type: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.hash_name,) if self.range_name is None else (self.hash_name, self.range_name)


_OPS = {"=": "EQ", "<": "LT", "<=": "LE", ">": "GT", ">=": "GE"}
_MIRRORED = {"=": "=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


@dataclass(frozen=True, slots=True)
class KeyPart:
    """One condition on a key attribute: op is EQ LT LE GT GE BETWEEN or BEGINS_WITH."""

    name: str
    op: str
    values: tuple[n.Value, ...]


@dataclass(frozen=True, slots=True)
class SortCondition:
    """A condition on the sort key with its values: op is EQ LT LE GT GE BETWEEN or
    BEGINS_WITH; `high` is BETWEEN's upper bound."""

    op: str
    value: AttributeValue
    high: AttributeValue | None = None


@dataclass(frozen=True, slots=True)
class KeyCondition:
    partition: KeyPart
    sort: KeyPart | None

    def partition_value(self, values: Values) -> AttributeValue:
        return values[self.partition.values[0].name]

    def sort_condition(self, values: Values) -> SortCondition | None:
        """The sort-key condition with the request's values (None: the whole partition)."""
        if self.sort is None:
            return None
        bounds = [values[value.name] for value in self.sort.values]
        return SortCondition(self.sort.op, *bounds)


def key_condition(
    condition: n.Condition, schema: KeySchema, value_types: dict[str, str]
) -> KeyCondition:
    """Check a built KeyConditionExpression against the key schema; raise ExpressionError."""
    parts: dict[str, KeyPart] = {}
    conditions = _conjuncts(condition)
    if len(conditions) > 2:
        raise ExpressionError("Conditions can be of length 1 or 2 only")
    for single in conditions:
        part = _part(single)
        if part.name in parts:
            raise ExpressionError("KeyConditionExpressions must only contain one condition per key")
        parts[part.name] = part
    partition = parts.get(schema.hash_name)
    if partition is None:
        raise ExpressionError(f"Query condition missed key schema element: {schema.hash_name}")
    sort = parts.get(schema.range_name) if schema.range_name is not None else None
    if len(parts) == 2 and sort is None:
        if schema.range_name is None:
            raise ExpressionError("Query key condition not supported")
        raise ExpressionError(f"Query condition missed key schema element: {schema.range_name}")
    if partition.op != "EQ":
        raise ExpressionError("Query key condition not supported")
    _check_types(partition, schema.hash_type, value_types)
    if sort is not None:
        _check_types(sort, schema.range_type, value_types)
    return KeyCondition(partition, sort)


def _conjuncts(condition: n.Condition) -> list[n.Condition]:
    if isinstance(condition, n.And):
        return [*_conjuncts(condition.left), *_conjuncts(condition.right)]
    return [condition]


def _invalid_operator(name: str) -> ExpressionError:
    return ExpressionError(f"Invalid operator used in KeyConditionExpression: {name}")


def _part(condition: n.Condition) -> KeyPart:
    if isinstance(condition, n.Or | n.Not | n.In):
        raise _invalid_operator(type(condition).__name__.upper())
    if isinstance(condition, n.Compare):
        if condition.op == "<>":
            raise _invalid_operator("<>")
        operands: tuple[n.Operand, ...] = (condition.left, condition.right)
        name, values, first = _key_operand(operands)
        op = condition.op if first else _MIRRORED[condition.op]
        return KeyPart(name, _OPS[op], values)
    if isinstance(condition, n.Between):
        operands = (condition.subject, condition.low, condition.high)
        name, values = _first_operand_key("BETWEEN", operands)
        return KeyPart(name, "BETWEEN", values)
    if isinstance(condition, n.Call) and condition.name == "begins_with":
        name, values = _first_operand_key("begins_with", condition.args)
        return KeyPart(name, "BEGINS_WITH", values)
    assert isinstance(condition, n.Call)
    raise _invalid_operator(condition.name)


def _first_operand_key(
    operator: str, operands: tuple[n.Operand, ...]
) -> tuple[str, tuple[n.Value, ...]]:
    if not isinstance(operands[0], n.Path):
        raise ExpressionError(
            f"Invalid condition in KeyConditionExpression: {operator} operator must have "
            "the key attribute as its first operand"
        )
    name, values, _ = _key_operand(operands)
    return name, values


def _key_operand(operands: tuple[n.Operand, ...]) -> tuple[str, tuple[n.Value, ...], bool]:
    """The key attribute's name, the value operands, and whether the key came first."""
    paths = [o for o in operands if isinstance(o, n.Path)]
    if any(isinstance(o, n.Call) for o in operands):
        raise ExpressionError("KeyConditionExpressions cannot contain nested operations")
    if len(paths) > 1:
        raise ExpressionError(
            "Invalid condition in KeyConditionExpression: Multiple attribute names used in "
            "one condition"
        )
    if not paths:
        raise ExpressionError(
            "Invalid condition in KeyConditionExpression: No key attribute specified"
        )
    if len(paths[0].elements) > 1:
        raise ExpressionError("KeyConditionExpressions cannot have conditions on nested attributes")
    values = tuple(o for o in operands if isinstance(o, n.Value))
    return str(paths[0].elements[0]), values, isinstance(operands[0], n.Path)


def _check_types(part: KeyPart, key_type: str | None, value_types: dict[str, str]) -> None:
    for value in part.values:
        if value_types.get(value.name) != key_type:
            raise ExpressionError(
                "One or more parameter values were invalid: "
                "Condition parameter type does not match schema type"
            )
