"""What `meridian check-config` prints: a short description and warnings."""

from __future__ import annotations

from meridian.config.addresses import WILDCARD_HOSTS, Address
from meridian.config.group import GroupConfig


def summary(config: GroupConfig) -> str:
    """The group, its tables, each region's addresses and the triggers, in short lines."""
    lines = [
        f"{config.path}: group {config.group!r} is valid",
        f"  durability: {config.durability}",
        f"  {_plural(len(config.tables), 'table')}: {', '.join(t.name for t in config.tables)}",
        f"  {_plural(len(config.regions), 'region')}:",
    ]
    for r in config.regions:
        metrics = f"{r.metrics_listen} (node), {r.replicator_metrics_listen} (replicator)"
        processes = f"node {_door(r.node_listen, r.node_advertise)}, "
        processes += f"replicator {_door(r.replicator_listen, r.replicator_advertise)}"
        if config.triggers_of(r.name):
            metrics += f", {r.trigger_metrics_listen} (triggers)"
            processes += f", triggers {r.trigger_listen}"
        if r.api_listen is not None:
            processes += f", DynamoDB API {r.api_listen}"
        lines += [
            f"    {r.name}: {processes}",
            f"      metrics {metrics}",
            f"      data {r.data_dir}",
        ]
    if config.triggers:
        lines.append(f"  {_plural(len(config.triggers), 'trigger')}:")
        lines += [
            f"    {t.name} on {t.table} in {', '.join(t.regions)} ({t.function})"
            + ("" if t.enabled else ", disabled")
            for t in config.triggers
        ]
    return "\n".join(lines)


def warnings_of(config: GroupConfig) -> list[str]:
    """What is valid but almost surely wrong: a wildcard host (0.0.0.0, ::) where processes
    also connect. Every process reaches a region's node and replicator at its advertised
    address (by default the listen address), and a wildcard reaches only the connecting
    machine itself."""
    out = []
    if config.insecure and config.tls is None:
        out.append(
            "insecure: true: traffic to addresses that are not loopback ones is plaintext, "
            "and anyone on the network can read or change it; add a tls section"
        )
    for index, r in enumerate(config.regions):
        for door, address in (("node", r.node_address), ("replicator", r.replicator_address)):
            if address.host in WILDCARD_HOSTS:
                out.append(
                    f"regions[{index}].{door}.listen: {address.host} is also the address other "
                    "processes connect to, and it reaches only their own machine; give an "
                    f"address that the other regions can reach, or set {door}.advertise "
                    "(see docs/deployment.md)"
                )
    return out


def _door(listen: Address, advertise: Address | None) -> str:
    return f"{listen}" if advertise is None else f"{listen} (advertised as {advertise})"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
