"""Write conditions and UpdateItem actions (meridian.model.updates)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from meridian.model.items import ItemError
from meridian.model.updates import ConditionFailed, apply_updates, check_conditions
from meridian.pb import node_pb2 as pb

# ---------------------------------------------------------------- value and item helpers


def S(text: str) -> pb.AttributeValue:
    return pb.AttributeValue(s=text)


def N(text: str) -> pb.AttributeValue:
    return pb.AttributeValue(n=text)


def B(data: bytes) -> pb.AttributeValue:
    return pb.AttributeValue(b=data)


def BOOL(flag: bool) -> pb.AttributeValue:
    return pb.AttributeValue(bool=flag)


def L(*values: pb.AttributeValue) -> pb.AttributeValue:
    return pb.AttributeValue(l=pb.ListValue(values=values))


def M(**fields: pb.AttributeValue) -> pb.AttributeValue:
    return pb.AttributeValue(m=pb.MapValue(fields=fields))


def SS(*values: str) -> pb.AttributeValue:
    return pb.AttributeValue(ss=pb.StringSet(values=values))


def NS(*values: str) -> pb.AttributeValue:
    return pb.AttributeValue(ns=pb.StringSet(values=values))


def BS(*values: bytes) -> pb.AttributeValue:
    return pb.AttributeValue(bs=pb.BinarySet(values=values))


NULL = pb.AttributeValue(null=True)
EMPTY = pb.AttributeValue()


def item(**attributes: pb.AttributeValue) -> pb.Item:
    return pb.Item(attributes=attributes)


KEY = item(pk=S("user#1"), sk=N("7"))
KEY_NAMES = ("pk", "sk")


def stored(**attributes: pb.AttributeValue) -> pb.Item:
    """A live item with the test key plus ``attributes``."""
    return item(pk=S("user#1"), sk=N("7"), **attributes)


def version(hlc: int, region: str) -> pb.Version:
    return pb.Version(hlc=hlc, region=region)


# ---------------------------------------------------------------- condition helpers


def item_exists() -> pb.Condition:
    return pb.Condition(item_exists=True)


def item_not_exists() -> pb.Condition:
    return pb.Condition(item_not_exists=True)


def attr_exists(name: str) -> pb.Condition:
    return pb.Condition(attribute_exists=name)


def attr_not_exists(name: str) -> pb.Condition:
    return pb.Condition(attribute_not_exists=name)


def attr_equals(name: str, value: pb.AttributeValue) -> pb.Condition:
    return pb.Condition(attribute_equals=pb.AttributeEquals(name=name, value=value))


def version_equals(hlc: int, region: str) -> pb.Condition:
    return pb.Condition(version_equals=version(hlc, region))


# ---------------------------------------------------------------- action helpers


def set_(name: str, value: pb.AttributeValue) -> pb.UpdateAction:
    return pb.UpdateAction(set=pb.AttributeEquals(name=name, value=value))


def remove(name: str) -> pb.UpdateAction:
    return pb.UpdateAction(remove=name)


def add(name: str, value: pb.AttributeValue) -> pb.UpdateAction:
    return pb.UpdateAction(add=pb.AttributeEquals(name=name, value=value))


def delete(name: str, value: pb.AttributeValue) -> pb.UpdateAction:
    return pb.UpdateAction(delete=pb.AttributeEquals(name=name, value=value))


# ---------------------------------------------------------------- conditions

V1 = version(1 << 16, "eu-west")
OPEN = stored(status=S("open"), count=N("5"), tags=SS("a", "b"))


@dataclass(frozen=True)
class CondCase:
    id: str
    conditions: list[pb.Condition]
    current: pb.Item | None
    version: pb.Version | None = None
    fails: str | None = None  # the exact ConditionFailed message, None when all hold


CONDITION_CASES = [
    CondCase("no conditions, no item", [], None),
    CondCase("no conditions, item", [], OPEN, V1),
    # item_exists
    CondCase("item_exists holds", [item_exists()], OPEN, V1),
    CondCase(
        "item_exists fails without item",
        [item_exists()],
        None,
        fails="condition failed: item does not exist",
    ),
    CondCase(
        "item_exists fails on tombstone",
        [item_exists()],
        None,
        V1,
        fails="condition failed: item does not exist",
    ),
    # item_not_exists
    CondCase("item_not_exists holds without item", [item_not_exists()], None),
    CondCase("item_not_exists holds on tombstone", [item_not_exists()], None, V1),
    CondCase(
        "item_not_exists fails",
        [item_not_exists()],
        OPEN,
        V1,
        fails="condition failed: item exists",
    ),
    # attribute_exists
    CondCase("attribute_exists holds", [attr_exists("status")], OPEN, V1),
    CondCase("attribute_exists holds for a key", [attr_exists("pk")], OPEN, V1),
    CondCase(
        "attribute_exists fails when absent",
        [attr_exists("owner")],
        OPEN,
        V1,
        fails="condition failed: attribute 'owner' does not exist",
    ),
    CondCase(
        "attribute_exists fails without item",
        [attr_exists("status")],
        None,
        fails="condition failed: attribute 'status' does not exist",
    ),
    # attribute_not_exists
    CondCase("attribute_not_exists holds when absent", [attr_not_exists("owner")], OPEN, V1),
    CondCase("attribute_not_exists holds without item", [attr_not_exists("status")], None),
    CondCase(
        "attribute_not_exists fails",
        [attr_not_exists("status")],
        OPEN,
        V1,
        fails="condition failed: attribute 'status' exists",
    ),
    # attribute_equals
    CondCase("attribute_equals holds for S", [attr_equals("status", S("open"))], OPEN, V1),
    CondCase("attribute_equals compares N by value", [attr_equals("count", N("5.0"))], OPEN, V1),
    CondCase("attribute_equals ignores set order", [attr_equals("tags", SS("b", "a"))], OPEN, V1),
    CondCase(
        "attribute_equals fails on another value",
        [attr_equals("status", S("closed"))],
        OPEN,
        V1,
        fails="condition failed: attribute 'status' is 'open', expected 'closed'",
    ),
    CondCase(
        "attribute_equals fails on another number",
        [attr_equals("count", N("6"))],
        OPEN,
        V1,
        fails="condition failed: attribute 'count' is 5, expected 6",
    ),
    CondCase(
        "attribute_equals fails on another type",
        [attr_equals("count", S("5"))],
        OPEN,
        V1,
        fails="condition failed: attribute 'count' is 5, expected '5'",
    ),
    CondCase(
        "attribute_equals fails when absent",
        [attr_equals("owner", S("ann"))],
        OPEN,
        V1,
        fails="condition failed: attribute 'owner' does not exist, expected 'ann'",
    ),
    CondCase(
        "attribute_equals fails without item",
        [attr_equals("status", S("open"))],
        None,
        fails="condition failed: attribute 'status' does not exist, expected 'open'",
    ),
    # version_equals
    CondCase("version_equals holds", [version_equals(1 << 16, "eu-west")], OPEN, V1),
    CondCase("version_equals holds on a tombstone", [version_equals(1 << 16, "eu-west")], None, V1),
    CondCase(
        "version_equals fails on hlc",
        [version_equals(2 << 16, "eu-west")],
        OPEN,
        V1,
        fails="condition failed: version is hlc=65536 region='eu-west', "
        "expected hlc=131072 region='eu-west'",
    ),
    CondCase(
        "version_equals fails on region",
        [version_equals(1 << 16, "us-east")],
        OPEN,
        V1,
        fails="condition failed: version is hlc=65536 region='eu-west', "
        "expected hlc=65536 region='us-east'",
    ),
    CondCase(
        "version_equals fails without version",
        [version_equals(1 << 16, "eu-west")],
        None,
        fails="condition failed: item has no version, expected hlc=65536 region='eu-west'",
    ),
    # combinations
    CondCase(
        "all hold",
        [item_exists(), attr_equals("status", S("open")), version_equals(1 << 16, "eu-west")],
        OPEN,
        V1,
    ),
    CondCase(
        "first failing condition is reported",
        [item_exists(), attr_not_exists("status"), attr_exists("owner")],
        OPEN,
        V1,
        fails="condition failed: attribute 'status' exists",
    ),
]


@pytest.mark.parametrize("case", CONDITION_CASES, ids=lambda c: c.id)
def test_check_conditions(case: CondCase) -> None:
    before = None if case.current is None else case.current.SerializeToString()
    if case.fails is None:
        check_conditions(case.conditions, case.current, case.version)
    else:
        with pytest.raises(ConditionFailed) as excinfo:
            check_conditions(case.conditions, case.current, case.version)
        assert str(excinfo.value) == case.fails
    if case.current is not None:
        assert case.current.SerializeToString() == before


MALFORMED_CONDITIONS = [
    ("no kind", [item_exists(), item_exists(), pb.Condition()], "condition[2]: no kind set"),
    ("item_exists false", [pb.Condition(item_exists=False)], "condition[0]: item_exists"),
    ("item_not_exists false", [pb.Condition(item_not_exists=False)], "condition[0]"),
    ("attribute_exists no name", [item_exists(), attr_exists("")], "condition[1]"),
    ("attribute_not_exists no name", [attr_not_exists("")], "condition[0]"),
    ("attribute_equals no name", [attr_equals("", S("x"))], "condition[0]"),
    ("attribute_equals no value", [attr_equals("status", EMPTY)], "condition[0]"),
    ("attribute_equals invalid number", [attr_equals("count", N("five"))], "attribute 'count'"),
    ("attribute_equals empty set", [attr_equals("tags", SS())], "attribute 'tags'"),
    # malformed wins over a failing condition that comes first
    ("malformed after failing", [item_not_exists(), pb.Condition()], "condition[1]: no kind set"),
]


@pytest.mark.parametrize(
    ("conditions", "message"),
    [pytest.param(c, m, id=i) for i, c, m in MALFORMED_CONDITIONS],
)
def test_check_conditions_refuses_malformed(conditions: list[pb.Condition], message: str) -> None:
    with pytest.raises(ItemError, match="^" + re.escape(message)):
        check_conditions(conditions, OPEN, V1)


def test_condition_failed_is_not_an_item_error() -> None:
    assert not issubclass(ConditionFailed, ValueError)
    assert issubclass(ItemError, ValueError)


# ---------------------------------------------------------------- update actions


@dataclass(frozen=True)
class UpdCase:
    id: str
    current: pb.Item | None
    actions: list[pb.UpdateAction]
    expected: pb.Item


UPDATE_CASES = [
    UpdCase("no actions keep the item", stored(a=S("x")), [], stored(a=S("x"))),
    UpdCase("no actions on no item give the key", None, [], KEY),
    # set
    UpdCase("set creates from the key", None, [set_("a", S("x"))], stored(a=S("x"))),
    UpdCase(
        "set adds an attribute", stored(b=N("1")), [set_("a", S("x"))], stored(a=S("x"), b=N("1"))
    ),
    UpdCase(
        "set replaces, type may change", stored(a=S("x")), [set_("a", N("2"))], stored(a=N("2"))
    ),
    UpdCase(
        "set nested values",
        None,
        [set_("l", L(S("x"), NULL)), set_("m", M(f=BOOL(True))), set_("b", B(b"\x00"))],
        stored(l=L(S("x"), NULL), m=M(f=BOOL(True)), b=B(b"\x00")),
    ),
    # remove
    UpdCase("remove drops", stored(a=S("x"), b=S("y")), [remove("a")], stored(b=S("y"))),
    UpdCase("remove absent is fine", stored(b=S("y")), [remove("a")], stored(b=S("y"))),
    UpdCase("remove on no item gives the key", None, [remove("a")], KEY),
    # add: numbers
    UpdCase("add N to absent", stored(), [add("n", N("3"))], stored(n=N("3"))),
    UpdCase("add N on no item", None, [add("n", N("3"))], stored(n=N("3"))),
    UpdCase("add N to N", stored(n=N("5")), [add("n", N("3"))], stored(n=N("8"))),
    UpdCase("add decimals exactly", stored(n=N("0.1")), [add("n", N("0.2"))], stored(n=N("0.3"))),
    UpdCase("add negative", stored(n=N("5")), [add("n", N("-7"))], stored(n=N("-2"))),
    UpdCase("add to zero", stored(n=N("2.5")), [add("n", N("-2.5"))], stored(n=N("0"))),
    UpdCase(
        "add keeps 38 digits",
        stored(n=N("12345678901234567890.123456789012345678")),
        [add("n", N("0.000000000000000001"))],
        stored(n=N("12345678901234567890.123456789012345679")),
    ),
    UpdCase(
        "add carries into one digit",
        stored(n=N("9" * 38)),
        [add("n", N("1"))],
        stored(n=N("1E+38")),
    ),
    UpdCase(
        "add spells large sums canonically",
        stored(n=N("1E+30")),
        [add("n", N("1e30"))],
        stored(n=N("2E+30")),
    ),
    # add: sets
    UpdCase("add SS to absent", stored(), [add("t", SS("b", "a"))], stored(t=SS("a", "b"))),
    UpdCase(
        "add SS union, canonical order",
        stored(t=SS("c", "a")),
        [add("t", SS("b", "a", "é", "Z"))],
        stored(t=SS("Z", "a", "b", "c", "é")),
    ),
    UpdCase(
        "add NS union compares numerically",
        stored(t=NS("10", "2")),
        [add("t", NS("2.0", "9", "-1"))],
        stored(t=NS("-1", "2", "9", "10")),
    ),
    UpdCase(
        "add BS union",
        stored(t=BS(b"\x02", b"\x00")),
        [add("t", BS(b"\x01", b"\x00"))],
        stored(t=BS(b"\x00", b"\x01", b"\x02")),
    ),
    UpdCase("add NS to absent", None, [add("t", NS("3", "1"))], stored(t=NS("1", "3"))),
    # delete
    UpdCase(
        "delete SS members",
        stored(t=SS("a", "b", "c")),
        [delete("t", SS("b", "x"))],
        stored(t=SS("a", "c")),
    ),
    UpdCase(
        "delete NS compares numerically",
        stored(t=NS("1", "2", "3")),
        [delete("t", NS("2.00", "1e0"))],
        stored(t=NS("3")),
    ),
    UpdCase(
        "delete BS members",
        stored(t=BS(b"\x00", b"\x01")),
        [delete("t", BS(b"\x01"))],
        stored(t=BS(b"\x00")),
    ),
    UpdCase(
        "delete nothing present keeps the set, canonical",
        stored(t=SS("b", "a")),
        [delete("t", SS("z"))],
        stored(t=SS("a", "b")),
    ),
    UpdCase(
        "delete everything removes", stored(t=SS("a", "b")), [delete("t", SS("b", "a"))], stored()
    ),
    UpdCase("delete from absent is fine", stored(), [delete("t", SS("a"))], stored()),
    UpdCase("delete on no item gives the key", None, [delete("t", NS("1"))], KEY),
    # several actions at once
    UpdCase(
        "mixed actions",
        stored(a=S("x"), n=N("1"), t=SS("a"), gone=BOOL(False)),
        [set_("a", S("y")), add("n", N("1")), add("t", SS("b")), remove("gone"), remove("never")],
        stored(a=S("y"), n=N("2"), t=SS("a", "b")),
    ),
]


@pytest.mark.parametrize("case", UPDATE_CASES, ids=lambda c: c.id)
def test_apply_updates(case: UpdCase) -> None:
    current_before = None if case.current is None else case.current.SerializeToString()
    key_before = KEY.SerializeToString()
    result = apply_updates(case.current, KEY, case.actions, KEY_NAMES)
    assert result == case.expected
    assert result is not case.current
    assert result is not KEY
    if case.current is not None:
        assert case.current.SerializeToString() == current_before
    assert KEY.SerializeToString() == key_before


@dataclass(frozen=True)
class BadCase:
    id: str
    current: pb.Item | None
    actions: list[pb.UpdateAction]
    message: str  # the exact ItemError message


ADD_TYPE = "attribute 'x': ADD needs a number or a set of the same type, got "

BAD_UPDATE_CASES = [
    # structure
    BadCase("no kind", stored(), [set_("a", S("x")), pb.UpdateAction()], "action[1]: no kind set"),
    BadCase(
        "set empty name", stored(), [set_("", S("x"))], "action[0]: set needs an attribute name"
    ),
    BadCase(
        "remove empty name", stored(), [remove("")], "action[0]: remove needs an attribute name"
    ),
    BadCase(
        "add empty name",
        stored(),
        [remove("a"), add("", N("1"))],
        "action[1]: add needs an attribute name",
    ),
    BadCase("set no value", stored(), [set_("a", EMPTY)], "attribute 'a': SET needs a value"),
    BadCase("add no value", stored(), [add("a", EMPTY)], "attribute 'a': ADD needs a value"),
    BadCase(
        "delete no value", stored(), [delete("a", EMPTY)], "attribute 'a': DELETE needs a value"
    ),
    # keys
    BadCase(
        "set key",
        stored(),
        [set_("pk", S("x"))],
        "attribute 'pk': key attributes cannot be updated",
    ),
    BadCase(
        "remove key", stored(), [remove("sk")], "attribute 'sk': key attributes cannot be updated"
    ),
    BadCase(
        "add key", None, [add("sk", N("1"))], "attribute 'sk': key attributes cannot be updated"
    ),
    BadCase(
        "delete key",
        stored(),
        [delete("pk", SS("x"))],
        "attribute 'pk': key attributes cannot be updated",
    ),
    # duplicates
    BadCase(
        "set twice",
        stored(),
        [set_("a", S("x")), set_("a", S("y"))],
        "attribute 'a': more than one action",
    ),
    BadCase(
        "set and remove",
        stored(),
        [set_("a", S("x")), remove("a")],
        "attribute 'a': more than one action",
    ),
    BadCase(
        "add and delete",
        stored(),
        [add("t", SS("x")), delete("t", SS("x"))],
        "attribute 't': more than one action",
    ),
    # add type errors
    BadCase(
        "add S operand",
        stored(),
        [add("x", S("1"))],
        ADD_TYPE + "S",
    ),
    BadCase(
        "add L operand",
        stored(),
        [add("x", L(N("1")))],
        ADD_TYPE + "L",
    ),
    BadCase(
        "add N to S",
        stored(x=S("1")),
        [add("x", N("1"))],
        ADD_TYPE + "N for an attribute of type S",
    ),
    BadCase(
        "add NS to SS",
        stored(x=SS("1")),
        [add("x", NS("1"))],
        ADD_TYPE + "NS for an attribute of type SS",
    ),
    BadCase(
        "add SS to N",
        stored(x=N("1")),
        [add("x", SS("1"))],
        ADD_TYPE + "SS for an attribute of type N",
    ),
    BadCase(
        "add empty set", stored(), [add("x", SS())], "attribute 'x': string set must not be empty"
    ),
    # add overflow
    BadCase(
        "add past 38 digits",
        stored(n=N("9" * 38)),
        [add("n", N("0.1"))],
        "attribute 'n': ADD result needs more than 38 digits",
    ),
    BadCase(
        "add losing precision",
        stored(n=N("1" + "0" * 30)),
        [add("n", N("0.000000001"))],
        "attribute 'n': ADD result needs more than 38 digits",
    ),
    # delete type errors
    BadCase(
        "delete S operand",
        stored(x=SS("a")),
        [delete("x", S("a"))],
        "attribute 'x': DELETE needs a set, got S",
    ),
    BadCase(
        "delete N operand",
        stored(),
        [delete("x", N("1"))],
        "attribute 'x': DELETE needs a set, got N",
    ),
    BadCase(
        "delete from another set type",
        stored(x=SS("1")),
        [delete("x", NS("1"))],
        "attribute 'x': DELETE needs a set of the same type, got NS for an attribute of type SS",
    ),
    BadCase(
        "delete from a non-set",
        stored(x=S("a")),
        [delete("x", SS("a"))],
        "attribute 'x': DELETE needs a set of the same type, got SS for an attribute of type S",
    ),
    BadCase(
        "delete empty set",
        stored(x=SS("a")),
        [delete("x", SS())],
        "attribute 'x': string set must not be empty",
    ),
    # validation comes before any action is applied
    BadCase(
        "late key action refused before an early type error",
        stored(x=S("a")),
        [add("x", N("1")), set_("pk", S("y"))],
        "attribute 'pk': key attributes cannot be updated",
    ),
]


@pytest.mark.parametrize("case", BAD_UPDATE_CASES, ids=lambda c: c.id)
def test_apply_updates_refuses(case: BadCase) -> None:
    before = None if case.current is None else case.current.SerializeToString()
    with pytest.raises(ItemError) as excinfo:
        apply_updates(case.current, KEY, case.actions, KEY_NAMES)
    assert str(excinfo.value) == case.message
    if case.current is not None:
        assert case.current.SerializeToString() == before


def test_add_rejects_a_sum_beyond_the_largest_magnitude() -> None:
    largest = "9E+125"
    with pytest.raises(ItemError, match=r"^attribute 'n': .*largest magnitude"):
        apply_updates(stored(n=N(largest)), KEY, [add("n", N(largest))], KEY_NAMES)


def test_add_rejects_an_invalid_number() -> None:
    with pytest.raises(ItemError, match="'n'"):
        apply_updates(stored(n=N("1")), KEY, [add("n", N("one"))], KEY_NAMES)


def test_add_rejects_an_invalid_set_number() -> None:
    with pytest.raises(ItemError, match="'t'"):
        apply_updates(stored(t=NS("1")), KEY, [add("t", NS("2", "x"))], KEY_NAMES)


@pytest.mark.parametrize(
    "operand",
    [SS("a", "a"), NS("1", "1.0"), BS(b"x", b"x")],
    ids=["SS", "NS", "BS"],
)
@pytest.mark.parametrize("action", [add, delete], ids=["add", "delete"])
def test_set_operands_must_not_repeat_members(
    action: Callable[[str, pb.AttributeValue], pb.UpdateAction], operand: pb.AttributeValue
) -> None:
    with pytest.raises(ItemError, match=r"^attribute 't': .*duplicates"):
        apply_updates(stored(), KEY, [action("t", operand)], KEY_NAMES)


def test_result_is_independent_of_inputs() -> None:
    current = stored(m=M(f=S("x")), t=SS("a"))
    result = apply_updates(current, KEY, [add("t", SS("b"))], KEY_NAMES)
    result.attributes["m"].m.fields["f"].s = "changed"
    assert current.attributes["m"].m.fields["f"].s == "x"

    created = apply_updates(None, KEY, [set_("a", S("x"))], KEY_NAMES)
    created.attributes["pk"].s = "changed"
    assert KEY.attributes["pk"].s == "user#1"


def test_key_names_may_be_any_collection() -> None:
    for names in (["pk"], {"pk"}, frozenset({"pk"}), {"pk": None}.keys()):
        with pytest.raises(ItemError, match="key attributes"):
            apply_updates(stored(), KEY, [remove("pk")], names)


def test_equal_sets_serialize_identically() -> None:
    one = apply_updates(stored(), KEY, [add("t", NS("3", "1", "2"))], KEY_NAMES)
    two = apply_updates(stored(t=NS("2")), KEY, [add("t", NS("1", "3"))], KEY_NAMES)
    assert one.attributes["t"].SerializeToString() == two.attributes["t"].SerializeToString()
