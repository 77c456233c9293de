"""Running one region's trigger runner as a process (exit codes as for the node).

``python -m triggers --config FILE --region NAME`` (or ``meridian triggers run``). Exit
codes: 0 after a clean stop, 1 when a trigger pipeline crashed, 3 when the configuration or
startup failed. The first SIGTERM or SIGINT stops gracefully; a second one exits at once.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from regionnode.config import ConfigError, load
from regionnode.errors import StartupError
from regionnode.main import EXIT_CONFIG, serve_until_signal, setup_logging
from triggers.runner import Runner


async def _run(runner: Runner) -> int:
    try:
        await runner.start()
    except StartupError as exc:
        print(f"meridian triggers: {exc}", file=sys.stderr)
        await runner.stop()
        return EXIT_CONFIG
    return await serve_until_signal(runner, runner.failed)


def run_triggers(config_path: str, region: str) -> int:
    setup_logging("triggers", region)
    try:
        config = load(config_path)
        config.region(region)
    except ConfigError as exc:
        print(f"meridian triggers: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if not config.triggers_of(region):
        print(
            f"meridian triggers: no trigger runs in region {region!r} "
            f"(see the triggers section of {config.path})",
            file=sys.stderr,
        )
        return EXIT_CONFIG

    async def main() -> int:
        return await _run(Runner(config, region))

    return asyncio.run(main())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m triggers", description="Run the stream triggers of one region."
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="group file")
    parser.add_argument("--region", required=True, metavar="NAME", help="region to run")
    args = parser.parse_args(argv)
    return run_triggers(args.config, args.region)
