"""Commands that run and look after a group's processes: `meridian node`, `replicator`,
`run`, `check-config`, `status`, `bootstrap` and `accept-node`.

The heavy imports (node, replicator, supervisor) happen only in the command that needs them.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import TYPE_CHECKING

import grpc

from meridian.cli.errors import CliError
from meridian.cli.output import emit
from meridian.cli.target import load_group
from meridian.config import ConfigError, summary, warnings_of
from meridian.config import load as load_config
from meridian.daemon.exit_codes import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from meridian.model.render import to_json
from meridian.security.dial import Dialer
from meridian.wire.errors import Reason, reason_of
from meridian.wire.oneline import describe

if TYPE_CHECKING:
    from meridian.pb import replicator_pb2 as rpb


def cmd_node(args: argparse.Namespace) -> int:
    from regionnode.main import run_node

    return run_node(args.config, args.region)


def cmd_replicator(args: argparse.Namespace) -> int:
    from replicator.main import run_replicator

    return run_replicator(args.config, args.region)


def cmd_run(args: argparse.Namespace) -> int:
    from meridian.cli.supervisor import run

    return run(args.config, args.log_dir)


def cmd_check_config(args: argparse.Namespace) -> int:
    """Exit 3 for a file that cannot be used; warnings (on stderr) leave the exit code 0."""
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None
    emit(summary(config))
    for warning in warnings_of(config):
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from meridian.cli import status

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
    from meridian.cli.progress import Printer
    from meridian.pb import replicator_pb2 as rpb
    from meridian.pb import replicator_pb2_grpc as rpb_grpc

    config = load_group(args.config)
    try:
        region = config.region(args.region)
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    if args.source == region.name or args.source not in {r.name for r in config.regions}:
        others = ", ".join(r.name for r in config.regions if r.name != region.name)
        raise CliError(f"--from: expected another region of the group ({others})", EXIT_USAGE)
    printer = Printer()
    dialer = Dialer.for_operator(config)
    with dialer.sync_channel(str(region.replicator_address), region.name) as channel:
        stub = rpb_grpc.ReplicatorStub(channel)
        last = None
        try:
            for update in stub.Resync(rpb.ResyncRequest(source=args.source)):
                printer.update(update.entries, update.entries_estimate, update.bytes)
                last = update
        except grpc.RpcError as exc:
            printer.finish()
            raise CliError(f"resync of {region.name} from {args.source}: {describe(exc)}") from None
    printer.finish()
    summary = {"region": region.name, "source": args.source}
    if last is not None:
        summary |= {"entries": last.entries, "bytes": last.bytes, "state": last.state}
    print(to_json(summary))
    return EXIT_OK


NODE_ID = re.compile(r"[0-9a-f]{32}")


def cmd_accept_node(args: argparse.Namespace) -> int:
    """Accept another node for a peer region in one region (its node was replaced)."""
    from meridian.pb import replicator_pb2 as rpb
    from meridian.pb import replicator_pb2_grpc as rpb_grpc

    config = load_group(args.config)
    try:
        region = config.region(args.region)
        config.region(args.peer)
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    if args.peer == region.name:
        raise CliError("--peer: expected another region than --region", EXIT_USAGE)
    if args.node_id is not None and not NODE_ID.fullmatch(args.node_id):
        raise CliError(
            f"--node-id: expected 32 hex digits (as in meridian status), got {args.node_id!r}",
            EXIT_USAGE,
        )
    request = rpb.AcceptNodeRequest(peer=args.peer, node_id=args.node_id or "")
    dialer = Dialer.for_operator(config)
    with dialer.sync_channel(str(region.replicator_address), region.name) as channel:
        try:
            reply = rpb_grpc.ReplicatorStub(channel).AcceptNode(request, timeout=10)
        except grpc.RpcError as exc:
            details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            usage = reason_of(exc) == Reason.INVALID_ARGUMENT  # e.g. which node: --node-id
            code = EXIT_USAGE if usage else EXIT_FAILURE
            raise CliError(f"accept-node in {region.name}: {details}", code) from None
    if args.json:
        print(to_json({"region": region.name, **_accepted_json(reply)}))
    else:
        print(f"{region.name}: {_accepted_text(reply)}")
    return EXIT_OK


def _accepted_json(reply: rpb.AcceptNodeResponse) -> dict[str, object]:
    return {
        "peer": reply.peer,
        "previous_node_id": reply.previous_node_id,
        "node_id": reply.node_id,
        "changed": reply.changed,
    }


def _accepted_text(reply: rpb.AcceptNodeResponse) -> str:
    peer, before, now = reply.peer, reply.previous_node_id, reply.node_id
    if not reply.changed:
        return f"region {peer} is already pinned to node {now}; nothing changed"
    if not before:
        return f"region {peer} is now pinned to node {now} (nothing was pinned)"
    return (
        f"region {peer} was pinned to node {before}; now pinned to node {now}. "
        f"Node {before} is refused from now on."
    )
