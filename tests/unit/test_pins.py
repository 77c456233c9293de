"""Pinning a peer region to one node (regionnode.pins) and choosing whom an operator accepts
(replicator.pins.choose). Pure."""

from __future__ import annotations

import re

import pytest

from meridian.pb import node_pb2 as pb
from regionnode import pins
from replicator.pins import NothingToAccept, choose

PINNED = pb.PeerPin(region="eu", node_id="a", pinned_ms=5)


@pytest.mark.parametrize(
    ("case", "current", "offered", "replace", "expected"),
    [
        ("first link pins", None, "a", False, ("a", "")),
        ("first link by an operator", None, "a", True, ("a", "")),
        ("the pinned node again", PINNED, "a", False, None),
        ("the pinned node, replace", PINNED, "a", True, None),
        ("another node is not pinned", PINNED, "b", False, None),
        ("an operator replaces", PINNED, "b", True, ("b", "a")),
    ],
)
def test_decide(
    case: str,
    current: pb.PeerPin | None,
    offered: str,
    replace: bool,
    expected: tuple[str, str] | None,
) -> None:
    new = pins.decide(current, "eu", offered, replace, now_ms=9)
    if expected is None:
        assert new is None, case
        return
    assert new is not None, case
    assert (new.region, new.node_id, new.previous_node_id, new.pinned_ms) == ("eu", *expected, 9)


@pytest.mark.parametrize(
    ("requested", "claimants", "expected"),
    [
        ("c", [], "c"),  # an id given is taken as it is
        ("c", ["b", "d"], "c"),
        ("", ["b"], "b"),  # the one other node that claimed the region
    ],
)
def test_choose(requested: str, claimants: list[str], expected: str) -> None:
    assert choose("eu", requested, "a", claimants) == expected


@pytest.mark.parametrize(
    ("claimants", "message"),
    [
        ([], "no node other than the pinned one (a) has claimed region 'eu'"),
        (["b", "c"], "several nodes claimed region 'eu': b, c"),
    ],
)
def test_choose_refuses_to_guess(claimants: list[str], message: str) -> None:
    with pytest.raises(NothingToAccept, match=re.escape(message)):
        choose("eu", "", "a", claimants)
