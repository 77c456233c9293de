"""`meridian put/get/delete/update/query/scan`: one request to one node, the result as JSON.

The flags stand for DynamoDB expressions (`parsing` writes them), sent together with the
user's own (`--condition`, `--update`, `--filter`, `--projection`, `--names`, `--values`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from meridian.cli import output
from meridian.cli.errors import UsageError
from meridian.cli.output import emit
from meridian.cli.parsing import (
    Placeholders,
    condition_of,
    input_text,
    key_condition_of,
    parse_item,
    parse_version,
    update_of,
)
from meridian.cli.target import NodeConnection, target_of
from meridian.daemon.exit_codes import EXIT_OK
from meridian.model import render
from meridian.model.render import item_json, to_json
from meridian.pb import node_pb2 as pb

WriteRequest = pb.PutItemRequest | pb.DeleteItemRequest | pb.UpdateItemRequest


def _spec(node: NodeConnection, table: str) -> pb.TableSpec:
    return node.call("DescribeTable", pb.DescribeTableRequest(table=table)).table.spec


def _with_placeholders(request: Any, names: Placeholders, values: bool = True) -> None:
    request.expression_attribute_names.update(names.names)
    if values:
        for placeholder, value in names.values.items():
            request.expression_attribute_values[placeholder].CopyFrom(value)


def _guard(request: WriteRequest, args: argparse.Namespace, key: str | None) -> Placeholders:
    """Set the request's condition and expected version from the flags; the placeholders,
    for the caller to add to and to put in the request."""
    names = Placeholders(args)
    condition = condition_of(args, names, key)
    if condition is not None:
        request.condition_expression = condition
    if args.if_version is not None:
        request.expected_version.CopyFrom(parse_version(args.if_version))
    return names


def _write(
    args: argparse.Namespace, node: NodeConnection, method: str, request: WriteRequest
) -> pb.WriteResult:
    """Send a write and print its result (version, changed, attributes when asked)."""
    result: pb.WriteResult = node.call(method, request)
    if args.return_values == "new" and method != "UpdateItem":
        # Puts and deletes return no new item (DynamoDB's rule): a put's is the one sent.
        result.ClearField("attributes")
        if method == "PutItem":
            result.attributes.CopyFrom(request.item)  # type: ignore[union-attr]
    emit(to_json(output.write_result_json(result, args.typed, args.return_values is not None)))
    return result


def _return_values(args: argparse.Namespace, method: str) -> pb.ReturnValues:
    if args.return_values == "old":
        return pb.ALL_OLD
    if args.return_values == "new" and method == "UpdateItem":
        return pb.ALL_NEW
    return pb.RETURN_VALUES_NONE


def cmd_put(args: argparse.Namespace) -> int:
    target = target_of(args)
    item = parse_item(input_text(args.item), "item", args.typed)
    request = pb.PutItemRequest(
        table=target.table, item=item, return_values=_return_values(args, "PutItem")
    )
    with NodeConnection(target) as node:
        key = None
        if args.if_exists or args.if_not_exists:
            key = _spec(node, target.table).partition_key.name
        _with_placeholders(request, _guard(request, args, key))
        _write(args, node, "PutItem", request)
    return EXIT_OK


def cmd_get(args: argparse.Namespace) -> int:
    target = target_of(args)
    request = pb.GetItemRequest(
        table=target.table, key=parse_item(input_text(args.key), "key", args.typed)
    )
    if args.projection is not None:
        request.projection_expression = args.projection
    _with_placeholders(request, Placeholders(args), values=False)
    with NodeConnection(target) as node:
        response = node.call("GetItem", request)
    item = item_json(response.item, args.typed) if response.found else None
    if args.with_version:
        version = render.version_json(response.version) if response.found else None
        emit(to_json({"item": item, "version": version}))
    else:
        emit(to_json(item))
    return EXIT_OK


def _key_request(
    args: argparse.Namespace, request: pb.DeleteItemRequest | pb.UpdateItemRequest
) -> Placeholders:
    """Fill the key and guard of a delete or update; a key attribute's name comes from the
    key itself (it holds only key attributes, or the node refuses it)."""
    request.key.CopyFrom(parse_item(input_text(args.key), "key", args.typed))
    key = min(request.key.attributes) if request.key.attributes else None
    if key is None and (args.if_exists or args.if_not_exists):
        raise UsageError("key: expected the key attributes")
    return _guard(request, args, key)


def cmd_delete(args: argparse.Namespace) -> int:
    target = target_of(args)
    request = pb.DeleteItemRequest(
        table=target.table, return_values=_return_values(args, "DeleteItem")
    )
    _with_placeholders(request, _key_request(args, request))
    with NodeConnection(target) as node:
        _write(args, node, "DeleteItem", request)
    return EXIT_OK


def cmd_update(args: argparse.Namespace) -> int:
    target = target_of(args)
    if args.update is not None and args.actions:
        raise UsageError("--update replaces --set, --remove, --add and --delete: give one kind")
    request = pb.UpdateItemRequest(
        table=target.table, return_values=_return_values(args, "UpdateItem")
    )
    names = _key_request(args, request)
    if args.update is not None:
        request.update_expression = args.update
    else:
        request.update_expression = update_of(args.actions or (), args.typed, names)
    _with_placeholders(request, names)
    with NodeConnection(target) as node:
        _write(args, node, "UpdateItem", request)
    return EXIT_OK


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


def _read_expressions(args: argparse.Namespace, request: pb.QueryRequest | pb.ScanRequest) -> None:
    if args.filter is not None:
        request.filter_expression = args.filter
    if args.projection is not None:
        request.projection_expression = args.projection
    if args.start_key is not None:
        request.exclusive_start_key.CopyFrom(parse_item(args.start_key, "--start-key", args.typed))


def cmd_query(args: argparse.Namespace) -> int:
    target = target_of(args)
    request = pb.QueryRequest(table=target.table, limit=args.limit or 0)
    if args.backward:
        request.scan_index_forward = False
    _read_expressions(args, request)
    names = Placeholders(args)
    with NodeConnection(target) as node:
        request.key_condition_expression = key_condition_of(args, names, _spec(node, target.table))
        _with_placeholders(request, names)
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
    _read_expressions(args, request)
    _with_placeholders(request, Placeholders(args))
    with NodeConnection(target) as node:
        last = _print_pages(node, "Scan", request, follow=args.limit is None, typed=args.typed)
    if last is not None:
        _more_hint(last, args.typed, "or leave out --limit for the whole table")
    return EXIT_OK
