"""Running one region node as a process (`meridian node`, `python -m regionnode`)."""

from __future__ import annotations

from meridian.daemon.lifecycle import run_daemon
from regionnode.node import Node, NodeSettings


def run_node(config_path: str, region: str) -> int:
    return run_daemon(
        "node", region, config_path, lambda config: Node(NodeSettings.from_config(config, region))
    )
