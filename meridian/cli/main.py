"""The `meridian` command line: the COMMANDS table, its argument parsers, and `main`.

Exit codes: 0 ok, 1 runtime failure (node unreachable, condition failed, unknown table,
regions differ), 2 usage error (bad flags, malformed JSON, items the node refuses),
3 configuration or startup failure; 130 when interrupted (except `stream tail`, for which
Ctrl-C is the normal way to stop, and exits 0).

Item commands address one node, either ``--endpoint HOST:PORT`` or ``--config FILE
--region NAME``, and read and print plain JSON (numbers exact, binary ``{"$b": base64}``,
sets ``{"$set": [...]}``), or DynamoDB JSON with ``--typed``. Human output is aligned
text tables; machine output is JSON.

The commands themselves live beside this module: `item_commands` and `batch_write` (items),
`stream` (stream tail), `verify`, `conflicts`, and `admin` (processes, config, status,
bootstrap); `parsing` turns flag values into protobuf and `target` reaches a node.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from meridian.cli import credentials
from meridian.cli import health as health_cli
from meridian.cli import tables as tables_cli
from meridian.cli import triggers as triggers_cli
from meridian.cli.admin import (
    cmd_accept_node,
    cmd_bootstrap,
    cmd_check_config,
    cmd_node,
    cmd_replicator,
    cmd_run,
    cmd_status,
)
from meridian.cli.batch_write import cmd_batch_write
from meridian.cli.conflicts import cmd_conflicts
from meridian.cli.errors import CliError
from meridian.cli.item_commands import cmd_delete, cmd_get, cmd_put, cmd_query, cmd_scan, cmd_update
from meridian.cli.parsing import SORT_KEY_OPS, non_negative_int, parse_stream_position, positive_int
from meridian.cli.security_commands import (
    add_certs_arguments,
    add_keys_arguments,
    cmd_certs,
)
from meridian.cli.stream import cmd_stream_tail
from meridian.cli.verify import cmd_verify
from meridian.daemon.exit_codes import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE


class _Ordered(argparse.Action):
    """Collect several repeatable options into one list of (kind, value), in command order."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        collected = list(getattr(namespace, self.dest, None) or [])
        collected.append((self.const, values))
        setattr(namespace, self.dest, collected)


def _add_target(parser: argparse.ArgumentParser, *, table: bool = True) -> None:
    group = parser.add_argument_group("which node")
    group.add_argument("--endpoint", metavar="HOST:PORT", help="the node's address")
    group.add_argument("--config", metavar="FILE", help="group file (with --region)")
    group.add_argument("--region", metavar="NAME", help="region of the group file")
    group.add_argument("--ca", metavar="FILE", help="with --endpoint: TLS, trusting this CA")
    credentials.add_arguments(parser)
    if table:
        group.add_argument(
            "--table",
            metavar="NAME",
            help="table (default: the group's only table; required with --endpoint)",
        )
        parser.add_argument(
            "--typed", action="store_true", help="DynamoDB JSON in and out instead of plain JSON"
        )


def _add_conditions(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("conditions (all must hold, else exit 1 and no write)")
    exists = group.add_mutually_exclusive_group()
    exists.add_argument("--if-not-exists", action="store_true", help="only if there is no item")
    exists.add_argument("--if-exists", action="store_true", help="only if the item exists")
    group.add_argument(
        "--if-version", metavar="HLC@REGION", help="only if the item has this version"
    )
    group.add_argument(
        "--if",
        dest="if_equals",
        action="append",
        metavar="ATTR=JSON",
        help="only if the attribute equals this value (repeatable)",
    )
    group.add_argument(
        "--condition", metavar="EXPR", help="only if this DynamoDB ConditionExpression holds"
    )
    parser.add_argument(
        "--return",
        dest="return_values",
        choices=("old", "new"),
        help="also print the item as it was before or after the write",
    )


def _add_expressions(
    parser: argparse.ArgumentParser, *, reads: bool = False, projection: bool = False
) -> None:
    """DynamoDB expression options: --filter and --projection for reads (--projection alone
    for get), and the placeholders their expressions use."""
    group = parser.add_argument_group("DynamoDB expressions")
    if reads:
        group.add_argument(
            "--filter",
            metavar="EXPR",
            help="a FilterExpression: only the items it keeps (--limit counts items read)",
        )
    if reads or projection:
        group.add_argument(
            "--projection", metavar="EXPR", help="a ProjectionExpression: only these attributes"
        )
    group.add_argument(
        "--names", metavar="JSON", help='ExpressionAttributeNames, e.g. \'{"#s": "status"}\''
    )
    if not projection:
        group.add_argument(
            "--values",
            metavar="JSON",
            help='ExpressionAttributeValues, e.g. \'{":s": "new"}\' (DynamoDB JSON with --typed)',
        )


def _args_node(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="FILE", help="group file")
    parser.add_argument("--region", required=True, metavar="NAME", help="region to run")


def _args_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="CONFIG", help="group file")
    parser.add_argument(
        "--log-dir",
        metavar="DIR",
        help="process logs (default: log/ beside the first region's data_dir)",
    )


def _args_bootstrap(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="FILE", help="group file")
    parser.add_argument("--region", required=True, metavar="NAME", help="region to resync")
    parser.add_argument(
        "--from", dest="source", required=True, metavar="PEER", help="region to copy from"
    )


def _args_accept_node(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="FILE", help="group file")
    parser.add_argument(
        "--region", required=True, metavar="NAME", help="region that accepts the new node"
    )
    parser.add_argument(
        "--peer", required=True, metavar="PEER", help="region whose node was replaced"
    )
    parser.add_argument(
        "--node-id",
        metavar="ID",
        help="the new node's id (default: the one other node that claimed PEER, as shown "
        "by meridian status)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _args_status(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="FILE", help="group file")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _args_check_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="group file to validate")


def _args_put(parser: argparse.ArgumentParser) -> None:
    _add_target(parser)
    parser.add_argument("item", metavar="ITEM_JSON", help="the item, or - to read it from stdin")
    _add_conditions(parser)
    _add_expressions(parser)


def _args_get(parser: argparse.ArgumentParser) -> None:
    _add_target(parser)
    parser.add_argument("key", metavar="KEY_JSON", help="the key attributes, or - for stdin")
    parser.add_argument(
        "--with-version", action="store_true", help='print {"item": ..., "version": ...}'
    )
    _add_expressions(parser, projection=True)


def _args_delete(parser: argparse.ArgumentParser) -> None:
    _add_target(parser)
    parser.add_argument("key", metavar="KEY_JSON", help="the key attributes, or - for stdin")
    _add_conditions(parser)
    _add_expressions(parser)


def _args_update(parser: argparse.ArgumentParser) -> None:
    _add_target(parser)
    parser.add_argument("key", metavar="KEY_JSON", help="the key attributes, or - for stdin")
    group = parser.add_argument_group("actions (repeatable, applied in the order given)")
    for kind, metavar, text in (
        ("set", "ATTR=JSON", "set an attribute"),
        ("remove", "ATTR", "remove an attribute"),
        ("add", "ATTR=JSON", "add to a number, or add members to a set"),
        ("delete", "ATTR=JSON", "delete members from a set"),
    ):
        group.add_argument(
            f"--{kind}", dest="actions", action=_Ordered, const=kind, metavar=metavar, help=text
        )
    group.add_argument(
        "--update", metavar="EXPR", help="a DynamoDB UpdateExpression instead of the options above"
    )
    _add_conditions(parser)
    _add_expressions(parser)


def _args_query(parser: argparse.ArgumentParser) -> None:
    _add_target(parser)
    parser.add_argument(
        "partition_key", metavar="PK_JSON_VALUE", help="partition key value, e.g. '\"cust-1\"'"
    )
    group = parser.add_mutually_exclusive_group()
    for name in SORT_KEY_OPS:
        option = f"--sk-{name.replace('_', '-')}"
        if name == "between":
            group.add_argument(
                option,
                dest="sk_between",
                nargs=2,
                metavar=("LOW", "HIGH"),
                help="LOW <= sk <= HIGH",
            )
        else:
            group.add_argument(option, dest=f"sk_{name}", metavar="JSON_VALUE")
    parser.add_argument("--backward", action="store_true", help="descending sort key order")
    parser.add_argument("--limit", type=positive_int, help="items per page")
    parser.add_argument("--all", action="store_true", help="follow pages to the end")
    parser.add_argument("--start-key", metavar="KEY_JSON", help="resume after this key")
    _add_expressions(parser, reads=True)


def _args_scan(parser: argparse.ArgumentParser) -> None:
    _add_target(parser)
    parser.add_argument(
        "--limit", type=positive_int, help="one page of at most N items (default: whole table)"
    )
    parser.add_argument("--segment", type=non_negative_int, metavar="I", help="parallel segment")
    parser.add_argument("--total-segments", type=positive_int, metavar="N")
    parser.add_argument("--start-key", metavar="KEY_JSON", help="resume after this key")
    _add_expressions(parser, reads=True)


def _args_batch_write(parser: argparse.ArgumentParser) -> None:
    _add_target(parser)
    parser.add_argument(
        "file",
        metavar="FILE",
        help='JSON lines of {"put": ITEM} or {"delete": KEY}; - reads stdin',
    )


def _args_stream(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="stream_command", required=True, metavar="COMMAND")
    tail = commands.add_parser(
        "tail",
        help="print change records as JSON lines, live",
        description="Print a table's change records as JSON lines (DynamoDB Streams shape, "
        "plus origin and version), live until Ctrl-C or --count records.",
    )
    _add_target(tail)
    tail.add_argument(
        "--from",
        dest="start",
        type=parse_stream_position,
        default="latest",
        metavar="trim-horizon|latest|SEQ",
        help="where to start (default: latest; SEQ: from that sequence number on)",
    )
    tail.add_argument("--origin", metavar="REGION", help="only records written in this region")
    tail.add_argument("--count", type=positive_int, metavar="N", help="stop after N records")
    tail.set_defaults(handler=cmd_stream_tail)


def _args_verify(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="FILE", help="group file")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    credentials.add_arguments(parser)


def _args_conflicts(parser: argparse.ArgumentParser) -> None:
    _add_target(parser, table=False)
    parser.add_argument("--limit", type=positive_int, help="newest N conflicts (default 100)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


@dataclass(frozen=True)
class Command:
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    handler: Callable[[argparse.Namespace], int] | None  # None: the parser sets sub-handlers


# One entry per subcommand, in the order `meridian --help` lists them.
COMMANDS: dict[str, Command] = {
    "run": Command("run every region of a group on this machine", _args_run, cmd_run),
    "node": Command("run one region node", _args_node, cmd_node),
    "replicator": Command("run one region's replicator", _args_node, cmd_replicator),
    "check-config": Command("validate a group file", _args_check_config, cmd_check_config),
    "put": Command("write an item", _args_put, cmd_put),
    "get": Command("read an item (null when there is none)", _args_get, cmd_get),
    "delete": Command("delete an item", _args_delete, cmd_delete),
    "update": Command("change attributes of an item", _args_update, cmd_update),
    "query": Command("items of one partition key, by sort key", _args_query, cmd_query),
    "scan": Command("every item of a table", _args_scan, cmd_scan),
    "batch-write": Command(
        "many puts and deletes from JSON lines", _args_batch_write, cmd_batch_write
    ),
    "stream": Command("read a table's change stream", _args_stream, None),
    "bootstrap": Command(
        "resync a region from a peer's snapshot (last-writer-wins merge)",
        _args_bootstrap,
        cmd_bootstrap,
    ),
    "accept-node": Command(
        "accept a peer region's replaced node (refused until then)",
        _args_accept_node,
        cmd_accept_node,
    ),
    "status": Command("replication state and lag of every region pair", _args_status, cmd_status),
    "verify": Command("check that all regions hold the same data", _args_verify, cmd_verify),
    "conflicts": Command(
        "recent last-writer-wins conflicts of a node", _args_conflicts, cmd_conflicts
    ),
    "health": Command(
        "ask a process's gRPC health service (exit 0 when SERVING)",
        health_cli.add_arguments,
        health_cli.cmd_health,
    ),
    "triggers": Command(
        "run a region's stream triggers (run), or show their state (status)",
        triggers_cli.add_arguments,
        None,
    ),
    "certs": Command(
        "create the group's CA and its region and operator certificates",
        add_certs_arguments,
        cmd_certs,
    ),
    "keys": Command("access keys for clients (create, init)", add_keys_arguments, None),
    "table": Command(
        "the group's tables: list, create or delete (in every region)",
        lambda parser: tables_cli.add_arguments(parser, _add_target),
        None,
    ),
}


class _Version(argparse.Action):
    """``--version``: looks the installed version up only when asked."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            text = version("meridian")
        except PackageNotFoundError:
            text = "unknown"
        print(f"meridian {text}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meridian",
        description="Multi-region active-active replication: tables, change streams, "
        "last-writer-wins.",
    )
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, command in COMMANDS.items():
        sub = commands.add_parser(name, help=command.help, description=command.help)
        command.add_arguments(sub)
        if command.handler is not None:
            sub.set_defaults(handler=command.handler)
    return parser


def _exit_code(code: object) -> int:
    if code is None:
        return EXIT_OK
    return code if isinstance(code, int) else EXIT_USAGE


def _quiet_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so the final flush cannot fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return _exit_code(exc.code)
    try:
        return int(args.handler(args))
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
