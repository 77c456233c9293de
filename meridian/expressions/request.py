"""Compile the expressions of one request, once, and evaluate them many times.

``compile_request`` checks a request's expression parameters the way DynamoDB does
(placeholder maps, syntax, functions, types of ``:value`` operands, unused placeholders,
key attributes) and returns an immutable :class:`Expressions`. Compiled templates are
cached by expression text, names, the types of the values and the key schema, since
applications repeat the same expressions with new values; the values themselves are
checked for every request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from meridian.expressions import errors as e
from meridian.expressions import nodes as n
from meridian.expressions.build import Builder, ValueCheck, prescan
from meridian.expressions.errors import ExpressionError, invalid
from meridian.expressions.evaluate import EMPTY, Predicate, compile_condition
from meridian.expressions.grammar import parse
from meridian.expressions.keys import KeyCondition, KeySchema, key_condition
from meridian.expressions.model import AttributeValue, Item
from meridian.expressions.problems import (
    CONDITION_ORDER,
    PROJECTION_ORDER,
    UPDATE_ORDER,
    Problems,
)
from meridian.expressions.project import project
from meridian.expressions.update import apply
from meridian.expressions.values import normalized, type_name, value_problem

MAX_EXPRESSION_BYTES = 4096
CACHE_SIZE = 2048

_NAME_KEY = re.compile(r"#[0-9A-Za-z_]+")
_VALUE_KEY = re.compile(r":[0-9A-Za-z_]+")

# The expression parameters of each operation, in the order DynamoDB names them.
OPERATION_EXPRESSIONS = {
    "GetItem": (e.PROJECTION,),
    "BatchGetItem": (e.PROJECTION,),
    "TransactGetItems": (e.PROJECTION,),
    "PutItem": (e.CONDITION,),
    "DeleteItem": (e.CONDITION,),
    "ConditionCheck": (e.CONDITION,),
    "UpdateItem": (e.UPDATE, e.CONDITION),
    "Query": (e.PROJECTION, e.FILTER, e.KEY_CONDITION),
    "Scan": (e.PROJECTION, e.FILTER),
}


@dataclass(frozen=True, slots=True)
class Template:
    """What one combination of expression texts, names and value types compiles to."""

    update: n.Update | None
    condition: Predicate | None
    filter: Predicate | None
    projection: tuple[n.Path, ...] | None
    key_condition: KeyCondition | None
    value_checks: tuple[tuple[str, ValueCheck], ...]


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """An applied update: the new item (None when nothing is created) and what
    ReturnValues=UPDATED_OLD / UPDATED_NEW return (None when they return nothing)."""

    item: Item | None
    updated_old: Item | None
    updated_new: Item | None


@dataclass(frozen=True, slots=True)
class Expressions:
    """A request's compiled expressions with its values; cheap to evaluate many times."""

    template: Template
    values: Mapping[str, AttributeValue]

    @property
    def key_condition(self) -> KeyCondition | None:
        return self.template.key_condition

    @property
    def has_update(self) -> bool:
        return self.template.update is not None

    @property
    def has_condition(self) -> bool:
        return self.template.condition is not None

    @property
    def has_projection(self) -> bool:
        return self.template.projection is not None

    def condition_holds(self, item: Item | None) -> bool:
        """Whether the ConditionExpression holds for the stored item (None: no item);
        True without one."""
        condition = self.template.condition
        if condition is None:
            return True
        return condition(item.attributes if item is not None else EMPTY, self.values)

    def filter_matches(self, item: Item) -> bool:
        """Whether the FilterExpression keeps `item`; True without one."""
        condition = self.template.filter
        return condition is None or condition(item.attributes, self.values)

    def project(self, item: Item) -> Item:
        """`item` reduced to the ProjectionExpression's paths (`item` itself without one)."""
        paths = self.template.projection
        return item if paths is None else project(item.attributes, paths)

    def apply_update(self, item: Item | None, key: Item, updated: bool = True) -> UpdateResult:
        """Apply the UpdateExpression to the stored item (None: no item; `key` then holds
        the key attributes); `updated` False skips the UPDATED_OLD / UPDATED_NEW parts.
        Raises ExpressionError, e.g. for a bad document path."""
        update = self.template.update
        if update is None:
            raise ValueError("the request has no UpdateExpression")
        new = apply(update, item, key, self.values)
        if not updated:
            return UpdateResult(new, None, None)
        old_part = project(item.attributes, update.paths) if item is not None else None
        new_part = project(new.attributes, update.paths) if new is not None else None
        return UpdateResult(new, _unless_empty(old_part), _unless_empty(new_part))


def _unless_empty(item: Item | None) -> Item | None:
    return item if item is not None and item.attributes else None


# ---------------------------------------------------------------- compiling


def compile_request(
    operation: str,
    *,
    update: str | None = None,
    condition: str | None = None,
    filter: str | None = None,
    key_condition: str | None = None,
    projection: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, AttributeValue] | None = None,
    schema: KeySchema | None = None,
) -> Expressions:
    """Check and compile a request's expressions; raise ExpressionError as DynamoDB would.

    `operation` is DynamoDB's operation name (a key of OPERATION_EXPRESSIONS); `schema`
    is needed for updates (key attributes cannot change) and queries.
    """
    texts = {
        e.UPDATE: update,
        e.CONDITION: condition,
        e.KEY_CONDITION: key_condition,
        e.FILTER: filter,
        e.PROJECTION: projection,
    }
    _check_maps(operation, texts, names, values)
    values = {name: normalized(v) for name, v in (values or {}).items()}
    value_types = tuple((name, type_name(v)) for name, v in values.items())
    names_items = tuple((names or {}).items())
    template = _template(tuple(texts.items()), names_items, value_types, schema)
    for kind, check in template.value_checks:
        problem = check(values)
        if problem is not None:
            raise invalid(kind, problem)
    return Expressions(template, values)


def _check_maps(
    operation: str,
    texts: Mapping[str, str | None],
    names: Mapping[str, str] | None,
    values: Mapping[str, AttributeValue] | None,
) -> None:
    allowed = OPERATION_EXPRESSIONS[operation]
    given = [kind for kind, text in texts.items() if text is not None]
    for kind in given:
        if kind not in allowed:
            raise ValueError(f"{operation} has no {kind}")
        if len(texts[kind].encode()) > MAX_EXPRESSION_BYTES:  # type: ignore[union-attr]
            raise invalid(
                kind,
                "Expression size has exceeded the maximum allowed size; "
                f"expression size: {len(texts[kind].encode())}",  # type: ignore[union-attr]
            )
    if names is not None:
        if not given:
            raise ExpressionError(
                "ExpressionAttributeNames can only be specified when using expressions"
            )
        if not names:
            raise ExpressionError("ExpressionAttributeNames must not be empty")
        for key in names:
            if not _NAME_KEY.fullmatch(key):
                raise ExpressionError(
                    f'ExpressionAttributeNames contains invalid key: Syntax error; key: "{key}"'
                )
    if values is not None:
        takers = [kind for kind in allowed if kind != e.PROJECTION]
        if takers and not any(texts[kind] is not None for kind in takers):
            verb = "are" if len(takers) > 1 else "is"
            raise ExpressionError(
                "ExpressionAttributeValues can only be specified when using expressions: "
                f"{' and '.join(takers)} {verb} null"
            )
        if not values:
            raise ExpressionError("ExpressionAttributeValues must not be empty")
        for key, value in values.items():
            if not _VALUE_KEY.fullmatch(key):
                raise ExpressionError(
                    f'ExpressionAttributeValues contains invalid key: Syntax error; key: "{key}"'
                )
            problem = value_problem(value)
            if problem is not None:
                raise ExpressionError(
                    f"ExpressionAttributeValues contains invalid value: {problem} for key {key}"
                )


@lru_cache(maxsize=CACHE_SIZE)
def _template(
    texts: tuple[tuple[str, str | None], ...],
    names: tuple[tuple[str, str], ...],
    value_types: tuple[tuple[str, str], ...],
    schema: KeySchema | None,
) -> Template:
    names_map, types_map = dict(names), dict(value_types)
    builder_names: set[str] = set()
    builder_values: set[str] = set()
    checks: list[tuple[str, ValueCheck]] = []
    built: dict[str, object] = {}
    for kind, text in texts:
        if text is None:
            continue
        builder = _build(kind, text, names_map, types_map, built)
        builder_names |= builder.used_names
        builder_values |= builder.used_values
        checks.extend((kind, check) for check in builder.value_checks)
    _check_unused("Names", names_map, builder_names)
    _check_unused("Values", types_map, builder_values)
    update = built.get(e.UPDATE)
    conditions = {kind: built.get(kind) for kind in (e.CONDITION, e.FILTER, e.KEY_CONDITION)}
    key = None
    if conditions[e.KEY_CONDITION] is not None:
        if schema is None:
            raise ValueError("a KeyConditionExpression needs the key schema")
        key = key_condition(conditions[e.KEY_CONDITION], schema, types_map)  # type: ignore[arg-type]
        _check_filter_keys(conditions[e.FILTER], schema)  # type: ignore[arg-type]
    if update is not None:
        if schema is None:
            raise ValueError("an UpdateExpression needs the key schema")
        _check_key_updates(update, schema)  # type: ignore[arg-type]
    return Template(
        update=update,  # type: ignore[arg-type]
        condition=_predicate(conditions[e.CONDITION]),  # type: ignore[arg-type]
        filter=_predicate(conditions[e.FILTER]),  # type: ignore[arg-type]
        projection=built.get(e.PROJECTION),  # type: ignore[arg-type]
        key_condition=key,
        value_checks=tuple(checks),
    )


def _build(
    kind: str,
    text: str,
    names: Mapping[str, str],
    value_types: Mapping[str, str],
    built: dict[str, object],
) -> Builder:
    start, order = {
        e.UPDATE: ("update", UPDATE_ORDER),
        e.PROJECTION: ("projection", PROJECTION_ORDER),
    }.get(kind, ("condition", CONDITION_ORDER))
    tree = parse(start, kind, text)
    problems = Problems(kind, order)
    prescan(tree, problems)
    builder = Builder(problems, names, value_types)
    built[kind] = getattr(builder, start)(tree)
    problems.raise_first()
    return builder


def template_of(
    *,
    update: n.Update | None = None,
    condition: n.Condition | None = None,
    filter: n.Condition | None = None,
    projection: tuple[n.Path, ...] | None = None,
    key_condition: KeyCondition | None = None,
) -> Template:
    """A template from nodes built elsewhere (the legacy parameters)."""
    return Template(
        update, _predicate(condition), _predicate(filter), projection, key_condition, ()
    )


def _predicate(condition: n.Condition | None) -> Predicate | None:
    return compile_condition(condition) if condition is not None else None


def _check_unused(what: str, given: Mapping[str, object], used: set[str]) -> None:
    unused = [key for key in given if key not in used]
    if unused:
        raise ExpressionError(
            f"Value provided in ExpressionAttribute{what} unused in expressions: "
            f"keys: {{{', '.join(unused)}}}"
        )


def _check_key_updates(update: n.Update, schema: KeySchema) -> None:
    for path in update.paths:
        if path.elements[0] in schema.names:
            raise ExpressionError(
                "One or more parameter values were invalid: Cannot update attribute "
                f"{path.elements[0]}. This attribute is part of the key"
            )


def _check_filter_keys(condition: n.Condition | None, schema: KeySchema) -> None:
    if condition is None:
        return
    for head in _path_heads(condition):
        if head in schema.names:
            raise ExpressionError(
                "Filter Expression can only contain non-primary key attributes: "
                f"Primary key attribute: {head}"
            )


def _path_heads(node: object) -> list[str]:
    if isinstance(node, n.Path):
        return [str(node.elements[0])]
    if isinstance(node, n.Call):
        return [head for arg in node.args for head in _path_heads(arg)]
    if isinstance(node, n.In):
        return [h for o in (node.subject, *node.choices) for h in _path_heads(o)]
    fields = getattr(node, "__slots__", ())
    return [h for f in fields if f != "op" for h in _path_heads(getattr(node, f))]
