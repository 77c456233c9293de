"""DynamoDB's legacy parameters, mapped onto the expression nodes.

Expected, AttributeUpdates, KeyConditions, QueryFilter / ScanFilter (with
ConditionalOperator) and AttributesToGet become the same nodes as the expressions that
replaced them, with generated ``:legacyN`` value placeholders, so one evaluator serves
both. Legacy values arrive as AttributeValue messages inside the parameter dicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from meridian.expressions import nodes as n
from meridian.expressions.errors import ExpressionError
from meridian.expressions.keys import KeySchema, key_condition
from meridian.expressions.model import AttributeValue
from meridian.expressions.request import Expressions, template_of
from meridian.expressions.values import normalized, type_name, value_problem

INVALID = "One or more parameter values were invalid: "
TYPE_MISMATCH = "Type mismatch for attribute to update"

# Operator -> (argument count: exact or (min, max), value types allowed or None for any).
_OPERATORS: dict[str, tuple[int | tuple[int, int], frozenset[str] | None]] = {
    "EQ": (1, frozenset(("S", "N", "B", "SS", "NS", "BS"))),
    "NE": (1, frozenset(("S", "N", "B", "SS", "NS", "BS"))),
    "LE": (1, frozenset(("S", "N", "B"))),
    "LT": (1, frozenset(("S", "N", "B"))),
    "GE": (1, frozenset(("S", "N", "B"))),
    "GT": (1, frozenset(("S", "N", "B"))),
    "NOT_NULL": (0, None),
    "NULL": (0, None),
    "CONTAINS": (1, frozenset(("S", "N", "B"))),
    "NOT_CONTAINS": (1, frozenset(("S", "N", "B"))),
    "BEGINS_WITH": (1, frozenset(("S", "B"))),
    "IN": ((1, 1_000_000), frozenset(("S", "N", "B"))),
    "BETWEEN": (2, frozenset(("S", "N", "B"))),
}
_COMPARATORS = {"EQ": "=", "NE": "<>", "LE": "<=", "LT": "<", "GE": ">=", "GT": ">"}

_EXPRESSION_PARAMETERS = (
    "UpdateExpression",
    "ConditionExpression",
    "ProjectionExpression",
    "FilterExpression",
    "KeyConditionExpression",
)
_LEGACY_PARAMETERS = (
    "AttributesToGet",
    "AttributeUpdates",
    "Expected",
    "QueryFilter",
    "ScanFilter",
    "ConditionalOperator",
    "KeyConditions",
)


def check_not_mixed(parameters: Mapping[str, Any]) -> None:
    """Refuse a request that mixes expression and legacy parameters (None means absent).
    As in DynamoDB, a Query may combine KeyConditions with expressions."""
    expressions = [p for p in _EXPRESSION_PARAMETERS if parameters.get(p) is not None]
    legacy = [p for p in _LEGACY_PARAMETERS if parameters.get(p) is not None]
    if "KeyConditions" in legacy and "KeyConditionExpression" not in expressions:
        legacy.remove("KeyConditions")
    if expressions and legacy:
        raise ExpressionError(
            "Can not use both expression and non-expression parameters in the same request: "
            f"Non-expression parameters: {{{', '.join(legacy)}}} "
            f"Expression parameters: {{{', '.join(expressions)}}}"
        )


@dataclass
class _Values:
    """Generated placeholders for the values of legacy parameters."""

    values: dict[str, AttributeValue] = field(default_factory=dict)

    def add(self, value: AttributeValue) -> n.Value:
        problem = value_problem(value)
        if problem is not None:
            raise ExpressionError(problem)
        name = f":legacy{len(self.values)}"
        self.values[name] = normalized(value)
        return n.Value(name)


def compile_legacy(
    *,
    expected: Mapping[str, Mapping[str, Any]] | None = None,
    attribute_updates: Mapping[str, Mapping[str, Any]] | None = None,
    key_conditions: Mapping[str, Mapping[str, Any]] | None = None,
    query_filter: Mapping[str, Mapping[str, Any]] | None = None,
    scan_filter: Mapping[str, Mapping[str, Any]] | None = None,
    conditional_operator: str | None = None,
    attributes_to_get: Sequence[str] | None = None,
    schema: KeySchema | None = None,
) -> Expressions:
    """Compile a request's legacy parameters; raise ExpressionError as DynamoDB would."""
    values = _Values()
    filters = query_filter if query_filter is not None else scan_filter
    if conditional_operator is not None:
        if conditional_operator not in ("AND", "OR"):
            raise ExpressionError(
                f"1 validation error detected: Value '{conditional_operator}' at "
                "'conditionalOperator' failed to satisfy constraint: "
                "Member must satisfy enum value set: [AND, OR]"
            )
        if not expected and not filters:
            raise ExpressionError(
                "ConditionalOperator can only be used when Expected, QueryFilter or "
                "ScanFilter is present and not empty"
            )
    condition = _expected(expected, conditional_operator, values) if expected else None
    filter_ = _conditions(filters, conditional_operator, values) if filters else None
    update = _attribute_updates(attribute_updates, schema, values) if attribute_updates else None
    key = None
    if key_conditions is not None:
        if schema is None:
            raise ValueError("KeyConditions need the key schema")
        key_node = _conditions(key_conditions, "AND", values, key=True)
        types = {name: type_name(v) for name, v in values.values.items()}
        key = key_condition(key_node, schema, types)
    projection = _attributes_to_get(attributes_to_get) if attributes_to_get is not None else None
    if attribute_updates is not None and update is None:
        update = n.Update((), TYPE_MISMATCH)  # {} creates a key-only item
    template = template_of(
        update=update,
        condition=condition,
        filter=filter_,
        projection=projection,
        key_condition=key,
    )
    return Expressions(template, values.values)


# ---------------------------------------------------------------- conditions


def _combine(conditions: list[n.Condition], operator: str | None) -> n.Condition:
    combined = conditions[0]
    for condition in conditions[1:]:
        combined = n.Or(combined, condition) if operator == "OR" else n.And(combined, condition)
    return combined


def _expected(
    expected: Mapping[str, Mapping[str, Any]], operator: str | None, values: _Values
) -> n.Condition:
    conditions = []
    for name, spec in expected.items():
        if "ComparisonOperator" in spec:
            if "Exists" in spec:
                raise ExpressionError(
                    f"{INVALID}Exists and ComparisonOperator cannot be used together for "
                    f"Attribute: {name}"
                )
            if "Value" in spec and "AttributeValueList" in spec:
                raise ExpressionError(
                    f"{INVALID}Value and AttributeValueList cannot be used together for "
                    f"Attribute: {name}"
                )
            arguments = spec.get("AttributeValueList")
            if arguments is None and "Value" in spec:
                arguments = [spec["Value"]]
            conditions.append(_condition(name, spec["ComparisonOperator"], arguments, values))
            continue
        if "AttributeValueList" in spec:
            raise ExpressionError(
                f"{INVALID}AttributeValueList can only be used with a ComparisonOperator for "
                f"Attribute: {name}"
            )
        exists = spec.get("Exists", True)
        value = spec.get("Value")
        if exists and value is None:
            shown = "null" if "Exists" not in spec else "true"
            raise ExpressionError(
                f"{INVALID}Value must be provided when Exists is {shown} for Attribute: {name}"
            )
        if not exists and value is not None:
            raise ExpressionError(
                f"{INVALID}Value cannot be used when Exists is false for Attribute: {name}"
            )
        path = n.Path((name,))
        if value is not None:
            conditions.append(n.Compare("=", path, values.add(value)))
        else:
            conditions.append(n.Call("attribute_not_exists", (path,)))
    return _combine(conditions, operator)


def _conditions(
    specs: Mapping[str, Mapping[str, Any]],
    operator: str | None,
    values: _Values,
    key: bool = False,
) -> n.Condition:
    conditions = []
    for name, spec in specs.items():
        op = spec.get("ComparisonOperator")
        if key and op in ("NE", "NOT_NULL", "NULL", "CONTAINS", "NOT_CONTAINS", "IN"):
            raise ExpressionError("Attempted conditional constraint is not an indexable operation")
        conditions.append(_condition(name, op, spec.get("AttributeValueList"), values))
    return _combine(conditions, operator)


def _condition(
    name: str, op: Any, arguments: Sequence[AttributeValue] | None, values: _Values
) -> n.Condition:
    if op not in _OPERATORS:
        raise ExpressionError(
            f"1 validation error detected: Value '{op}' at 'comparisonOperator' failed to "
            "satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(_OPERATORS)}]"
        )
    arguments = list(arguments or [])
    count, types = _OPERATORS[op]
    low, high = count if isinstance(count, tuple) else (count, count)
    if not low <= len(arguments) <= high:
        raise ExpressionError(
            f"{INVALID}Invalid number of argument(s) for the {op} ComparisonOperator"
        )
    kinds = [type_name(v) if v.WhichOneof("value") else "" for v in arguments]
    if len(set(kinds)) > 1:
        raise ExpressionError(
            f"{INVALID}AttributeValues inside AttributeValueList must be of same type"
        )
    for kind in kinds:
        if types is not None and kind not in types:
            raise ExpressionError(
                f"{INVALID}ComparisonOperator {op} is not valid for {kind} AttributeValue type"
            )
    placeholders = [values.add(v) for v in arguments]
    path = n.Path((name,))
    return _node(op, path, placeholders, values)


def _node(op: str, path: n.Path, args: list[n.Value], values: _Values) -> n.Condition:
    if op in _COMPARATORS:
        return n.Compare(_COMPARATORS[op], path, args[0])
    if op == "NOT_NULL":
        return n.Call("attribute_exists", (path,))
    if op == "NULL":
        return n.Call("attribute_not_exists", (path,))
    if op == "CONTAINS":
        return n.Call("contains", (path, args[0]))
    if op == "NOT_CONTAINS":  # false, not true, when the attribute is missing
        return n.And(
            n.Call("attribute_exists", (path,)), n.Not(n.Call("contains", (path, args[0])))
        )
    if op == "BEGINS_WITH":
        return n.Call("begins_with", (path, args[0]))
    if op == "IN":
        return n.In(path, tuple(args))
    low, high = (values.values[a.name] for a in args)
    if _greater(low, high):
        raise ExpressionError(
            "The BETWEEN condition was provided a range where the lower bound is greater "
            "than the upper bound"
        )
    return n.Between(path, args[0], args[1])


def _greater(low: AttributeValue, high: AttributeValue) -> bool:
    kind = low.WhichOneof("value")
    if kind == "n":
        return Decimal(low.n) > Decimal(high.n)
    return bool(getattr(low, kind) > getattr(high, kind))


# ---------------------------------------------------------------- updates


def _attribute_updates(
    updates: Mapping[str, Mapping[str, Any]], schema: KeySchema | None, values: _Values
) -> n.Update:
    actions: list[n.Action] = []
    for name, spec in updates.items():
        if schema is not None and name in schema.names:
            raise ExpressionError(
                f"{INVALID}Cannot update attribute {name}. This attribute is part of the key"
            )
        action = spec.get("Action", "PUT")
        value = spec.get("Value")
        path = n.Path((name,))
        if value is None:
            if action != "DELETE":
                raise ExpressionError(
                    f"{INVALID}Only DELETE action is allowed when no attribute value is specified"
                )
            actions.append(n.RemoveAction(path))
            continue
        kind = type_name(value) if value.WhichOneof("value") else ""
        if action == "PUT":
            actions.append(n.SetAction(path, values.add(value)))
        elif action == "ADD" and kind == "L":
            # ADD on a list appends to it (a missing list counts as empty).
            empty = AttributeValue()
            empty.l.SetInParent()
            current = n.Call("if_not_exists", (path, values.add(empty)))
            actions.append(n.SetAction(path, n.Call("list_append", (current, values.add(value)))))
        elif action == "ADD" and kind in ("N", "SS", "NS", "BS"):
            actions.append(n.AddAction(path, values.add(value)))
        elif action == "DELETE" and kind in ("SS", "NS", "BS"):
            actions.append(n.DeleteAction(path, values.add(value)))
        elif action in ("ADD", "DELETE"):
            raise ExpressionError(f"{INVALID}{action} action is not supported for the type {kind}")
        else:
            raise ExpressionError(
                f"1 validation error detected: Value '{action}' at "
                f"'attributeUpdates.{name}.member.action' failed to satisfy constraint: "
                "Member must satisfy enum value set: [ADD, PUT, DELETE]"
            )
    return n.Update(tuple(actions), TYPE_MISMATCH)


def _attributes_to_get(names: Sequence[str]) -> tuple[n.Path, ...]:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ExpressionError(f"{INVALID}Duplicate value in attribute name: {name}")
        seen.add(name)
    return tuple(n.Path((name,)) for name in names)
