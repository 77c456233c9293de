"""One lifecycle for every daemon (node, replicator, trigger runner) run as a process.

`run_daemon` sets up logging, builds the component from the group file, starts it, serves
until a signal or a crash, then stops it; a service manager hears READY=1 once it serves and
STOPPING=1 when the stop begins (`sd_notify`). Exit codes (`exit_codes`): 0 after a clean stop,
1 when a component crashed, 3 when the configuration or startup failed (with a message that
says what to fix). The first SIGTERM or SIGINT stops gracefully; a second one exits at once.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Protocol

from meridian.config import ConfigError, GroupConfig, load
from meridian.daemon import arenas, clock_sync, event_loop, hop_trace, sd_notify
from meridian.daemon.errors import StartupError
from meridian.daemon.exit_codes import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK
from meridian.model import item_bytes

DRAIN_S = 5.0
log = logging.getLogger("meridian")


class Daemon(Protocol):
    """A long-lived component: start() serves or raises StartupError; `failed` is set when
    a background task crashed; stop() is idempotent and undoes whatever start() did."""

    failed: asyncio.Event

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def setup_logging(component: str, region: str) -> None:
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format=f"%(asctime)s %(levelname)s {component}[{region}] %(name)s: %(message)s",
        stream=sys.stderr,
    )


def run_daemon(
    component: str,
    region: str,
    config_path: str,
    make: Callable[[GroupConfig], Daemon],
    *,
    uvloop: bool = True,
) -> int:
    """Run one daemon process to its end; its exit code. `make` may raise ConfigError.
    `uvloop` False: asyncio's own loop whatever is installed (see event_loop)."""
    arenas.limit(os.environ)  # before any thread starts
    event_loop.tune_threads()
    hop_trace.start(region, os.environ)
    setup_logging(component, region)
    try:
        config = load(config_path)
        daemon = make(config)
    except ConfigError as exc:
        print(f"meridian {component}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    clock_sync.warn_if_unsynchronised(config.replication.max_clock_offset_ms)
    try:
        loop_name, factory = event_loop.loop_factory(os.environ if uvloop else event_loop.ASYNCIO)
    except ValueError as exc:
        print(f"meridian {component}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    log.debug("event loop: %s", loop_name)
    log.info("item check: %s", "compiled" if item_bytes.COMPILED else "Python (no compiled module)")
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(_run(component, daemon))


async def _run(component: str, daemon: Daemon) -> int:
    try:
        await daemon.start()
    except StartupError as exc:
        print(f"meridian {component}: {exc}", file=sys.stderr)
        await daemon.stop()
        return EXIT_CONFIG
    freeze_startup_objects()
    sd_notify.notify(sd_notify.READY)
    return await serve_until_signal(daemon)


def freeze_startup_objects() -> None:
    """Keep what startup made (modules, classes, config) out of later garbage collections:
    a full collection over them paused a whole process for 10-20 ms, a tail of every hop."""
    gc.collect()
    gc.freeze()


async def serve_until_signal(daemon: Daemon) -> int:
    """Wait for a stop signal or a crash; stop the daemon; return the exit code."""
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
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(daemon.failed.wait())]
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    sd_notify.notify(sd_notify.STOPPING)
    await daemon.stop()
    await drain(DRAIN_S)
    return EXIT_FAILURE if daemon.failed.is_set() else EXIT_OK


async def drain(timeout: float) -> None:
    """Wait, a bounded time, for the tasks still finishing after a stop: calls the gRPC
    server has just ended, client calls being cancelled. Cancelled instead by the end of
    asyncio.run, gRPC logs a CancelledError traceback for each."""
    current = asyncio.current_task()
    left = [task for task in asyncio.all_tasks() if task is not current]
    if left:
        await asyncio.wait(left, timeout=timeout)


def daemon_main(prog: str, run: Callable[[str, str], int], argv: list[str] | None = None) -> int:
    """`python -m PROG --config FILE --region NAME`: parse the two flags and run."""
    parser = argparse.ArgumentParser(prog=f"python -m {prog}")
    parser.add_argument("--config", required=True, metavar="FILE", help="group file")
    parser.add_argument("--region", required=True, metavar="NAME", help="region to run")
    args = parser.parse_args(argv)
    return run(args.config, args.region)
