"""Group documents (what a group file holds) for tests, benchmarks and chaos runs.

One builder for every caller: regions on fresh loopback ports, or on given hosts (network
namespaces, each with its own ports); any tables, durability, replication settings and
further top-level keys. Callers change the returned dict freely before writing it.
"""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from meridian.config import GroupConfig, parse
from tests.harness.ports import LOOPBACK, free_ports

PORTS_PER_REGION = 5


@dataclass(frozen=True)
class RegionPorts:
    """The ports of one region's processes."""

    node: int
    replicator: int
    metrics: int  # the node's
    replicator_metrics: int
    peer: int  # the node's peer door, on the loopback of the region's host


def region_doc(
    name: str,
    data_dir: pathlib.Path,
    *,
    host: str = LOOPBACK,
    ports: RegionPorts | None = None,
) -> dict[str, Any]:
    """One region entry: node, replicator and both metrics endpoints on `host`, the node's
    peer door on the loopback (fresh free loopback ports unless `ports` are given)."""
    p = ports or RegionPorts(*free_ports(PORTS_PER_REGION))
    return {
        "name": name,
        "node": {
            "listen": f"{host}:{p.node}",
            "peer_listen": f"{LOOPBACK}:{p.peer}",
            "data_dir": str(data_dir),
        },
        "replicator": {
            "listen": f"{host}:{p.replicator}",
            "metrics": f"{host}:{p.replicator_metrics}",
        },
        "metrics": {"listen": f"{host}:{p.metrics}"},
    }


def group_doc(
    data: pathlib.Path,
    regions: Sequence[str],
    *,
    tables: Sequence[Mapping[str, Any]],
    group: str = "test",
    durability: str = "buffered",
    replication: Mapping[str, Any] | None = None,
    hosts: Mapping[str, str] | None = None,
    ports: RegionPorts | None = None,
    api: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """A group document; region R keeps its data in data/R.

    `api` adds each region's DynamoDB API listener (api.listen) on a fresh free port.

    `hosts` maps a region to the address its processes bind (default: the loopback).
    `ports` are the same in every region, for regions that each have a host of their own;
    by default every region gets fresh free loopback ports, distinct across the group.
    `replication` is the replication section (left out when None); `extra` adds top-level
    keys (e.g. triggers=[...]). Tables and extras are copied, never shared with the caller.
    """
    n = PORTS_PER_REGION
    fresh = free_ports(n * len(regions)) if ports is None else []
    doc: dict[str, Any] = {
        "group": group,
        "durability": durability,
        "tables": copy.deepcopy(list(tables)),
    }
    if replication is not None:
        doc["replication"] = copy.deepcopy(dict(replication))
    doc["regions"] = [
        region_doc(
            name,
            data / name,
            host=(hosts or {}).get(name, LOOPBACK),
            ports=ports or RegionPorts(*fresh[n * i : n * i + n]),
        )
        for i, name in enumerate(regions)
    ]
    if api:
        for region, port in zip(doc["regions"], free_ports(len(regions)), strict=True):
            region["api"] = {"listen": f"{LOOPBACK}:{port}"}
    doc.update(copy.deepcopy(extra))
    return doc


def only_regions(doc: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """The same group with only some of its regions (same ports and data directories): for
    processes that must not know the others yet."""
    return dict(doc, regions=[r for r in doc["regions"] if r["name"] in names])


def write_group(path: pathlib.Path, doc: Mapping[str, Any]) -> pathlib.Path:
    path.write_text(yaml.safe_dump(dict(doc), sort_keys=False))
    return path


def load_doc(doc: Mapping[str, Any], path: pathlib.Path) -> GroupConfig:
    """The document parsed as the group file at `path` would be (nothing is written)."""
    return parse(yaml.safe_dump(dict(doc), sort_keys=False), path)
