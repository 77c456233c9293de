"""Differential testing of meridian.expressions against moto's in-process DynamoDB.

A seeded generator makes items and requests (conditions, updates, projections, filters,
with #names, :values, nested paths, sets, lists and numbers). Each case runs through
moto (boto3 client inside ``moto.mock_aws``) and through the engine, and the outcomes are
compared: resulting items, condition outcomes, projected items, error codes, and error
messages for the kinds of error where moto words them as DynamoDB does.

Deliberate differences: where moto is known to differ from DynamoDB, the engine follows
DynamoDB and the generator does not produce the case (or the comparison skips it):

* UPDATED_OLD / UPDATED_NEW: moto returns the top-level attributes whose value changed;
  DynamoDB returns the touched document paths, even unchanged ones. Only ALL_NEW is
  compared here; the unit tests pin DynamoDB's behaviour.
* A REMOVE- or DELETE-only update of a missing item: moto creates a key-only item,
  DynamoDB creates nothing. Cases start from an existing item.
* size() of a missing attribute: moto fails the request (a server error), DynamoDB
  evaluates the comparison as false. Generated size() operands exist in the item.
* begins_with on binary values: moto only handles strings. Only string prefixes are made.
* Comparisons between values of different types with < <= > >= BETWEEN: moto compares
  Python values (and fails on mixed types); DynamoDB's answer is false. Ordered
  comparisons use operands of one type.
* List indexes in condition paths (a[1]): moto's condition lexer does not read them.
  Conditions and filters use map paths only; updates and projections use indexes.
* contains(): moto's list membership and mixed-type cases follow Python's `in`;
  contains() is generated on strings and sets with an operand of the member type.
* Set arithmetic on number sets: moto compares members as strings. Number sets hold
  canonical integers, so string and numeric comparison agree.
* Error messages: moto prefixes some with "1 validation error detected: " and words
  others its own way; messages are compared only for the kinds listed in
  TRUSTED_MESSAGES, error codes always.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from meridian.expressions import ExpressionError, KeySchema, compile_request
from meridian.pb import node_pb2 as pb

TABLE = "diff"
SCAN_TABLE = "diff_scan"
KEY = "pk"
SCHEMA = KeySchema(KEY, "S")

# Message prefixes moto shares with DynamoDB.
TRUSTED_MESSAGES = (
    "Invalid UpdateExpression: Attribute name is a reserved keyword",
    "Invalid ConditionExpression: Attribute name is a reserved keyword",
    "Invalid FilterExpression: Attribute name is a reserved keyword",
    "The document path provided in the update expression is invalid for update",
    "The provided expression refers to an attribute that does not exist in the item",
    "An operand in the update expression has an incorrect data type",
)


# ---------------------------------------------------------------- values


def to_pb(obj: dict[str, Any]) -> pb.AttributeValue:
    """A boto3 client value ({"S": "x"}, {"B": b"..."} ...) as an AttributeValue."""
    ((kind, content),) = obj.items()
    v = pb.AttributeValue()
    if kind == "S":
        v.s = content
    elif kind == "N":
        v.n = content
    elif kind == "B":
        v.b = bytes(content)
    elif kind == "BOOL":
        v.bool = content
    elif kind == "NULL":
        v.null = content
    elif kind == "L":
        v.l.SetInParent()
        for element in content:
            v.l.values.add().CopyFrom(to_pb(element))
    elif kind == "M":
        v.m.SetInParent()
        for name, member in content.items():
            v.m.fields[name].CopyFrom(to_pb(member))
    elif kind == "SS":
        v.ss.values.extend(content)
    elif kind == "NS":
        v.ns.values.extend(content)
    else:
        v.bs.values.extend(bytes(m) for m in content)
    return v


def item_to_pb(item: dict[str, Any]) -> pb.Item:
    result = pb.Item()
    for name, value in item.items():
        result.attributes[name].CopyFrom(to_pb(value))
    return result


def canonical(obj: Any) -> Any:
    """A boto3 client value or item in a form where equal DynamoDB values are equal."""
    if isinstance(obj, dict) and len(obj) == 1:
        ((kind, content),) = obj.items()
        if kind == "N":
            return ("N", Decimal(content).normalize())
        if kind == "NS":
            return ("NS", frozenset(Decimal(m).normalize() for m in content))
        if kind in ("SS", "BS"):
            return (kind, frozenset(bytes(m) if kind == "BS" else m for m in content))
        if kind == "B":
            return ("B", bytes(content))
        if kind == "L":
            return ("L", tuple(canonical(e) for e in content))
        if kind == "M":
            return ("M", {name: canonical(member) for name, member in content.items()})
        return (kind, content)
    raise ValueError(f"not an attribute value: {obj!r}")


def canonical_item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: canonical(value) for name, value in item.items()}


def from_pb(v: pb.AttributeValue) -> dict[str, Any]:
    kind = v.WhichOneof("value")
    if kind == "l":
        return {"L": [from_pb(e) for e in v.l.values]}
    if kind == "m":
        return {"M": {name: from_pb(m) for name, m in v.m.fields.items()}}
    if kind in ("ss", "ns", "bs"):
        return {kind.upper(): list(getattr(v, kind).values)}
    return {kind.upper(): getattr(v, kind)}


def item_from_pb(item: pb.Item | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {name: from_pb(v) for name, v in item.attributes.items()}


# ---------------------------------------------------------------- generator


NAMES = ("a", "b", "c", "d")  # plain attribute names
NAMED = ("e", "name")  # written through #placeholders ("name" is a reserved word)
WORDS = ("ab", "abc", "b", "xyz", "", "a")


@dataclass
class Case:
    """One request: what to do, with which expression texts and values."""

    kind: str  # update | condition | filter | projection
    item: dict[str, Any]
    update: str | None = None
    condition: str | None = None
    projection: str | None = None
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.avoid: list[str] = []

    # ------------------------------------------------------------ values

    def scalar(self, kind: str | None = None) -> dict[str, Any]:
        kind = kind or self.rng.choice(("S", "N", "N", "B", "BOOL", "NULL"))
        if kind == "S":
            return {"S": self.rng.choice(WORDS)}
        if kind == "N":
            # No 0 or 1: moto compares Python values, and True == 1.
            return {"N": self.rng.choice(("2", "-3", "10", "2.5", "1e2", "0.125", "-0.5"))}
        if kind == "B":
            return {"B": self.rng.choice((b"\x00", b"ab", b"\xff\x01", b""))}
        if kind == "BOOL":
            return {"BOOL": self.rng.random() < 0.5}
        return {"NULL": True}

    def set_value(self, kind: str | None = None) -> dict[str, Any]:
        kind = kind or self.rng.choice(("SS", "NS", "BS"))
        pool = {
            "SS": ["x", "y", "z", "w"],
            "NS": ["1", "2", "3", "10"],
            "BS": [b"\x01", b"\x02", b"\x03"],
        }[kind]
        return {kind: self.rng.sample(pool, self.rng.randint(1, len(pool)))}

    def value(self, depth: int = 0, null: bool = True) -> dict[str, Any]:
        """A random value; `null` False keeps NULL out (moto takes a missing attribute
        for NULL in comparisons, DynamoDB does not)."""
        if not null:
            value = self.value(depth)
            return value if "NULL" not in value else {"BOOL": True}
        roll = self.rng.random()
        if depth < 2 and roll < 0.15:
            return {"L": [self.value(depth + 1) for _ in range(self.rng.randint(0, 3))]}
        if depth < 2 and roll < 0.3:
            return {"M": {n: self.value(depth + 1) for n in self.rng.sample(NAMES, 2)}}
        if roll < 0.42:
            return self.set_value()
        return self.scalar()

    def item(self, key: str) -> dict[str, Any]:
        item = {KEY: {"S": key}}
        for name in (*NAMES, *NAMED):
            if self.rng.random() < 0.7:
                item[name] = self.value()
        return item

    # ------------------------------------------------------------ paths

    def name(self, case: Case, indexed: bool = False) -> str:
        """An attribute name as written in an expression (sometimes a #placeholder)."""
        if self.rng.random() < 0.25 and not (indexed and case.kind == "projection"):
            actual = self.rng.choice((*NAMED, *NAMES))
            placeholder = f"#n{len(case.names)}"
            case.names[placeholder] = actual
            return placeholder
        return self.rng.choice(NAMES)

    def path(self, case: Case, indexes: bool, item: dict[str, Any] | None = None) -> str:
        """A document path; if `item` is given, one that exists in it when possible."""
        if item is not None and self.rng.random() < 0.7:
            existing = self._existing_path(item, indexes)
            if existing is not None:
                return self._written(case, existing)
        steps = []
        for _ in range(self.rng.choice((0, 0, 1, 2))):
            if indexes and self.rng.random() < 0.4:
                steps.append(f"[{self.rng.randint(0, 3)}]")
            else:
                steps.append("." + self.rng.choice(NAMES))
        path = self.name(case, indexed=bool(steps) and steps[0].startswith("["))
        for step in steps:
            path += step
        return path

    def _existing_path(self, item: dict[str, Any], indexes: bool) -> list[str | int] | None:
        names = [n for n in item if n != KEY]
        if not names:
            return None
        name = self.rng.choice(names)
        path: list[str | int] = [name]
        value = item[name]
        while self.rng.random() < 0.6:
            if value.get("M"):
                member = self.rng.choice(sorted(value["M"]))
                path.append(member)
                value = value["M"][member]
            elif indexes and "L" in value and value["L"]:
                index = self.rng.randrange(len(value["L"]))
                path.append(index)
                value = value["L"][index]
            else:
                break
        return path

    def _written(self, case: Case, path: list[str | int]) -> str:
        text = ""
        for i, element in enumerate(path):
            if isinstance(element, int):
                text += f"[{element}]"
                continue
            indexed = i + 1 < len(path) and isinstance(path[i + 1], int)
            if case.kind == "projection" and indexed:
                # moto does not read "#name[1]" in a ProjectionExpression
                if element in NAMED:
                    return text + ("." if text else "") + self._placeholder_for(case, element)
            elif element in NAMED or self.rng.random() < 0.2:
                placeholder = f"#n{len(case.names)}"
                case.names[placeholder] = element
                element = placeholder
            text += ("." if text else "") + element
        return text

    def _placeholder_for(self, case: Case, name: str) -> str:
        placeholder = f"#n{len(case.names)}"
        case.names[placeholder] = name
        return placeholder

    def placeholder(self, case: Case, value: dict[str, Any]) -> str:
        name = f":v{len(case.values)}"
        case.values[name] = value
        return name

    # ------------------------------------------------------------ conditions

    def condition(self, case: Case, depth: int = 0) -> str:
        roll = self.rng.random()
        if depth < 2 and roll < 0.2:
            op = self.rng.choice(("AND", "OR"))
            return f"({self.condition(case, depth + 1)} {op} {self.condition(case, depth + 1)})"
        if depth < 2 and roll < 0.27:  # moto cannot parse NOT NOT
            return f"NOT {self.simple_condition(case)}"
        return self.simple_condition(case)

    def simple_condition(self, case: Case) -> str:
        item = case.item
        path = self.path(case, indexes=False, item=item)
        target = _lookup(item, path, case.names)
        roll = self.rng.random()
        if roll < 0.15:
            return f"attribute_exists({path})"
        if roll < 0.25:
            return f"attribute_not_exists({path})"
        if roll < 0.35:
            kind = self.rng.choice(("S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS"))
            return f"attribute_type({path}, {self.placeholder(case, {'S': kind})})"
        if roll < 0.45 and target is not None and "S" in target:
            return f"begins_with({path}, {self.placeholder(case, self.scalar('S'))})"
        if roll < 0.55 and target is not None and ("S" in target or _set_kind(target)):
            member = _set_kind(target)
            operand = self.scalar(member[0]) if member else self.scalar("S")
            return f"contains({path}, {self.placeholder(case, operand)})"
        if roll < 0.65 and target is not None and _sized(target):
            number = {"N": str(self.rng.randint(0, 4))}
            op = self.rng.choice(("=", "<>", "<", "<=", ">", ">="))
            return f"size({path}) {op} {self.placeholder(case, number)}"
        kind = _ordered_kind(target) or self.rng.choice(("S", "N"))
        if target is not None and _ordered_kind(target) is None:
            roll = 0.85  # moto fails on ordered comparisons of other types
        if roll < 0.75:
            low, high = sorted(
                (self.scalar(kind), self.scalar(kind)), key=lambda v: _sort_key(v, kind)
            )
            low_name, high_name = self.placeholder(case, low), self.placeholder(case, high)
            return f"{path} BETWEEN {low_name} AND {high_name}"
        if roll < 0.83:
            choices = [
                self.placeholder(case, self.value(null=False))
                for _ in range(self.rng.randint(1, 3))
            ]
            if target is not None and self.rng.random() < 0.5:
                choices.append(self.placeholder(case, target))
            return f"{path} IN ({', '.join(choices)})"
        if roll < 0.92 or target is None:
            op = self.rng.choice(("=", "<>"))
            operand = target if target is not None and self.rng.random() < 0.5 else None
            operand = operand or self.value(null=False)
            return f"{path} {op} {self.placeholder(case, operand)}"
        op = self.rng.choice(("<", "<=", ">", ">="))
        return f"{path} {op} {self.placeholder(case, self.scalar(kind))}"

    # ------------------------------------------------------------ updates

    def update(self, case: Case) -> str:
        clauses: dict[str, list[str]] = {}
        targets: list[tuple[str, str]] = []
        used: list[str] = []
        for _ in range(self.rng.randint(1, 4)):
            action = self.rng.choice(("SET", "SET", "SET", "REMOVE", "ADD", "DELETE"))
            path = self.path(case, indexes=True, item=case.item)
            resolved = _resolved(path, case.names)
            if any(_overlaps(resolved, other) for other in used):
                continue
            # moto applies REMOVE and SET on one list in written order; DynamoDB resolves
            # every index against the list as it was. One action per list, then.
            if "[" in resolved and any(_list_of(resolved) == _list_of(o) for o in used):
                continue
            used.append(resolved)
            targets.append((action, path))
        # Operands never read what another action changes: moto's operands alias the item
        # while it is being changed, DynamoDB reads them all from the item as it was.
        self.avoid = used
        for action, path in targets:
            clauses.setdefault(action, []).append(self._action(case, action, path))
        if not clauses:
            clauses["SET"] = [f"z = {self.placeholder(case, self.scalar())}"]
        parts = [f"{action} {', '.join(actions)}" for action, actions in clauses.items()]
        self.rng.shuffle(parts)
        return " ".join(parts)

    def operand_path(self, case: Case) -> str:
        for _ in range(10):
            path = self.path(case, indexes=True, item=case.item)
            if not any(_overlaps(_resolved(path, case.names), t) for t in self.avoid):
                return path
        return "zz"  # an attribute no item has

    def _action(self, case: Case, action: str, path: str) -> str:
        target = _lookup(case.item, path, case.names)
        if action == "REMOVE":
            return path
        if action in ("ADD", "DELETE"):
            kind = _set_kind(target) if target is not None else None
            if action == "ADD" and (
                (kind is None and self.rng.random() < 0.5) or (target and "N" in target)
            ):
                return f"{path} {self.placeholder(case, self.scalar('N'))}"
            return f"{path} {self.placeholder(case, self.set_value(kind))}"
        roll = self.rng.random()
        if roll < 0.5:
            value = self.placeholder(case, self.value())
        elif roll < 0.65:
            other = self.operand_path(case)
            value = f"if_not_exists({other}, {self.placeholder(case, self.scalar())})"
        elif roll < 0.8:
            first = self.operand_path(case)
            second = self.placeholder(case, {"L": [self.scalar() for _ in range(2)]})
            value = f"list_append({first}, {second})"
            if self.rng.random() < 0.5:
                value = f"list_append({second}, {first})"
        else:
            other = self.operand_path(case)
            op = self.rng.choice(("+", "-"))
            value = f"{other} {op} {self.placeholder(case, self.scalar('N'))}"
        return f"{path} = {value}"

    # ------------------------------------------------------------ cases

    def case(self, key: str) -> Case:
        kind = self.rng.choice(("update", "update", "condition", "filter", "projection"))
        case = Case(kind, self.item(key))
        if kind == "update":
            case.update = self.update(case)
            if self.rng.random() < 0.3:
                case.condition = self.condition(case)
        elif kind in ("condition", "filter"):
            case.condition = self.condition(case)
        else:
            count = self.rng.randint(1, 3)
            paths: list[str] = []
            resolved_paths: list[str] = []
            for _ in range(count):
                path = self.path(case, indexes=True, item=case.item)
                resolved = _resolved(path, case.names)
                if any(_overlaps(resolved, other) for other in resolved_paths):
                    continue
                if "[" in resolved and (
                    "].[" in resolved or any("[" in other for other in resolved_paths)
                ):
                    continue  # moto mishandles a[0][1] and several paths into one list
                resolved_paths.append(resolved)
                paths.append(path)
            case.projection = ", ".join(paths)
        _drop_unused_names(case)
        return case


def _drop_unused_names(case: Case) -> None:
    texts = " ".join(t for t in (case.update, case.condition, case.projection) if t)
    case.names = {k: v for k, v in case.names.items() if _mentioned(k, texts)}


def _mentioned(placeholder: str, text: str) -> bool:
    import re

    return re.search(re.escape(placeholder) + r"(?![0-9A-Za-z_])", text) is not None


def _resolved(path: str, names: dict[str, str]) -> str:
    import re

    return re.sub(r"#n[0-9]+", lambda m: names[m.group(0)], path).replace("[", ".[")


def _overlaps(a: str, b: str) -> bool:
    x, y = a.split("."), b.split(".")
    return x[: len(y)] == y[: len(x)] or any(
        (p.startswith("[") != q.startswith("[")) and x[:i] == y[:i]
        for i, (p, q) in enumerate(zip(x, y, strict=False))
    )


def _list_of(resolved: str) -> str:
    return resolved.rsplit(".[", 1)[0] if "[" in resolved else ""


def _lookup(item: dict[str, Any], path: str, names: dict[str, str]) -> dict[str, Any] | None:
    value: dict[str, Any] | None = {"M": item}
    for element in _resolved(path, names).split("."):
        if value is None:
            return None
        if element.startswith("["):
            elements = value.get("L")
            index = int(element[1:-1])
            value = elements[index] if elements is not None and index < len(elements) else None
        else:
            value = value.get("M", {}).get(element)
    return value


def _set_kind(value: dict[str, Any] | None) -> str | None:
    if value is None:
        return None
    return next((k for k in ("SS", "NS", "BS") if k in value), None)


def _sized(value: dict[str, Any]) -> bool:
    return any(k in value for k in ("S", "B", "L", "M", "SS", "NS", "BS"))


def _ordered_kind(value: dict[str, Any] | None) -> str | None:
    if value is None:
        return None
    return next((k for k in ("S", "N", "B") if k in value), None)


def _sort_key(value: dict[str, Any], kind: str) -> Any:
    return Decimal(value["N"]) if kind == "N" else value[kind]


# ---------------------------------------------------------------- running


@dataclass
class Outcome:
    """What one side made of a case: an error code and message, or a result."""

    error: str | None = None
    message: str | None = None
    result: Any = None


def engine_outcome(case: Case) -> Outcome:
    values = {name: to_pb(v) for name, v in case.values.items()} or None
    names = case.names or None
    operation = {
        "update": "UpdateItem",
        "condition": "PutItem",
        "filter": "Scan",
        "projection": "GetItem",
    }[case.kind]
    item = item_to_pb(case.item)
    try:
        expressions = compile_request(
            operation,
            update=case.update,
            condition=case.condition if case.kind != "filter" else None,
            filter=case.condition if case.kind == "filter" else None,
            projection=case.projection,
            names=names,
            values=values,
            schema=SCHEMA,
        )
        if case.kind == "projection":
            return Outcome(result=canonical_item(item_from_pb(expressions.project(item)) or {}))
        if case.kind == "filter":
            return Outcome(result=expressions.filter_matches(item))
        if not expressions.condition_holds(item):
            return Outcome("ConditionalCheckFailedException")
        if case.kind == "condition":
            return Outcome(result=True)
        key = pb.Item()
        key.attributes[KEY].s = case.item[KEY]["S"]
        new = expressions.apply_update(item, key).item
        return Outcome(result=canonical_item(item_from_pb(new) or {}))
    except ExpressionError as error:
        return Outcome(error.code, error.message)


@contextmanager
def moto_dynamodb() -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client(
            "dynamodb",
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        for table in (TABLE, SCAN_TABLE):
            client.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": KEY, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": KEY, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        yield client


def moto_outcome(client: Any, case: Case) -> Outcome:
    from botocore.exceptions import ClientError

    extra: dict[str, Any] = {}
    if case.names:
        extra["ExpressionAttributeNames"] = case.names
    if case.values:
        extra["ExpressionAttributeValues"] = case.values
    key = {KEY: case.item[KEY]}
    table = SCAN_TABLE if case.kind == "filter" else TABLE
    client.put_item(TableName=table, Item=case.item)
    try:
        if case.kind == "projection":
            got = client.get_item(
                TableName=TABLE, Key=key, ProjectionExpression=case.projection, **extra
            )
            return Outcome(result=canonical_item(got.get("Item", {})))
        if case.kind == "filter":
            got = client.scan(TableName=SCAN_TABLE, FilterExpression=case.condition, **extra)
            return Outcome(result=got["Count"] == 1)
        if case.kind == "condition":
            client.put_item(
                TableName=TABLE, Item=case.item, ConditionExpression=case.condition, **extra
            )
            return Outcome(result=True)
        if case.condition is not None:
            extra["ConditionExpression"] = case.condition
        got = client.update_item(
            TableName=TABLE, Key=key, UpdateExpression=case.update, ReturnValues="ALL_NEW", **extra
        )
        return Outcome(result=canonical_item(got.get("Attributes", {})))
    except ClientError as error:
        return Outcome(error.response["Error"]["Code"], error.response["Error"]["Message"])
    finally:
        if table == SCAN_TABLE:
            client.delete_item(TableName=SCAN_TABLE, Key=key)


BAD_PATH = "The document path provided in the update expression is invalid for update"
MISSING = "The provided expression refers to an attribute that does not exist in the item"


def disagreement(case: Case, engine: Outcome, moto: Outcome) -> str | None:
    """Why the two outcomes differ in a way that matters, or None."""
    if (moto.message == BAD_PATH) != (engine.message == BAD_PATH) and _steps_into_scalar(case):
        # A path that steps into a value of another type (a.b or a[0] where a is a
        # number). As a SET / ADD / DELETE target DynamoDB refuses the document path and
        # moto ignores the action; as an operand DynamoDB finds no attribute there while
        # moto reports a bad document path (and checks it before anything else).
        return None
    if engine.error != moto.error:
        return (
            f"error codes differ: engine {engine.error} {engine.message!r}, "
            f"moto {moto.error} {moto.message!r}"
        )
    if engine.error is None and engine.result != moto.result:
        return f"results differ:\n  engine {engine.result}\n  moto   {moto.result}"
    if (
        engine.error == "ValidationException"
        and moto.message is not None
        and any(moto.message.startswith(p) for p in TRUSTED_MESSAGES)
        and engine.message != moto.message
    ):
        return f"messages differ: engine {engine.message!r}, moto {moto.message!r}"
    return None


def _steps_into_scalar(case: Case) -> bool:
    """Whether a path of the update steps into an existing value that is no container of
    the kind the step needs."""
    import re

    text = case.update or ""
    for path in re.findall(r"[#A-Za-z][#A-Za-z0-9_.\[\]]*", text):
        steps = _resolved(path, case.names).split(".")
        for i in range(1, len(steps)):
            parent = _lookup(case.item, ".".join(steps[:i]).replace(".[", "["), {})
            wanted = "L" if steps[i].startswith("[") else "M"
            if parent is not None and wanted not in parent:
                return True
    return False


@dataclass
class Report:
    cases: int = 0
    moto_failures: int = 0  # moto raised instead of answering: not compared
    disagreements: list[str] = field(default_factory=list)


def run(seed: int, cases: int) -> Report:
    """Run `cases` generated cases and report the disagreements."""
    generator = Generator(seed)
    report = Report(cases)
    failures = report.disagreements
    with moto_dynamodb() as client:
        for i in range(cases):
            case = generator.case(f"k{i}")
            try:
                moto = moto_outcome(client, case)
            except Exception:  # moto itself failed (a moto bug): not a DynamoDB answer
                report.moto_failures += 1
                continue
            engine = engine_outcome(case)
            problem = disagreement(case, engine, moto)
            if problem is not None:
                failures.append(f"seed {seed} case {i}: {case}\n  {problem}")
    return report
