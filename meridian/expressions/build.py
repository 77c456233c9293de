"""Build expression nodes from parse trees, checking what DynamoDB checks before it reads
any item: function names and their use, reserved words, placeholders, operand counts and
the types of ``:value`` operands (known from the request), document paths.

A builder serves one request: it resolves ``#name`` placeholders and records which names
and values the expressions use, so the caller can refuse unused ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import partial

import lark

from meridian.expressions import nodes as n
from meridian.expressions.errors import invalid
from meridian.expressions.model import MAX_DEPTH, AttributeValue
from meridian.expressions.problems import Problems
from meridian.expressions.reserved import is_reserved

CONDITION_FUNCTIONS = {
    "attribute_exists": 1,
    "attribute_not_exists": 1,
    "attribute_type": 2,
    "begins_with": 2,
    "contains": 2,
}
UPDATE_FUNCTIONS = {"if_not_exists": 2, "list_append": 2}
ARITY = {**CONDITION_FUNCTIONS, **UPDATE_FUNCTIONS, "size": 1}

MAX_OPERATORS = 300
MAX_IN_OPERANDS = 100
# Nesting of the parse tree the builder and the evaluator follow by recursion. DynamoDB
# itself only limits the operator count; 200 levels is far beyond any real expression.
MAX_TREE_DEPTH = 200

_OPERATOR_TOKENS = frozenset(("AND", "OR", "NOT", "BETWEEN", "IN", "PLUS", "MINUS"))
# How DynamoDB names types in messages about ADD and DELETE operands.
_LONG_TYPE_NAMES = {
    "S": "STRING",
    "N": "NUMBER",
    "B": "BINARY",
    "NULL": "NULL",
    "BOOL": "BOOLEAN",
    "L": "LIST",
    "M": "MAP",
}
_SETS = frozenset(("SS", "NS", "BS"))
_TYPE_NAMES = frozenset(("S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS"))

ValueCheck = Callable[[Mapping[str, AttributeValue]], "str | None"]
_ORDERED = frozenset(("S", "N", "B"))


def _wrong_type(function: str, type_name: str) -> str:
    return (
        "Incorrect operand type for operator or function; "
        f"operator or function: {function}, operand type: {type_name}"
    )


def _misused(function: str) -> str:
    return f"The function is not allowed to be used this way in an expression; function: {function}"


def prescan(tree: lark.Tree, problems: Problems) -> None:
    """Checks made without recursion, so that absurdly nested input fails cleanly: operator
    count, nesting, unknown functions and redundant parentheses."""
    operators, deepest = 0, 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        for child in node.children:
            if isinstance(child, lark.Tree):
                stack.append((child, depth + 1))
            elif child.type in _OPERATOR_TOKENS:
                operators += 1
        if node.data == "comparator":
            operators += 1
        if node.data == "call" and node.children[0] not in ARITY:
            problems.add("function_name", f"Invalid function name; function: {node.children[0]}")
        if node.data == "parens" and getattr(node.children[0], "data", None) == "parens":
            problems.add("parens", "The expression has redundant parentheses;")
    if operators > MAX_OPERATORS:
        raise invalid(
            problems.kind,
            f"The expression contains too many operators; operator count: {operators}",
        )
    if deepest > MAX_TREE_DEPTH:
        problems.raise_first()
        raise invalid(problems.kind, "The expression is nested too deeply")


class Builder:
    """Turns parse trees into nodes; records problems and the placeholders used."""

    def __init__(
        self, problems: Problems, names: Mapping[str, str], value_types: Mapping[str, str]
    ) -> None:
        self.problems = problems
        self.names = names
        self.value_types = value_types
        self.used_names: set[str] = set()
        self.used_values: set[str] = set()
        # Checks that depend on the values themselves, not only on their types: run for
        # every request, since compiled expressions are shared by requests.
        self.value_checks: list[ValueCheck] = []

    # ------------------------------------------------------------ operands

    def path(self, tree: lark.Tree) -> n.Path:
        elements: list[n.PathElement] = []
        for step in tree.children:
            token = str(step.children[0])
            if step.data == "index":
                elements.append(int(token))
            elif step.data == "name_ref":
                elements.append(self._name_ref(token))
            else:
                if is_reserved(token):
                    self.problems.add(
                        "reserved",
                        f"Attribute name is a reserved keyword; reserved keyword: {token}",
                    )
                elements.append(token)
        if len(elements) > MAX_DEPTH:
            self.problems.add(
                "depth",
                f"The document path has too many nesting levels; nesting levels: {len(elements)}",
            )
        return n.Path(tuple(elements))

    def _name_ref(self, ref: str) -> str:
        if ref not in self.names:
            self.problems.add(
                "placeholder",
                "An expression attribute name used in the document path is not defined; "
                f"attribute name: {ref}",
            )
            return ref
        self.used_names.add(ref)
        return self.names[ref]

    def value(self, token: object) -> n.Value:
        name = str(token)
        if name not in self.value_types:
            self.problems.add(
                "placeholder",
                "An expression attribute value used in expression is not defined; "
                f"attribute value: {name}",
            )
        else:
            self.used_values.add(name)
        return n.Value(name)

    def operand(self, tree: lark.Tree, update: bool = False) -> n.Operand:
        if tree.data == "path":
            return self.path(tree)
        if tree.data == "value":
            return self.value(tree.children[0])
        return self.call(tree, as_condition=False, update=update)

    def static_type(self, operand: n.Operand | n.Arith) -> str | None:
        """The type an operand has whatever the item (None: it depends on the item)."""
        if isinstance(operand, n.Value):
            return self.value_types.get(operand.name)
        if isinstance(operand, n.Arith):
            return "N"
        if isinstance(operand, n.Call):
            if operand.name == "size":
                return "N"
            if operand.name == "list_append":
                return "L"
            if operand.name == "if_not_exists" and len(operand.args) == 2:
                return self.static_type(operand.args[1])
        return None

    # ------------------------------------------------------------ functions

    def call(self, tree: lark.Tree, as_condition: bool, update: bool = False) -> n.Call:
        name = str(tree.children[0])
        args = tuple(self.operand(arg, update) for arg in tree.children[1:])
        call = n.Call(name, args)
        if name not in ARITY:
            return call  # reported by prescan
        if update:
            allowed = name in UPDATE_FUNCTIONS
        elif as_condition:
            allowed = name in CONDITION_FUNCTIONS
        else:
            allowed = name == "size"
        if not allowed:
            self.problems.add("misused", _misused(name))
        if len(args) != ARITY[name]:
            self.problems.add(
                "operands",
                "Incorrect number of operands for operator or function; "
                f"operator or function: {name}, number of operands: {len(args)}",
            )
            return call
        self._check_call(call)
        return call

    def _check_call(self, call: n.Call) -> None:
        name, args = call.name, call.args
        if name in ("attribute_exists", "attribute_not_exists", "if_not_exists"):
            if not isinstance(args[0], n.Path):
                self.problems.add(
                    "type",
                    f"Operator or function requires a document path; operator or function: {name}",
                )
        elif name == "attribute_type":
            kind = self.static_type(args[1])
            if kind != "S":
                self.problems.add(
                    "type", _wrong_type(name, kind or "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}")
                )
            elif isinstance(args[1], n.Value):
                self.value_checks.append(partial(_check_type_name, args[1].name))
        elif name == "begins_with":
            for arg in args:
                kind = self.static_type(arg)
                if kind is not None and kind not in ("S", "B"):
                    self.problems.add("type", _wrong_type(name, kind))
        elif name == "size":
            kind = self.static_type(args[0])
            if kind in ("N", "BOOL", "NULL"):
                self.problems.add("type", _wrong_type(name, kind))
        elif name == "list_append":
            for arg in args:
                kind = self.static_type(arg)
                if kind is not None and kind != "L":
                    self.problems.add("type", _wrong_type(name, kind))
        if name in ("attribute_type", "begins_with", "contains"):
            self._check_distinct(name, args[0], args[1])

    def _check_distinct(self, operator: str, first: n.Operand, second: n.Operand) -> None:
        if isinstance(first, n.Path) and first == second:
            self.problems.add(
                "distinct",
                "The first operand must be distinct from the remaining operands for this "
                f"operator or function; operator: {operator}, first operand: {first}",
            )

    def _check_ordered(self, operator: str, operands: tuple[n.Operand, ...]) -> None:
        for operand in operands:
            kind = self.static_type(operand)
            if isinstance(operand, n.Value) and kind is not None and kind not in _ORDERED:
                self.problems.add("type", _wrong_type(operator, kind))

    # ------------------------------------------------------------ conditions

    def condition(self, tree: lark.Tree) -> n.Condition:
        data = tree.data
        kids = tree.children
        if data in ("condition", "parens"):
            return self.condition(kids[0])
        if data == "or_":
            return n.Or(self.condition(kids[0]), self.condition(kids[2]))
        if data == "and_":
            return n.And(self.condition(kids[0]), self.condition(kids[2]))
        if data == "not_":
            return n.Not(self.condition(kids[1]))
        if data == "compare":
            op = str(kids[1].children[0])
            left, right = self.operand(kids[0]), self.operand(kids[2])
            if op not in ("=", "<>"):
                self._check_ordered(op, (left, right))
            self._check_distinct(op, left, right)
            return n.Compare(op, left, right)
        if data == "between":
            subject, low, high = (self.operand(kids[i]) for i in (0, 2, 4))
            self._check_between(subject, low, high)
            return n.Between(subject, low, high)
        if data == "in_":
            subject = self.operand(kids[0])
            choices = tuple(self.operand(kid) for kid in kids[2:])
            if len(choices) > MAX_IN_OPERANDS:
                self.problems.add(
                    "operands",
                    "The IN operator is provided with too many operands; "
                    f"number of operands: {len(choices)}",
                )
            return n.In(subject, choices)
        return self.call(tree, as_condition=True)

    def _check_between(self, subject: n.Operand, low: n.Operand, high: n.Operand) -> None:
        self._check_ordered("BETWEEN", (subject, low, high))
        low_type, high_type = self.static_type(low), self.static_type(high)
        if (
            isinstance(low, n.Value)
            and isinstance(high, n.Value)
            and low_type is not None
            and high_type is not None
            and low_type != high_type
        ):
            self.problems.add(
                "type",
                "The BETWEEN operator requires same data type for lower and upper bounds; "
                f"lower bound operand: AttributeValue: {{{low_type}}}, "
                f"upper bound operand: AttributeValue: {{{high_type}}}",
            )
        elif isinstance(low, n.Value) and isinstance(high, n.Value) and low_type in _ORDERED:
            self.value_checks.append(partial(_check_bounds, low.name, high.name))

    # ------------------------------------------------------------ updates

    def update(self, tree: lark.Tree) -> n.Update:
        actions: list[n.Action] = []
        seen: set[str] = set()
        for clause in tree.children:
            keyword = str(clause.children[0]).upper()
            if keyword in seen:
                self.problems.add(
                    "section",
                    f'The "{keyword}" section can only be used once in an update expression;',
                )
            seen.add(keyword)
            actions.extend(self._clause(clause.data, clause.children[1:]))
        check_paths(self.problems, [action.path for action in actions])
        return n.Update(tuple(actions))

    def _clause(self, data: str, kids: list[lark.Tree]) -> list[n.Action]:
        if data == "set_clause":
            return [self._set_action(kid) for kid in kids]
        if data == "remove_clause":
            return [n.RemoveAction(self.path(kid)) for kid in kids]
        pairs = [(self.path(kids[i]), self.value(kids[i + 1])) for i in range(0, len(kids), 2)]
        operator = "ADD" if data == "add_clause" else "DELETE"
        for _, value in pairs:
            kind = self.value_types.get(value.name)
            if kind is not None and kind not in _SETS and (operator == "DELETE" or kind != "N"):
                self.problems.add(
                    "type",
                    "Incorrect operand type for operator or function; "
                    f"operator: {operator}, operand type: {_LONG_TYPE_NAMES[kind]}",
                )
        if operator == "ADD":
            return [n.AddAction(path, value) for path, value in pairs]
        return [n.DeleteAction(path, value) for path, value in pairs]

    def _set_action(self, tree: lark.Tree) -> n.SetAction:
        path = self.path(tree.children[0])
        value_tree = tree.children[2]
        if value_tree.data != "arith":
            return n.SetAction(path, self.operand(value_tree, update=True))
        left, op, right = value_tree.children
        arith = n.Arith(str(op), self.operand(left, True), self.operand(right, True))
        for operand in (arith.left, arith.right):
            kind = self.static_type(operand)
            if kind is not None and kind != "N":
                self.problems.add("type", _wrong_type(arith.op, kind))
        return n.SetAction(path, arith)

    # ------------------------------------------------------------ projections

    def projection(self, tree: lark.Tree) -> tuple[n.Path, ...]:
        paths = [self.path(kid) for kid in tree.children]
        check_paths(self.problems, paths)
        return tuple(paths)


def check_paths(problems: Problems, paths: list[n.Path]) -> None:
    """Refuse two paths where one is the other or inside it (overlap), or where one takes a
    list index and the other a map member at the same step (conflict)."""
    for i, second in enumerate(paths):
        for first in paths[:i]:
            relation = _relation(first.elements, second.elements)
            if relation is not None:
                problems.add(
                    relation,
                    f"Two document paths {relation} with each other; must remove or rewrite "
                    f"one of these paths; path one: {first}, path two: {second}",
                )


def _relation(a: tuple[n.PathElement, ...], b: tuple[n.PathElement, ...]) -> str | None:
    for x, y in zip(a, b, strict=False):
        if type(x) is not type(y):
            return "conflict"
        if x != y:
            return None
    return "overlap"


def _check_type_name(placeholder: str, values: Mapping[str, AttributeValue]) -> str | None:
    name = values[placeholder].s
    if name in _TYPE_NAMES:
        return None
    return (
        f"Invalid attribute type name found; type: {name}, "
        "valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"
    )


def _check_bounds(low: str, high: str, values: Mapping[str, AttributeValue]) -> str | None:
    lower, upper = values[low], values[high]
    kind = lower.WhichOneof("value")
    if kind != upper.WhichOneof("value"):
        return None
    if kind == "n":
        in_order = Decimal(lower.n) <= Decimal(upper.n)
    else:
        in_order = getattr(lower, kind) <= getattr(upper, kind)
    if in_order:
        return None
    return (
        "The BETWEEN operator requires upper bound to be greater than or equal to lower "
        f"bound; lower bound operand: AttributeValue: {{{_shown(lower)}}}, "
        f"upper bound operand: AttributeValue: {{{_shown(upper)}}}"
    )


def _shown(v: AttributeValue) -> str:
    kind = v.WhichOneof("value")
    return f"{kind.upper()}:{getattr(v, kind)!s}" if kind != "b" else f"B:{v.b!r}"
