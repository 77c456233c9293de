"""Advertised addresses: what peers and clients dial when it differs from what a process
listens on (a machine behind NAT, a container publishing another port, a wildcard listen)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from meridian.config.addresses import (
    WILDCARD_HOSTS,
    Address,
    is_loopback_host,
    parse_address,
    refuse_clashes,
)
from meridian.config.errors import ConfigError


class _Advertised(Protocol):
    @property
    def node_listen(self) -> Address: ...
    @property
    def replicator_listen(self) -> Address: ...
    @property
    def node_advertise(self) -> Address | None: ...
    @property
    def replicator_advertise(self) -> Address | None: ...


def advertise_value(value: Any, section: str, listen: Address) -> Address | None:
    """`SECTION.advertise`, checked against the section's listen address; None when absent.

    Refused: a wildcard (it cannot be dialled), and a loopback address for a server that
    listens on one specific other address (it would reach nothing)."""
    if value is None:
        return None
    path = f"{section}.advertise"
    address = parse_address(value, path)
    if address.host in WILDCARD_HOSTS:
        raise ConfigError(
            f"{path}: {address} cannot be dialled; give the address other machines reach "
            f"{section}.listen at"
        )
    if (
        is_loopback_host(address.host)
        and not is_loopback_host(listen.host)
        and listen.host not in WILDCARD_HOSTS
    ):
        raise ConfigError(
            f"{path}: loopback address {address} does not reach a server listening on {listen}"
        )
    return address


def advertised_of(regions: Iterable[_Advertised]) -> Iterable[tuple[str, Address, str]]:
    """Every address that is dialled, with its YAML path: advertise where given, else listen."""
    for i, region in enumerate(regions):
        for door, listen, advertise in (
            ("node", region.node_listen, region.node_advertise),
            ("replicator", region.replicator_listen, region.replicator_advertise),
        ):
            key = "advertise" if advertise is not None else "listen"
            yield f"regions[{i}].{door}.{key}", advertise or listen, ""


def refuse_shared_advertise(regions: Iterable[_Advertised]) -> None:
    """Two doors dialled at one address would send callers of one to the other."""
    try:
        refuse_clashes(advertised_of(regions))
    except ConfigError as exc:
        raise ConfigError(
            f"{exc} (every node and replicator must be dialled at its own address)"
        ) from None
