"""`meridian triggers`: run a region's trigger runner, or show every trigger's state.

meridian triggers --config FILE --region NAME        # run (same as `triggers run`)
meridian triggers run --config FILE --region NAME
meridian triggers status --config FILE [--region NAME] [--json]
"""

from __future__ import annotations

import argparse
import sys

EXIT_OK, EXIT_USAGE, EXIT_CONFIG = 0, 2, 3


def cmd_run(args: argparse.Namespace) -> int:
    from triggers.main import run_triggers

    if not args.config or not args.region:
        print("error: meridian triggers needs --config FILE and --region NAME", file=sys.stderr)
        return EXIT_USAGE
    return run_triggers(args.config, args.region)


def cmd_status(args: argparse.Namespace) -> int:
    from meridian.cli import triggers_status as status
    from meridian.config import ConfigError, load

    try:
        config = load(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.region:
        try:
            config.region(args.region)
        except ConfigError as exc:  # a wrong --region is a usage error, as for other commands
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    print(status.render(status.collect(config, args.region), args.json), flush=True)
    return EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="group file (to run without an action)")
    parser.add_argument("--region", metavar="NAME", help="region to run (without an action)")
    parser.set_defaults(handler=cmd_run)
    actions = parser.add_subparsers(dest="triggers_action", metavar="ACTION")
    run = actions.add_parser(
        "run",
        help="run one region's triggers (the default action)",
        description="Run the stream triggers of one region until Ctrl-C.",
    )
    run.add_argument("--config", required=True, metavar="FILE", help="group file")
    run.add_argument("--region", required=True, metavar="NAME", help="region to run")
    run.set_defaults(handler=cmd_run)
    status = actions.add_parser(
        "status",
        help="checkpoint, lag, invocations, errors and dead letters of every trigger",
        description="Show every trigger's checkpoint, lag, counters and dead letters.",
    )
    status.add_argument("--config", required=True, metavar="FILE", help="group file")
    status.add_argument("--region", metavar="NAME", help="only this region")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=cmd_status)
