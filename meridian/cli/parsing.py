"""What the user typed, turned into protobuf: JSON arguments, ``ATTR=JSON`` and ``HLC@REGION``
flag values, conditions, update actions and sort key conditions.

Everything here but `input_text` (which may read stdin) is pure. Malformed input raises
UsageError naming the argument or flag; the `argparse` types raise ArgumentTypeError.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from meridian.cli.errors import UsageError
from meridian.model import items
from meridian.pb import node_pb2 as pb

RETURN_VALUES = {None: pb.RETURN_VALUES_NONE, "old": pb.ALL_OLD, "new": pb.ALL_NEW}
SORT_KEY_OPS = {
    "eq": pb.SortKeyCondition.EQ,
    "lt": pb.SortKeyCondition.LT,
    "le": pb.SortKeyCondition.LE,
    "gt": pb.SortKeyCondition.GT,
    "ge": pb.SortKeyCondition.GE,
    "begins_with": pb.SortKeyCondition.BEGINS_WITH,
    "between": pb.SortKeyCondition.BETWEEN,
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


def parse_assignment(text: str, option: str, typed: bool) -> pb.AttributeEquals:
    """``ATTR=JSON`` (as given to ``--if``, ``--set``, ``--add``, ``--delete``)."""
    name, sep, value_text = text.partition("=")
    if not sep:
        raise UsageError(f"{option} {text!r}: expected ATTR=JSON, e.g. {option} 'status=\"new\"'")
    if not name:
        raise UsageError(f"{option} {text!r}: the attribute name before '=' is empty")
    value = parse_value(value_text, f"{option} {text!r}", typed)
    return pb.AttributeEquals(name=name, value=value)


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


def conditions_of(args: argparse.Namespace) -> list[pb.Condition]:
    conditions = []
    if args.if_not_exists:
        conditions.append(pb.Condition(item_not_exists=True))
    if args.if_exists:
        conditions.append(pb.Condition(item_exists=True))
    if args.if_version is not None:
        conditions.append(pb.Condition(version_equals=parse_version(args.if_version)))
    for text in args.if_equals or ():
        conditions.append(pb.Condition(attribute_equals=parse_assignment(text, "--if", args.typed)))
    return conditions


def actions_of(ordered: Sequence[tuple[str, str]], typed: bool) -> list[pb.UpdateAction]:
    """Update actions in command-line order from (kind, text) pairs."""
    actions = []
    for kind, text in ordered:
        if kind == "remove":
            if not text:
                raise UsageError("--remove: the attribute name is empty")
            actions.append(pb.UpdateAction(remove=text))
        else:
            action = pb.UpdateAction()
            getattr(action, kind).CopyFrom(parse_assignment(text, f"--{kind}", typed))
            actions.append(action)
    if not actions:
        raise UsageError("update needs at least one of --set, --remove, --add or --delete")
    return actions


def sort_key_condition(args: argparse.Namespace) -> pb.SortKeyCondition | None:
    for name, op in SORT_KEY_OPS.items():
        given = getattr(args, f"sk_{name}")
        if given is None:
            continue
        option = f"--sk-{name.replace('_', '-')}"
        if name == "between":
            low, high = given
            return pb.SortKeyCondition(
                op=op,
                value=parse_value(low, f"{option} (low)", args.typed),
                value2=parse_value(high, f"{option} (high)", args.typed),
            )
        return pb.SortKeyCondition(op=op, value=parse_value(given, option, args.typed))
    return None
