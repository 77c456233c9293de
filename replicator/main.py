"""Running one replicator as a process (`meridian replicator`, `python -m replicator`)."""

from __future__ import annotations

from meridian.daemon.lifecycle import run_daemon
from replicator.replicator import Replicator


def run_replicator(config_path: str, region: str) -> int:
    return run_daemon("replicator", region, config_path, lambda config: Replicator(config, region))
