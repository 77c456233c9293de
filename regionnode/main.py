"""Running one region node as a process: logging, signals, exit codes.

Exit codes: 0 after a clean stop, 1 when a component crashed, 3 when the configuration or
startup failed (with a message saying what to fix). The first SIGTERM or SIGINT stops
gracefully; a second one exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from regionnode.config import ConfigError, load
from regionnode.errors import StartupError
from regionnode.node import Node, NodeSettings

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_CONFIG = 0, 1, 2, 3
DRAIN_S = 5.0
log = logging.getLogger("meridian")


def setup_logging(component: str, region: str) -> None:
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format=f"%(asctime)s %(levelname)s {component}[{region}] %(name)s: %(message)s",
        stream=sys.stderr,
    )


async def serve_until_signal(component: object, failed: asyncio.Event) -> int:
    """Wait for a stop signal or a crash; stop the component; return the exit code."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals > 1:
            log.warning("second signal: exiting now")
            os._exit(EXIT_FAILURE)
        log.info("stopping (send the signal again to force)")
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(failed.wait())]
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    await component.stop()  # type: ignore[attr-defined]
    await drain(DRAIN_S)
    return EXIT_FAILURE if failed.is_set() else EXIT_OK


async def drain(timeout: float) -> None:
    """Wait, a bounded time, for the tasks still finishing after a stop: calls the gRPC
    server has just ended, client calls being cancelled. Cancelled instead by the end of
    asyncio.run, gRPC logs a CancelledError traceback for each."""
    current = asyncio.current_task()
    left = [task for task in asyncio.all_tasks() if task is not current]
    if left:
        await asyncio.wait(left, timeout=timeout)


async def _run(settings: NodeSettings) -> int:
    node = Node(settings)
    try:
        await node.start()
    except StartupError as exc:
        print(f"meridian node: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return await serve_until_signal(node, node.failed)


def run_node(config_path: str, region: str) -> int:
    setup_logging("node", region)
    try:
        settings = NodeSettings.from_config(load(config_path), region)
    except ConfigError as exc:
        print(f"meridian node: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return asyncio.run(_run(settings))
