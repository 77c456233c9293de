"""Per-attribute merge (meridian.model.attribute_merge): the rule per attribute, item and
attribute tombstones, the join laws, and the checks of a replicated state."""

from __future__ import annotations

import itertools
import random

import pytest

from meridian.model import attribute_merge as am
from meridian.model.attribute_merge import State, delete_delta, merge, put_delta, update_delta
from meridian.model.items import ItemError
from meridian.pb import node_pb2 as pb


def s(text: str) -> pb.AttributeValue:
    return pb.AttributeValue(s=text)


def item(**values: str) -> pb.Item:
    out = pb.Item()
    for name, value in values.items():
        out.attributes[name].CopyFrom(s(value))
    return out


def shown(state: State) -> dict[str, str] | None:
    """The live item a state shows (None when it is dead)."""
    return {name: value.s for name, value in state.values.items()} if state.live else None


def put(hlc: int, region: str, **values: str) -> State:
    return put_delta(item(**values), (hlc, region))


def update(hlc: int, region: str, old: dict[str, str] | None, **new: str) -> State:
    before = item(**old) if old is not None else None
    return update_delta(before, item(**new), (hlc, region))


BASE = put(10, "us", pk="k", a="1", b="1")


@pytest.mark.parametrize(
    ("case", "states", "expected"),
    [
        ("nothing", [], None),
        ("one put", [BASE], {"pk": "k", "a": "1", "b": "1"}),
        (
            "updates of different attributes both survive",
            [BASE, update(20, "us", {"a": "1"}, a="2"), update(21, "eu", {"b": "1"}, b="3")],
            {"pk": "k", "a": "2", "b": "3"},
        ),
        (
            "same attribute: higher clock wins",
            [BASE, update(30, "us", {"a": "1"}, a="us"), update(20, "eu", {"a": "1"}, a="eu")],
            {"pk": "k", "a": "us", "b": "1"},
        ),
        (
            "same attribute, equal clocks: higher region wins",
            [BASE, update(20, "eu", {"a": "1"}, a="eu"), update(20, "us", {"a": "1"}, a="us")],
            {"pk": "k", "a": "us", "b": "1"},
        ),
        (
            "remove of one attribute is an attribute tombstone",
            [BASE, update(20, "eu", {"a": "1", "b": "1"}, b="1")],
            {"pk": "k", "b": "1"},
        ),
        (
            "an older set loses to a newer remove",
            [BASE, update(30, "eu", {"a": "1", "b": "1"}, b="1"), update(20, "us", {}, a="x")],
            {"pk": "k", "b": "1"},
        ),
        (
            "a newer set beats an older remove",
            [BASE, update(20, "eu", {"a": "1", "b": "1"}, b="1"), update(30, "us", {}, a="x")],
            {"pk": "k", "a": "x", "b": "1"},
        ),
        ("delete removes every older attribute", [BASE, delete_delta((20, "eu"))], None),
        (
            "a write after the delete survives alone, without the key's own version",
            [BASE, delete_delta((20, "eu")), update(30, "us", {"a": "1"}, a="2")],
            {"a": "2"},
        ),
        (
            "a write before the delete is gone",
            [BASE, delete_delta((30, "eu")), update(20, "us", {"a": "1"}, a="2")],
            None,
        ),
        (
            "a put replaces every older attribute",
            [BASE, update(20, "eu", {}, c="1"), put(30, "us", pk="k", d="4")],
            {"pk": "k", "d": "4"},
        ),
        (
            "a newer attribute survives a concurrent put",
            [BASE, update(40, "eu", {}, c="1"), put(30, "us", pk="k", d="4")],
            {"pk": "k", "c": "1", "d": "4"},
        ),
        (
            "a put after a delete brings the item back",
            [BASE, delete_delta((20, "eu")), put(30, "us", pk="k", a="9")],
            {"pk": "k", "a": "9"},
        ),
    ],
)
def test_merge_result(case: str, states: list[State], expected: dict[str, str] | None) -> None:
    merged = am.EMPTY
    for state in states:
        merged = merge(merged, state)
    assert shown(merged) == expected, case
    for order in itertools.permutations(states):  # any arrival order gives the same
        again = am.EMPTY
        for state in order:
            again = merge(again, state)
        assert again == merged, case


def test_removal_wins_a_tie_with_a_value() -> None:
    live = State({"a": s("1")}, {"a": (5, "us")})
    gone = State(removed={"a": (5, "us")})
    assert merge(live, gone) == merge(gone, live) == gone


def test_delete_at_the_same_version_as_a_put_keeps_the_put() -> None:
    """A put is an item tombstone and values at one version: the values survive it."""
    assert shown(BASE) == {"pk": "k", "a": "1", "b": "1"}
    assert merge(BASE, delete_delta((10, "us"))) == BASE


def _states(seed: int, count: int) -> list[State]:
    """States of one item in three regions after random local writes and exchanges."""
    rng = random.Random(seed)
    regions = {name: am.EMPTY for name in ("eu", "us", "ap")}
    out = []
    for hlc in range(1, count + 1):
        region = rng.choice(sorted(regions))
        state = regions[region]
        old = am.item_of(state, item(pk="k")) if state.live else None
        roll = rng.random()
        if roll < 0.15:
            delta = delete_delta((hlc, region))
        elif roll < 0.35:
            delta = put(hlc, region, pk="k", **{rng.choice("abc"): f"{hlc}"})
        else:
            new = am.item_of(state, item(pk="k"))
            name = rng.choice("abc")
            if rng.random() < 0.3:
                if name in new.attributes:
                    del new.attributes[name]
            else:
                new.attributes[name].CopyFrom(s(f"{hlc}{region}"))
            delta = update_delta(old, new, (hlc, region))
        regions[region] = merge(state, delta)
        if rng.random() < 0.3:
            other = rng.choice(sorted(regions))
            regions[other] = merge(regions[other], regions[region])
        out.append(regions[region])
    return out


@pytest.mark.parametrize("seed", range(6))
def test_join_laws(seed: int) -> None:
    states = [am.EMPTY, *_states(seed, 12)]
    for a in states:
        assert merge(a, a) == a  # idempotent
    for a, b in itertools.product(states, repeat=2):
        assert merge(a, b) == merge(b, a)  # commutative
    for a, b, c in itertools.product(states[::2], repeat=3):
        assert merge(merge(a, b), c) == merge(a, merge(b, c))  # associative


@pytest.mark.parametrize("seed", range(4))
def test_stored_form_round_trips(seed: int) -> None:
    for state in _states(seed, 12):
        image = am.item_of(state, item(pk="k")) if state.live else None
        kept = am.to_pb(state)
        am.check(kept, image, ("pk",), pb.Version(hlc=state.newest()[0], region=state.newest()[1]))
        assert am.state_of(kept, image) == state


def _stamped(**names: tuple[int, str]) -> pb.AttributeState:
    out = pb.AttributeState()
    for name, (hlc, region) in names.items():
        out.clock[name].hlc, out.clock[name].region = hlc, region
    return out


@pytest.mark.parametrize(
    ("case", "state", "image", "message"),
    [
        ("image without versions", pb.AttributeState(), item(pk="k"), "needs attribute versions"),
        ("version without value", _stamped(pk=(1, "us"), a=(1, "us")), item(pk="k"), "not hold"),
        ("value without version", _stamped(pk=(1, "us")), item(pk="k", a="1"), "no version"),
        ("removed while live", _stamped(pk=(1, "us")), item(pk="k"), "both live and removed"),
        ("older than the deletion", _stamped(pk=(1, "us")), item(pk="k"), "older than"),
        ("version without region", _stamped(pk=(1, "")), item(pk="k"), "older than"),
        ("carrier newer than every entry", _stamped(pk=(1, "us")), item(pk="k"), "not the version"),
        (
            "newer than its carrier",
            _stamped(pk=(9, "us")),
            item(pk="k"),
            "not the version carrying",
        ),
    ],
)
def test_check_refuses(case: str, state: pb.AttributeState, image: pb.Item, message: str) -> None:
    if case == "removed while live":
        state.removed["pk"].hlc, state.removed["pk"].region = 1, "us"
    if case == "older than the deletion":
        state.deleted.hlc, state.deleted.region = 2, "us"
    with pytest.raises(ItemError, match=message):
        am.check(state, image, ("pk",), pb.Version(hlc=5, region="us"))


def delete(hlc: int, region: str) -> State:
    return delete_delta((hlc, region))


@pytest.mark.parametrize(
    ("case", "stored", "write", "version", "expected"),
    [
        ("nothing stored", am.EMPTY, update(20, "eu", None, a="1"), (20, "eu"), None),
        ("newer write of another attribute", BASE, update(20, "eu", {}, c="1"), (20, "eu"), None),
        ("the same write again", BASE, BASE, (10, "us"), None),
        (
            "an attribute written later here",
            merge(BASE, update(30, "us", {"a": "1"}, a="2")),
            update(20, "eu", {"a": "1"}, a="3", c="1"),
            (20, "eu"),
            (("a",), (30, "us")),
        ),
        (
            "equal clocks: the higher region",
            merge(BASE, update(20, "us", {"a": "1"}, a="2")),
            update(20, "ap", {"a": "1"}, a="3"),
            (20, "ap"),
            (("a",), (20, "us")),
        ),
        (
            "a removal written later here",
            merge(BASE, update(30, "us", {"a": "1"})),
            update(20, "eu", {"a": "1"}, a="3"),
            (20, "eu"),
            (("a",), (30, "us")),
        ),
        (
            "a put older than the stored delete loses whole",
            merge(BASE, delete(30, "us")),
            put(20, "eu", pk="k", a="2"),
            (20, "eu"),
            (("a", "pk"), (30, "us")),
        ),
        (
            "a delete older than the stored delete",
            merge(BASE, delete(30, "us")),
            delete(20, "eu"),
            (20, "eu"),
            ((), (30, "us")),
        ),
        (
            "a delete that later attributes outlive",
            update(20, "us", None, pk="k", a="1"),
            delete(10, "eu"),
            (10, "eu"),
            None,
        ),
        ("a delete older than the stored put", BASE, delete(5, "eu"), (5, "eu"), ((), (10, "us"))),
        (
            "only the entries of the write count, not the state it carries",
            merge(BASE, update(30, "us", {"a": "1"}, a="2")),
            merge(put(10, "us", pk="k", a="1", b="1"), update(40, "eu", {"b": "1"}, b="3")),
            (40, "eu"),
            None,
        ),
    ],
)
def test_losses(
    case: str,
    stored: State,
    write: State,
    version: am.Version,
    expected: tuple[tuple[str, ...], am.Version] | None,
) -> None:
    lost = am.losses(stored, write, version)
    got = None if lost is None else (lost.attributes, lost.winner)
    assert got == expected, case
