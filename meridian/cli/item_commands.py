"""`meridian put/get/delete/update/query/scan`: one request to one node, the result as JSON."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from meridian.cli import output
from meridian.cli.errors import UsageError
from meridian.cli.output import emit
from meridian.cli.parsing import (
    RETURN_VALUES,
    actions_of,
    conditions_of,
    input_text,
    parse_item,
    parse_value,
    sort_key_condition,
)
from meridian.cli.target import NodeConnection, Target, target_of
from meridian.daemon.exit_codes import EXIT_OK
from meridian.model import render
from meridian.model.render import item_json, to_json
from meridian.pb import node_pb2 as pb


def _write(args: argparse.Namespace, target: Target, method: str, request: Any) -> int:
    """Send a write and print its result (version, changed, attributes when asked)."""
    with NodeConnection(target) as node:
        result = node.call(method, request)
    emit(to_json(output.write_result_json(result, args.typed, args.return_values is not None)))
    return EXIT_OK


def cmd_put(args: argparse.Namespace) -> int:
    target = target_of(args)
    request = pb.PutItemRequest(
        table=target.table,
        item=parse_item(input_text(args.item), "item", args.typed),
        conditions=conditions_of(args),
        return_values=RETURN_VALUES[args.return_values],
    )
    return _write(args, target, "PutItem", request)


def cmd_get(args: argparse.Namespace) -> int:
    target = target_of(args)
    request = pb.GetItemRequest(
        table=target.table, key=parse_item(input_text(args.key), "key", args.typed)
    )
    with NodeConnection(target) as node:
        response = node.call("GetItem", request)
    item = item_json(response.item, args.typed) if response.found else None
    if args.with_version:
        version = render.version_json(response.version) if response.found else None
        emit(to_json({"item": item, "version": version}))
    else:
        emit(to_json(item))
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    target = target_of(args)
    request = pb.DeleteItemRequest(
        table=target.table,
        key=parse_item(input_text(args.key), "key", args.typed),
        conditions=conditions_of(args),
        return_values=RETURN_VALUES[args.return_values],
    )
    return _write(args, target, "DeleteItem", request)


def cmd_update(args: argparse.Namespace) -> int:
    target = target_of(args)
    request = pb.UpdateItemRequest(
        table=target.table,
        key=parse_item(input_text(args.key), "key", args.typed),
        actions=actions_of(args.actions or (), args.typed),
        conditions=conditions_of(args),
        return_values=RETURN_VALUES[args.return_values],
    )
    return _write(args, target, "UpdateItem", request)


def _print_pages(
    node: NodeConnection, method: str, request: Any, *, follow: bool, typed: bool
) -> pb.Item | None:
    """Print the items of a Query or Scan as JSON lines; the key to resume from, if any."""
    while True:
        response = node.call(method, request)
        for item in response.items:
            emit(to_json(item_json(item, typed)))
        if not response.HasField("last_evaluated_key"):
            return None
        if not follow:
            return response.last_evaluated_key
        request.exclusive_start_key.CopyFrom(response.last_evaluated_key)


def _more_hint(last: pb.Item, typed: bool, alternative: str) -> None:
    key = to_json(item_json(last, typed))
    print(
        f"more items follow; continue with --start-key '{key}' ({alternative})",
        file=sys.stderr,
    )


def cmd_query(args: argparse.Namespace) -> int:
    target = target_of(args)
    request = pb.QueryRequest(
        table=target.table,
        partition_key=parse_value(input_text(args.partition_key), "partition key", args.typed),
        backward=args.backward,
        limit=args.limit or 0,
    )
    condition = sort_key_condition(args)
    if condition is not None:
        request.sort_key.CopyFrom(condition)
    if args.start_key is not None:
        request.exclusive_start_key.CopyFrom(parse_item(args.start_key, "--start-key", args.typed))
    with NodeConnection(target) as node:
        last = _print_pages(node, "Query", request, follow=args.all, typed=args.typed)
    if last is not None:
        _more_hint(last, args.typed, "or use --all")
    return EXIT_OK


def cmd_scan(args: argparse.Namespace) -> int:
    target = target_of(args)
    if (args.segment is None) != (args.total_segments is None):
        raise UsageError("--segment and --total-segments go together")
    request = pb.ScanRequest(table=target.table, limit=args.limit or 0)
    if args.total_segments is not None:
        if args.segment >= args.total_segments:
            raise UsageError(
                f"--segment {args.segment}: must be below --total-segments {args.total_segments}"
            )
        request.segment, request.total_segments = args.segment, args.total_segments
    if args.start_key is not None:
        request.exclusive_start_key.CopyFrom(parse_item(args.start_key, "--start-key", args.typed))
    with NodeConnection(target) as node:
        last = _print_pages(node, "Scan", request, follow=args.limit is None, typed=args.typed)
    if last is not None:
        _more_hint(last, args.typed, "or leave out --limit for the whole table")
    return EXIT_OK
