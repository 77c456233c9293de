"""The integration tests' group document: an orders table with a numeric sort key, buffered
durability, heartbeats every 200 ms, every region on free loopback ports."""

from __future__ import annotations

import pathlib
from typing import Any

from tests.harness import group_doc

ORDERS = {
    "name": "orders",
    "partition_key": {"name": "pk", "type": "S"},
    "sort_key": {"name": "sk", "type": "N"},
}


def group_yaml(
    data: pathlib.Path,
    regions: list[str],
    *,
    tables: list[dict[str, Any]] | None = None,
    replication: dict[str, Any] | None = None,
    group: str = "it",
) -> dict[str, Any]:
    return group_doc(
        data,
        regions,
        tables=tables or [ORDERS],
        replication=replication or {"heartbeat_interval": "200ms"},
        group=group,
    )
