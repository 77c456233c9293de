"""Running one replicator as a process (exit codes as for the node)."""

from __future__ import annotations

import asyncio
import sys

from regionnode.config import ConfigError, load
from regionnode.errors import StartupError
from regionnode.main import EXIT_CONFIG, serve_until_signal, setup_logging
from replicator.replicator import Replicator


async def _run(config_path: str, region: str) -> int:
    try:
        replicator = Replicator(load(config_path), region)
    except ConfigError as exc:
        print(f"meridian replicator: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        await replicator.start()
    except StartupError as exc:
        print(f"meridian replicator: {exc}", file=sys.stderr)
        await replicator.stop()
        return EXIT_CONFIG
    return await serve_until_signal(replicator, replicator.failed)


def run_replicator(config_path: str, region: str) -> int:
    setup_logging("replicator", region)
    return asyncio.run(_run(config_path, region))
