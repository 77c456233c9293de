"""Membership and schema guards, checked before any data moves. Pure functions.

Each side describes itself (group, region, node identity, its tables with their
incarnations); the other side refuses with an explicit reason when they cannot replicate.
Tables are compared one by one: a table that differs is left out of the link and reported,
the others flow; a table that one side lacks is not an error (the catalog converges it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from meridian.wire.errors import HandshakeRefused


@dataclass(frozen=True)
class Identity:
    group: str
    region: str
    node_id: str
    tables: Mapping[str, str]  # table name -> incarnation ([generation:]key-schema fingerprint)


class Refused(HandshakeRefused):
    """The peer cannot join this replication link; the message says why."""


def check_peer(
    me: Identity, peer: Identity, members: Iterable[str], expected_region: str | None = None
) -> None:
    """Refuse a peer of another group, or an unknown or duplicate region."""
    if peer.group != me.group:
        raise Refused(f"peer belongs to group {peer.group!r}, this is group {me.group!r}")
    if expected_region is not None and peer.region != expected_region:
        raise Refused(
            f"expected region {expected_region!r} at this address, found region {peer.region!r}"
        )
    if peer.region == me.region:
        raise Refused(
            f"region {me.region!r} already has a node ({me.node_id}); a second node "
            f"({peer.node_id}) cannot claim it"
        )
    if peer.region not in set(members):
        raise Refused(f"region {peer.region!r} is not a member of group {me.group!r}")


def compare_tables(
    mine: Mapping[str, str], theirs: Mapping[str, str], peer_region: str
) -> tuple[list[str], dict[str, str]]:
    """The tables both sides hold as the same incarnation (they replicate), and those held
    as different ones, with why (they are left out of the link until the catalog settles)."""
    shared, excluded = [], {}
    for name in sorted(set(mine) & set(theirs)):
        if mine[name] == theirs[name]:
            shared.append(name)
        else:
            excluded[name] = (
                f"table {name!r} differs in {peer_region} (incarnation {theirs[name]}, "
                f"here {mine[name]}: [generation:]key-schema fingerprint)"
            )
    return shared, excluded


def check_pin(me: str, peer: str, pinned: str, offered: str) -> None:
    """Refuse a node that claims a peer region pinned to another node."""
    if offered != pinned:
        raise Refused(
            f"region {peer!r} is pinned to node {pinned} in {me}; node {offered} cannot claim "
            f"it. If {peer}'s node was replaced, accept the new one: meridian accept-node "
            f"--config FILE --region {me} --peer {peer} --node-id {offered}"
        )


class Claims:
    """Which node currently pulls on behalf of each region (live pulls only)."""

    def __init__(self) -> None:
        self._owners: dict[str, tuple[str, int]] = {}

    def holds(self, region: str, node_id: str) -> bool:
        """Whether `node_id` still holds its claim (false once evicted)."""
        owner = self._owners.get(region)
        return owner is not None and owner[0] == node_id

    def evict(self, region: str, keep: str) -> None:
        """End the claim of any node other than `keep` (an operator accepted `keep`): its
        live pulls see they no longer hold it and stop."""
        owner = self._owners.get(region)
        if owner is not None and owner[0] != keep:
            del self._owners[region]

    def acquire(self, region: str, node_id: str) -> None:
        owner = self._owners.get(region)
        if owner is not None and owner[0] != node_id:
            raise Refused(
                f"region {region!r} is already linked from node {owner[0]}; a second node "
                f"({node_id}) cannot claim it"
            )
        count = owner[1] if owner else 0
        self._owners[region] = (node_id, count + 1)

    def release(self, region: str, node_id: str) -> None:
        owner = self._owners.get(region)
        if owner is None or owner[0] != node_id:
            return
        if owner[1] <= 1:
            del self._owners[region]
        else:
            self._owners[region] = (node_id, owner[1] - 1)
