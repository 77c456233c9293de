"""The regions section: each region's node, replicator and metrics addresses and data
directory."""

from __future__ import annotations

import pathlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from meridian.config.addresses import (
    Address,
    is_loopback_host,
    parse_address,
    refuse_clashes,
    same_machine,
)
from meridian.config.advertise import advertise_value, refuse_shared_advertise
from meridian.config.errors import ConfigError
from meridian.config.security import BasicAuth, CertPair, basic_auth, cert_pair
from meridian.config.values import (
    directory_value,
    list_value,
    mapping_fields,
    name_value,
    show_value,
)

REPLICATOR_METRICS_PORT_OFFSET = 100
TRIGGER_METRICS_PORT_OFFSET = 200
TRIGGER_LISTEN_PORT_OFFSET = 100  # above replicator.listen's port
PEER_LISTEN_PORT_OFFSET = 1000  # above node.listen's port, on 127.0.0.1
TRIGGER_KEYS = ("listen", "metrics", "health")


@dataclass(frozen=True, slots=True)
class RegionConfig:
    name: str
    node_listen: Address
    # The node's peer door, for the region's own replicator only: always a loopback address.
    node_peer_listen: Address
    data_dir: pathlib.Path
    replicator_listen: Address
    metrics_listen: Address
    replicator_metrics_listen: Address
    # The trigger runner's metrics and gRPC (health) addresses; None only when the default
    # would overflow and no trigger runs in the region (then it is not needed).
    trigger_metrics_listen: Address | None
    trigger_listen: Address | None = None
    tls: CertPair | None = None  # this region's certificate and key (the group's tls section)
    metrics_auth: BasicAuth | None = None  # HTTP basic auth on every metrics endpoint
    # What clients and peers dial: `advertise` when given (a machine behind NAT), else listen.
    node_advertise: Address | None = None
    replicator_advertise: Address | None = None
    # Plaintext listeners serving only the gRPC health service, for probes that cannot speak
    # TLS (Kubernetes' native gRPC probes); None when not configured.
    node_health: Address | None = None
    replicator_health: Address | None = None
    trigger_health: Address | None = None
    # The DynamoDB-compatible HTTP API (JSON 1.0) of the node; None: not served.
    api_listen: Address | None = None

    @property
    def node_address(self) -> Address:
        """Where clients (the CLI, other machines) reach this region's node."""
        return self.node_advertise or self.node_listen

    @property
    def replicator_address(self) -> Address:
        """Where peer replicators and the CLI reach this region's replicator."""
        return self.replicator_advertise or self.replicator_listen


def _replicator_metrics(fields: dict[str, Any], path: str, metrics: Address) -> Address:
    """The replicator's metrics address; by default the node's metrics port + 100."""
    if "metrics" in fields:
        return parse_address(fields["metrics"], path)
    port = metrics.port + REPLICATOR_METRICS_PORT_OFFSET
    if port > 65535:
        raise ConfigError(
            f"{path}: required because metrics.listen port + {REPLICATOR_METRICS_PORT_OFFSET} "
            f"is above 65535"
        )
    return Address(metrics.host, port)


def _trigger_runner(
    value: Any, path: str, replicator: Address, metrics: Address
) -> tuple[Address | None, Address | None]:
    """The trigger runner's gRPC and metrics addresses; by default the replicator's listen
    port + 100 and the node's metrics port + 200."""
    fields = {} if value is None else mapping_fields(value, path, (), TRIGGER_KEYS)
    return (
        _address_or_offset(
            fields.get("listen"), f"{path}.listen", replicator, TRIGGER_LISTEN_PORT_OFFSET
        ),
        _address_or_offset(
            fields.get("metrics"), f"{path}.metrics", metrics, TRIGGER_METRICS_PORT_OFFSET
        ),
    )


def _address_or_offset(value: Any, path: str, base: Address, offset: int) -> Address | None:
    """The address given, or `base` with its port moved by `offset` (None above 65535)."""
    if value is not None:
        return parse_address(value, path)
    port = base.port + offset
    return Address(base.host, port) if port <= 65535 else None


def _region(value: Any, path: str) -> RegionConfig:
    fields = mapping_fields(
        value,
        path,
        required=("name", "node", "replicator", "metrics"),
        optional=("triggers", "tls", "api"),
    )
    name = name_value(fields["name"], f"{path}.name", 1, 64)
    node = mapping_fields(
        fields["node"],
        f"{path}.node",
        required=("listen", "data_dir"),
        optional=("peer_listen", "advertise", "health"),
    )
    node_listen = parse_address(node["listen"], f"{path}.node.listen")
    replicator = mapping_fields(
        fields["replicator"],
        f"{path}.replicator",
        required=("listen",),
        optional=("metrics", "advertise", "health"),
    )
    metrics = mapping_fields(
        fields["metrics"], f"{path}.metrics", required=("listen",), optional=("basic_auth",)
    )
    metrics_listen = parse_address(metrics["listen"], f"{path}.metrics.listen")
    replicator_listen = parse_address(replicator["listen"], f"{path}.replicator.listen")
    trigger_listen, trigger_metrics = _trigger_runner(
        fields.get("triggers"), f"{path}.triggers", replicator_listen, metrics_listen
    )
    return RegionConfig(
        name=name,
        node_listen=node_listen,
        node_peer_listen=_peer_listen(
            node.get("peer_listen"), f"{path}.node.peer_listen", node_listen
        ),
        data_dir=directory_value(node["data_dir"], f"{path}.node.data_dir"),
        replicator_listen=replicator_listen,
        metrics_listen=metrics_listen,
        replicator_metrics_listen=_replicator_metrics(
            replicator, f"{path}.replicator.metrics", metrics_listen
        ),
        trigger_metrics_listen=trigger_metrics,
        trigger_listen=trigger_listen,
        tls=None if "tls" not in fields else cert_pair(fields["tls"], f"{path}.tls"),
        metrics_auth=None
        if "basic_auth" not in metrics
        else basic_auth(metrics["basic_auth"], f"{path}.metrics.basic_auth"),
        node_advertise=advertise_value(node.get("advertise"), f"{path}.node", node_listen),
        replicator_advertise=advertise_value(
            replicator.get("advertise"), f"{path}.replicator", replicator_listen
        ),
        node_health=_optional_address(node.get("health"), f"{path}.node.health"),
        replicator_health=_optional_address(replicator.get("health"), f"{path}.replicator.health"),
        trigger_health=_optional_address(
            (fields.get("triggers") or {}).get("health"), f"{path}.triggers.health"
        ),
        api_listen=_api_listen(fields.get("api"), f"{path}.api"),
    )


def _api_listen(value: Any, path: str) -> Address | None:
    """The `api` section: where the node serves the DynamoDB-compatible HTTP API."""
    if value is None:
        return None
    fields = mapping_fields(value, path, required=("listen",))
    return parse_address(fields["listen"], f"{path}.listen")


def _optional_address(value: Any, path: str) -> Address | None:
    return None if value is None else parse_address(value, path)


def _peer_listen(value: Any, path: str, node: Address) -> Address:
    """The node's peer door: a loopback address (only the region's own replicator, on the
    same machine, may call it); by default 127.0.0.1 and node.listen's port + 1000."""
    if value is None:
        port = node.port + PEER_LISTEN_PORT_OFFSET
        if port > 65535:
            raise ConfigError(
                f"{path}: required because node.listen port + {PEER_LISTEN_PORT_OFFSET} is "
                f"above 65535"
            )
        return Address("127.0.0.1", port)
    address = parse_address(value, path)
    if not is_loopback_host(address.host):
        raise ConfigError(
            f"{path}: expected a loopback address (127.0.0.1, ::1 or localhost), got {address}: "
            f"the peer door serves only this region's own replicator"
        )
    return address


def listen_addresses_of(regions: Iterable[RegionConfig]) -> Iterable[tuple[str, Address, str]]:
    """Every listen address of the group with its YAML path, in file order."""
    for i, region in enumerate(regions):
        metrics = region.metrics_listen
        default = Address(metrics.host, metrics.port + REPLICATOR_METRICS_PORT_OFFSET)
        note = ""
        if region.replicator_metrics_listen == default:
            note = (
                f" (the replicator's metrics address defaults to metrics.listen port + "
                f"{REPLICATOR_METRICS_PORT_OFFSET}; set replicator.metrics to choose another)"
            )
        yield f"regions[{i}].node.listen", region.node_listen, ""
        yield f"regions[{i}].node.peer_listen", _peer_location(region), _peer_note(region)
        yield f"regions[{i}].replicator.listen", region.replicator_listen, ""
        yield f"regions[{i}].metrics.listen", metrics, ""
        yield f"regions[{i}].replicator.metrics", region.replicator_metrics_listen, note
        for key, optional in (
            ("node.health", region.node_health),
            ("replicator.health", region.replicator_health),
            ("api.listen", region.api_listen),
        ):
            if optional is not None:
                yield f"regions[{i}].{key}", optional, ""


def _peer_location(region: RegionConfig) -> Address:
    """The peer door as the clash check must see it: on its node's machine (loopback there)."""
    node, peer = region.node_listen, region.node_peer_listen
    return peer if is_loopback_host(node.host) else Address(node.host, peer.port)


def _peer_note(region: RegionConfig) -> str:
    node = region.node_listen
    if region.node_peer_listen != Address("127.0.0.1", node.port + PEER_LISTEN_PORT_OFFSET):
        return ""
    return (
        f" (the node's peer door defaults to 127.0.0.1 and node.listen port + "
        f"{PEER_LISTEN_PORT_OFFSET}; set node.peer_listen to choose another)"
    )


def _shared_data_dirs(regions: tuple[RegionConfig, ...]) -> None:
    """Two regions whose nodes listen on the same host must not share a data directory."""
    for i, region in enumerate(regions):
        for j, other in enumerate(regions[:i]):
            if same_machine(other.node_listen.host, region.node_listen.host) and (
                other.data_dir == region.data_dir
            ):
                raise ConfigError(
                    f"regions[{i}].node.data_dir: directory {region.data_dir} already used by "
                    f"regions[{j}].node.data_dir on the same host"
                )


def regions_section(value: Any) -> tuple[RegionConfig, ...]:
    regions: list[RegionConfig] = []
    for i, item in enumerate(list_value(value, "regions", "region")):
        region = _region(item, f"regions[{i}]")
        for j, other in enumerate(regions):
            if other.name == region.name:
                raise ConfigError(
                    f"regions[{i}].name: duplicate region {show_value(region.name)} "
                    f"(also regions[{j}])"
                )
        regions.append(region)
    result = tuple(regions)
    refuse_clashes(listen_addresses_of(result))
    refuse_shared_advertise(result)
    _shared_data_dirs(result)
    return result
