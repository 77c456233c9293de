"""Running one region's trigger runner as a process (`meridian triggers`, `python -m triggers`)."""

from __future__ import annotations

from meridian.config import ConfigError, GroupConfig
from meridian.daemon.lifecycle import run_daemon
from triggers.runner import Runner


def _runner(config: GroupConfig, region: str) -> Runner:
    config.region(region)
    if not config.triggers_of(region):
        raise ConfigError(
            f"no trigger runs in region {region!r} (see the triggers section of {config.path})"
        )
    return Runner(config, region)


def run_triggers(config_path: str, region: str) -> int:
    return run_daemon(
        "triggers", region, config_path, lambda config: _runner(config, region), uvloop=False
    )
