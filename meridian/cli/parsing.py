"""What the user typed, turned into protobuf and DynamoDB expressions: JSON arguments,
``ATTR=JSON`` and ``HLC@REGION`` flag values, and the condition, update and key-condition
expressions the flags stand for (with the user's own ``--condition``, ``--update``,
``--names`` and ``--values``).

Everything here but `input_text` (which may read stdin) is pure. Malformed input raises
UsageError naming the argument or flag; the `argparse` types raise ArgumentTypeError.
Expressions the node refuses come back as its ValidationException-style message.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from meridian.cli.errors import UsageError
from meridian.model import items
from meridian.pb import node_pb2 as pb

# What --sk-<op> stands for in a KeyConditionExpression ({k} the sort key, {v} the value).
SORT_KEY_OPS = {
    "eq": "{k} = {v}",
    "lt": "{k} < {v}",
    "le": "{k} <= {v}",
    "gt": "{k} > {v}",
    "ge": "{k} >= {v}",
    "begins_with": "begins_with({k}, {v})",
    "between": "{k} BETWEEN {v} AND {high}",
}


def input_text(text: str) -> str:
    """A JSON argument, or standard input when it is ``-``."""
    return sys.stdin.read() if text == "-" else text


def parse_json(text: str, what: str) -> Any:
    """JSON text with exact numbers; UsageError naming ``what`` when it is malformed."""
    try:
        return items.loads(text)
    except RecursionError:
        raise UsageError(f"{what}: JSON nested too deeply") from None
    except ValueError as exc:
        raise UsageError(f"{what}: not valid JSON: {exc}{_quotes_hint(text)}") from None


def _quotes_hint(text: str) -> str:
    """A hint when the text looks like a bare word meant as a JSON string, else ''."""
    stripped = text.strip()
    if not stripped or stripped[0] in '{["-0123456789' or stripped in ("true", "false", "null"):
        return ""
    return f" (a JSON string needs quotes: '\"{stripped}\"')"


def parse_value(text: str, what: str, typed: bool) -> pb.AttributeValue:
    """One attribute value from JSON (plain, or DynamoDB JSON when ``typed``)."""
    obj = parse_json(text, what)
    try:
        if typed:
            return items.value_from_typed("value", obj)
        return items.value_from_plain("value", obj)
    except items.ItemError as exc:
        raise UsageError(f"{what}: {exc}") from None


def parse_item(text: str, what: str, typed: bool) -> pb.Item:
    """An item (or key) from a JSON object, validated and normalized."""
    return item_from_json(parse_json(text, what), what, typed)


def item_from_json(obj: Any, what: str, typed: bool) -> pb.Item:
    try:
        return items.from_typed(obj) if typed else items.from_plain(obj)
    except items.ItemError as exc:
        raise UsageError(f"{what}: {exc}") from None


def parse_assignment(text: str, option: str, typed: bool) -> tuple[str, pb.AttributeValue]:
    """``ATTR=JSON`` (as given to ``--if``, ``--set``, ``--add``, ``--delete``)."""
    name, sep, value_text = text.partition("=")
    if not sep:
        raise UsageError(f"{option} {text!r}: expected ATTR=JSON, e.g. {option} 'status=\"new\"'")
    if not name:
        raise UsageError(f"{option} {text!r}: the attribute name before '=' is empty")
    return name, parse_value(value_text, f"{option} {text!r}", typed)


def parse_version(text: str, option: str = "--if-version") -> pb.Version:
    """``HLC@REGION``, as printed by ``put`` (``{"hlc": N, "region": R}``)."""
    hlc_text, sep, region = text.partition("@")
    example = f"expected HLC@REGION, e.g. {option} 117659920710238208@us-east"
    if not sep or not region:
        raise UsageError(f"{option} {text!r}: {example}")
    if not hlc_text.isascii() or not hlc_text.isdigit() or int(hlc_text) >= 1 << 64:
        raise UsageError(f"{option} {text!r}: HLC must be an integer from 0 to 2^64-1; {example}")
    return pb.Version(hlc=int(hlc_text), region=region)


def parse_stream_position(text: str) -> str | int:
    """``trim-horizon``, ``latest`` or a sequence number (leading zeros allowed)."""
    if text in ("trim-horizon", "latest"):
        return text
    if text.isascii() and text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(
        f"expected trim-horizon, latest or a sequence number, got {text!r}"
    )


def positive_int(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def non_negative_int(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected an integer of 0 or more, got {text!r}")
    return int(text)


class Placeholders:
    """ExpressionAttributeNames and ExpressionAttributeValues: the user's (--names, --values)
    and those made for flags (``#m0``, ``:m0``..., skipping any the user took)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.names = _names_of(getattr(args, "names", None))
        self.values = _values_of(getattr(args, "values", None), args.typed)
        self._next = {"#": 0, ":": 0}

    def _free(self, sigil: str, taken: dict[str, Any]) -> str:
        while f"{sigil}m{self._next[sigil]}" in taken:
            self._next[sigil] += 1
        self._next[sigil] += 1
        return f"{sigil}m{self._next[sigil] - 1}"

    def name(self, attribute: str) -> str:
        placeholder = self._free("#", self.names)
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: pb.AttributeValue) -> str:
        placeholder = self._free(":", self.values)
        self.values[placeholder] = value
        return placeholder


def _names_of(text: str | None) -> dict[str, str]:
    if text is None:
        return {}
    obj = parse_json(text, "--names")
    if not isinstance(obj, dict) or not all(isinstance(v, str) for v in obj.values()):
        raise UsageError('--names: expected a JSON object of strings, e.g. \'{"#s": "status"}\'')
    return dict(obj)


def _values_of(text: str | None, typed: bool) -> dict[str, pb.AttributeValue]:
    if text is None:
        return {}
    obj = parse_json(text, "--values")
    if not isinstance(obj, dict):
        raise UsageError('--values: expected a JSON object, e.g. \'{":s": "new"}\'')
    try:
        if typed:
            return {key: items.value_from_typed(key, value) for key, value in obj.items()}
        return {key: items.value_from_plain(key, value) for key, value in obj.items()}
    except items.ItemError as exc:
        raise UsageError(f"--values: {exc}") from None


def _parenthesized(text: str) -> str:
    """`text` in parentheses, unless one pair encloses it already (DynamoDB refuses
    redundant parentheses)."""
    stripped = text.strip()
    depth = 0
    for index, char in enumerate(stripped):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and index < len(stripped) - 1:
            return f"({text})"
    return stripped if stripped.startswith("(") else f"({text})"


def condition_of(args: argparse.Namespace, names: Placeholders, key: str | None) -> str | None:
    """The ConditionExpression of --if-not-exists, --if-exists, --if and --condition (all
    must hold); `key` is a key attribute's name (needed for the first two)."""
    parts = []
    if args.if_not_exists or args.if_exists:
        assert key is not None
        function = "attribute_not_exists" if args.if_not_exists else "attribute_exists"
        parts.append(f"{function}({names.name(key)})")
    for text in args.if_equals or ():
        name, value = parse_assignment(text, "--if", args.typed)
        parts.append(f"{names.name(name)} = {names.value(value)}")
    if args.condition is not None:
        parts.append(_parenthesized(args.condition) if parts else args.condition)
    return " AND ".join(parts) if parts else None


def update_of(ordered: Sequence[tuple[str, str]], typed: bool, names: Placeholders) -> str:
    """The UpdateExpression of --set, --remove, --add and --delete."""
    clauses: dict[str, list[str]] = {"SET": [], "REMOVE": [], "ADD": [], "DELETE": []}
    for kind, text in ordered:
        if kind == "remove":
            if not text:
                raise UsageError("--remove: the attribute name is empty")
            clauses["REMOVE"].append(names.name(text))
            continue
        name, value = parse_assignment(text, f"--{kind}", typed)
        operator = " = " if kind == "set" else " "
        clauses[kind.upper()].append(f"{names.name(name)}{operator}{names.value(value)}")
    if not any(clauses.values()):
        raise UsageError("update needs at least one of --set, --remove, --add or --delete")
    return " ".join(f"{kind} {', '.join(parts)}" for kind, parts in clauses.items() if parts)


def key_condition_of(args: argparse.Namespace, names: Placeholders, spec: pb.TableSpec) -> str:
    """The KeyConditionExpression of the partition key value and an --sk-* option."""
    value = parse_value(input_text(args.partition_key), "partition key", args.typed)
    text = f"{names.name(spec.partition_key.name)} = {names.value(value)}"
    for name, template in SORT_KEY_OPS.items():
        given = getattr(args, f"sk_{name}")
        if given is None:
            continue
        option = f"--sk-{name.replace('_', '-')}"
        if not spec.sort_key.name:
            raise UsageError(f"{option}: table {spec.name!r} has no sort key")
        if name == "between":
            low = names.value(parse_value(given[0], f"{option} (low)", args.typed))
            high = names.value(parse_value(given[1], f"{option} (high)", args.typed))
        else:
            low, high = names.value(parse_value(given, option, args.typed)), ""
        text += " AND " + template.format(k=names.name(spec.sort_key.name), v=low, high=high)
    return text
