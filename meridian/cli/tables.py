"""`meridian table list|create|delete`: the group's tables, through one region's node.

Tables are global: a table created or deleted through any region is created or deleted in
every region of the group (the table catalog).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from meridian.cli import output
from meridian.cli.errors import UsageError
from meridian.cli.output import emit
from meridian.cli.target import NodeConnection, target_of
from meridian.daemon.exit_codes import EXIT_OK
from meridian.model import schema
from meridian.model.render import to_json
from meridian.pb import node_pb2 as pb

KEY_TYPES = {"S": pb.KEY_TYPE_S, "N": pb.KEY_TYPE_N, "B": pb.KEY_TYPE_B}
MERGE_MODES = {"item": pb.MERGE_MODE_ITEM, "attribute": pb.MERGE_MODE_ATTRIBUTE}
VIEW_TYPES = {
    "KEYS_ONLY": pb.KEYS_ONLY,
    "NEW_IMAGE": pb.NEW_IMAGE,
    "OLD_IMAGE": pb.OLD_IMAGE,
    "NEW_AND_OLD_IMAGES": pb.NEW_AND_OLD_IMAGES,
}


def key_attribute(text: str) -> pb.KeyAttribute:
    """NAME:TYPE (TYPE one of S, N, B), as --partition-key and --sort-key take it."""
    name, _, kind = text.rpartition(":")
    if not name or kind not in KEY_TYPES:
        raise argparse.ArgumentTypeError(f"expected NAME:TYPE with TYPE S, N or B, got {text!r}")
    return pb.KeyAttribute(name=name, type=KEY_TYPES[kind])


def add_arguments(parser: argparse.ArgumentParser, add_target: Callable[..., None]) -> None:
    commands = parser.add_subparsers(dest="table_command", required=True, metavar="COMMAND")
    listing = commands.add_parser("list", help="the tables and their key schemas")
    add_target(listing, table=False)
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=cmd_table_list)
    create = commands.add_parser("create", help="create a table in every region")
    add_target(create, table=False)
    create.add_argument("name", help="the table's name")
    create.add_argument("--partition-key", required=True, type=key_attribute, metavar="NAME:TYPE")
    create.add_argument("--sort-key", type=key_attribute, metavar="NAME:TYPE")
    create.add_argument(
        "--view-type", choices=sorted(VIEW_TYPES), default="NEW_AND_OLD_IMAGES", help="stream"
    )
    create.add_argument(
        "--merge",
        choices=sorted(MERGE_MODES),
        default="item",
        help="how concurrent writes merge: the whole item, or attribute by attribute",
    )
    create.set_defaults(handler=cmd_table_create)
    delete = commands.add_parser("delete", help="delete a table in every region, with its items")
    add_target(delete, table=False)
    delete.add_argument("name", help="the table's name")
    delete.set_defaults(handler=cmd_table_delete)


def cmd_table_list(args: argparse.Namespace) -> int:
    with NodeConnection(target_of(args, table=False)) as node:
        names = node.call("ListTables", pb.ListTablesRequest()).tables
        specs = [node.call("DescribeTable", pb.DescribeTableRequest(table=n)).table for n in names]
    merge_names = {mode: name for name, mode in MERGE_MODES.items()}
    rows = [
        {
            "table": d.spec.name,
            "keys": schema.describe(d.spec),
            "merge": merge_names[d.spec.merge],
            "items": d.approximate_item_count,
        }
        for d in specs
    ]
    if args.json:
        emit(to_json(rows))
        return EXIT_OK
    table = [(r["table"], r["keys"], r["merge"], r["items"]) for r in rows]
    emit(output.render_table(["TABLE", "KEYS", "MERGE", "ITEMS"], table))
    return EXIT_OK


def cmd_table_create(args: argparse.Namespace) -> int:
    spec = pb.TableSpec(
        name=args.name,
        partition_key=args.partition_key,
        view_type=VIEW_TYPES[args.view_type],
        merge=MERGE_MODES[args.merge],
    )
    if args.sort_key is not None:
        if args.sort_key.name == args.partition_key.name:
            raise UsageError("--sort-key: must differ from the partition key")
        spec.sort_key.CopyFrom(args.sort_key)
    with NodeConnection(target_of(args, table=False)) as node:
        made = node.call("CreateTable", pb.CreateTableRequest(spec=spec)).table
    emit(f"created {made.spec.name} ({schema.describe(made.spec)}) in every region")
    return EXIT_OK


def cmd_table_delete(args: argparse.Namespace) -> int:
    with NodeConnection(target_of(args, table=False)) as node:
        node.call("DeleteTable", pb.DeleteTableRequest(table=args.name))
    emit(f"deleted {args.name} in every region")
    return EXIT_OK
