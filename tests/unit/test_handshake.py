"""Membership and schema guards at the replication handshake (replicator.handshake)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from replicator.handshake import (
    Claims,
    Identity,
    Refused,
    check_peer,
    check_pin,
    compare_tables,
)

MEMBERS = ["us", "eu", "ap"]
ME = Identity(
    group="prod", region="us", node_id="node-us-1", tables={"orders": "f1", "users": "f2"}
)
PEER = Identity(
    group="prod", region="eu", node_id="node-eu-1", tables={"orders": "f1", "users": "f2"}
)


@pytest.mark.parametrize(
    ("case", "peer", "expected_region", "message"),
    [
        ("other group", replace(PEER, group="staging"), None, ["group 'staging'", "group 'prod'"]),
        ("wrong region at the address", PEER, "ap", ["expected region 'ap'", "found region 'eu'"]),
        (
            "second node for my region",
            replace(PEER, region="us", node_id="node-us-2"),
            None,
            ["region 'us' already has a node", "node-us-1", "node-us-2"],
        ),
        ("not a member", replace(PEER, region="sa"), None, ["region 'sa' is not a member"]),
    ],
)
def test_check_peer_refuses_with_a_reason(
    case: str, peer: Identity, expected_region: str | None, message: list[str]
) -> None:
    with pytest.raises(Refused) as info:
        check_peer(ME, peer, MEMBERS, expected_region)
    for part in message:
        assert part in str(info.value), (case, str(info.value))


@pytest.mark.parametrize(
    ("case", "theirs", "shared", "excluded"),
    [
        ("same tables", {"orders": "f1", "users": "f2"}, ["orders", "users"], {}),
        ("table only here", {"orders": "f1"}, ["orders"], {}),
        (
            "table only there",
            {"orders": "f1", "users": "f2", "carts": "f3"},
            ["orders", "users"],
            {},
        ),
        ("other key schema", {"orders": "f1", "users": "XX"}, ["orders"], {"users": "XX"}),
        ("re-created there", {"orders": "1:f1", "users": "f2"}, ["users"], {"orders": "1:f1"}),
    ],
)
def test_tables_are_compared_one_by_one(
    case: str, theirs: dict[str, str], shared: list[str], excluded: dict[str, str]
) -> None:
    mine = {"orders": "f1", "users": "f2"}
    got_shared, got_excluded = compare_tables(mine, theirs, "eu")
    assert got_shared == shared, case
    assert sorted(got_excluded) == sorted(excluded), case
    for name, incarnation in excluded.items():
        assert f"table {name!r} differs in eu" in got_excluded[name]
        assert incarnation in got_excluded[name] and mine[name] in got_excluded[name]


def test_a_peer_with_other_tables_is_not_refused() -> None:
    check_peer(ME, replace(PEER, tables={"carts": "f9"}), MEMBERS)


@pytest.mark.parametrize("expected_region", [None, "eu"])
def test_check_peer_accepts_a_matching_member(expected_region: str | None) -> None:
    check_peer(ME, PEER, MEMBERS, expected_region)


def test_check_peer_accepts_no_tables_on_both_sides() -> None:
    check_peer(replace(ME, tables={}), replace(PEER, tables={}), MEMBERS)


def test_group_is_checked_before_membership() -> None:
    stranger = replace(PEER, group="other", region="zz")
    with pytest.raises(Refused, match="group 'other'"):
        check_peer(ME, stranger, MEMBERS)


def test_claims_same_node_twice_is_fine_and_counted() -> None:
    claims = Claims()
    claims.acquire("eu", "node-a")
    claims.acquire("eu", "node-a")
    claims.release("eu", "node-a")
    with pytest.raises(Refused, match="already linked from node node-a"):
        claims.acquire("eu", "node-b")  # one claim of node-a is still live
    claims.release("eu", "node-a")
    claims.acquire("eu", "node-b")


def test_claims_other_node_refused_until_released() -> None:
    claims = Claims()
    claims.acquire("eu", "node-a")
    with pytest.raises(Refused) as info:
        claims.acquire("eu", "node-b")
    assert "region 'eu'" in str(info.value)
    assert "(node-b) cannot claim it" in str(info.value)
    claims.release("eu", "node-b")  # not the owner: ignored
    with pytest.raises(Refused):
        claims.acquire("eu", "node-b")
    claims.release("eu", "node-a")
    claims.acquire("eu", "node-b")


def test_claims_are_per_region() -> None:
    claims = Claims()
    claims.acquire("eu", "node-a")
    claims.acquire("ap", "node-b")
    claims.release("ap", "node-a")  # not the owner of ap
    with pytest.raises(Refused):
        claims.acquire("ap", "node-c")


def test_release_of_an_unknown_region_is_harmless() -> None:
    claims = Claims()
    claims.release("eu", "node-a")
    claims.acquire("eu", "node-b")


def test_evicted_claim_is_no_longer_held_and_frees_the_region() -> None:
    claims = Claims()
    claims.acquire("eu", "node-a")
    claims.acquire("eu", "node-a")
    assert claims.holds("eu", "node-a") and not claims.holds("eu", "node-b")
    claims.evict("eu", "node-a")  # the one to keep: nothing changes
    assert claims.holds("eu", "node-a")
    claims.evict("eu", "node-b")  # an operator accepted node-b
    assert not claims.holds("eu", "node-a")
    claims.acquire("eu", "node-b")
    claims.release("eu", "node-a")  # the evicted pulls end later: ignored
    claims.release("eu", "node-a")
    assert claims.holds("eu", "node-b")


def test_check_pin_accepts_the_pinned_node_only() -> None:
    check_pin("us", "eu", "node-eu-1", "node-eu-1")
    with pytest.raises(Refused) as info:
        check_pin("us", "eu", "node-eu-1", "node-eu-2")
    message = str(info.value)
    assert "region 'eu' is pinned to node node-eu-1 in us" in message
    assert "node node-eu-2 cannot claim it" in message
    assert "meridian accept-node --config FILE --region us --peer eu --node-id node-eu-2" in message
