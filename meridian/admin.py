"""Commands that run and look after a group's processes: `meridian node`, `replicator`,
`run`, `check-config`, `status` and `bootstrap`.

The heavy imports (node, replicator, supervisor) happen only in the command that needs them.
"""

from __future__ import annotations

import argparse
import sys

import grpc

from meridian.errors import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError
from meridian.output import emit, to_json
from meridian.target import load_group
from regionnode.config import ConfigError
from regionnode.config import check as check_config


def cmd_node(args: argparse.Namespace) -> int:
    from regionnode.main import run_node

    return run_node(args.config, args.region)


def cmd_replicator(args: argparse.Namespace) -> int:
    from replicator.main import run_replicator

    return run_replicator(args.config, args.region)


def cmd_run(args: argparse.Namespace) -> int:
    from meridian.supervisor import run

    return run(args.config, args.log_dir)


def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        emit(check_config(args.file))
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from meridian import status

    config = load_group(args.config)
    regions, rows = status.collect(config)
    print(status.render(regions, rows, args.json))
    problems = status.problems(regions, rows)
    if problems:
        print(f"not fully replicating: {'; '.join(problems)}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def cmd_bootstrap(args: argparse.Namespace) -> int:
    """Resync a region from a peer's snapshot by hand, with a progress bar."""
    from meridian.progress import Printer
    from replicator.pb import replicator_pb2 as rpb
    from replicator.pb import replicator_pb2_grpc as rpb_grpc

    config = load_group(args.config)
    try:
        region = config.region(args.region)
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    if args.source == region.name or args.source not in {r.name for r in config.regions}:
        others = ", ".join(r.name for r in config.regions if r.name != region.name)
        raise CliError(f"--from: expected another region of the group ({others})", EXIT_USAGE)
    printer = Printer()
    with grpc.insecure_channel(str(region.replicator_listen)) as channel:
        stub = rpb_grpc.ReplicatorStub(channel)
        last = None
        try:
            for update in stub.Resync(rpb.ResyncRequest(source=args.source)):
                printer.update(update.entries, update.entries_estimate, update.bytes)
                last = update
        except grpc.RpcError as exc:
            printer.finish()
            details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            raise CliError(f"resync of {region.name} from {args.source}: {details}") from None
    printer.finish()
    summary = {"region": region.name, "source": args.source}
    if last is not None:
        summary |= {"entries": last.entries, "bytes": last.bytes, "state": last.state}
    print(to_json(summary))
    return EXIT_OK
