"""The `meridian` command line: one function per subcommand, registered in COMMANDS.

Exit codes: 0 ok, 1 runtime failure (node unreachable, condition failed, unknown table,
regions differ), 2 usage error (bad flags, malformed JSON, items the node refuses),
3 configuration or startup failure; 130 when interrupted (except `stream tail`, for which
Ctrl-C is the normal way to stop, and exits 0).

Item commands address one node, either ``--endpoint HOST:PORT`` or ``--config FILE
--region NAME``, and read and print plain JSON (numbers exact, binary ``{"$b": base64}``,
sets ``{"$set": [...]}``), or DynamoDB JSON with ``--typed``. Human output is aligned
text tables; machine output is JSON.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import sys
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import grpc

from meridian import output
from meridian.output import item_json, to_json
from regionnode import items, schema
from regionnode.config import ConfigError, GroupConfig, TableConfig
from regionnode.config import check as check_config
from regionnode.config import load as load_config
from regionnode.pb import node_pb2 as pb
from triggers import cli as triggers_cli

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_CONFIG = 0, 1, 2, 3
EXIT_INTERRUPTED = 130
RPC_TIMEOUT_S = 30.0
BATCH_WRITE_CHUNK = 1000  # the node's limit of writes per BatchWriteItem
DIFF_PAGE = 1000
MAX_DIFFERENCES = 10

RETURN_VALUES = {None: pb.RETURN_VALUES_NONE, "old": pb.ALL_OLD, "new": pb.ALL_NEW}
SORT_KEY_OPS = {
    "eq": pb.SortKeyCondition.EQ,
    "lt": pb.SortKeyCondition.LT,
    "le": pb.SortKeyCondition.LE,
    "gt": pb.SortKeyCondition.GT,
    "ge": pb.SortKeyCondition.GE,
    "begins_with": pb.SortKeyCondition.BEGINS_WITH,
    "between": pb.SortKeyCondition.BETWEEN,
}


class CliError(Exception):
    """A failure to report on stderr as ``error: <message>``, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


class UsageError(CliError):
    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


# ---------------------------------------------------------------- parsing input (pure)


def parse_json(text: str, what: str) -> Any:
    """JSON text with exact numbers; UsageError naming ``what`` when it is malformed."""
    try:
        return items.loads(text)
    except RecursionError:
        raise UsageError(f"{what}: JSON nested too deeply") from None
    except ValueError as exc:
        hint = ""
        stripped = text.strip()
        if (
            stripped
            and stripped[0] not in '{["-0123456789'
            and stripped
            not in (
                "true",
                "false",
                "null",
            )
        ):
            hint = f" (a JSON string needs quotes: '\"{stripped}\"')"
        raise UsageError(f"{what}: not valid JSON: {exc}{hint}") from None


def parse_value(text: str, what: str, typed: bool) -> pb.AttributeValue:
    """One attribute value from JSON (plain, or DynamoDB JSON when ``typed``)."""
    obj = parse_json(text, what)
    try:
        if typed:
            return items.value_from_typed("value", obj)
        return items.value_from_plain("value", obj)
    except items.ItemError as exc:
        raise UsageError(f"{what}: {exc}") from None


def parse_item(text: str, what: str, typed: bool) -> pb.Item:
    """An item (or key) from a JSON object, validated and normalized."""
    return item_from_json(parse_json(text, what), what, typed)


def item_from_json(obj: Any, what: str, typed: bool) -> pb.Item:
    try:
        return items.from_typed(obj) if typed else items.from_plain(obj)
    except items.ItemError as exc:
        raise UsageError(f"{what}: {exc}") from None


def parse_assignment(text: str, option: str, typed: bool) -> pb.AttributeEquals:
    """``ATTR=JSON`` (as given to ``--if``, ``--set``, ``--add``, ``--delete``)."""
    name, sep, value_text = text.partition("=")
    if not sep:
        raise UsageError(f"{option} {text!r}: expected ATTR=JSON, e.g. {option} 'status=\"new\"'")
    if not name:
        raise UsageError(f"{option} {text!r}: the attribute name before '=' is empty")
    value = parse_value(value_text, f"{option} {text!r}", typed)
    return pb.AttributeEquals(name=name, value=value)


def parse_version(text: str, option: str = "--if-version") -> pb.Version:
    """``HLC@REGION``, as printed by ``put`` (``{"hlc": N, "region": R}``)."""
    hlc_text, sep, region = text.partition("@")
    example = f"expected HLC@REGION, e.g. {option} 117659920710238208@us-east"
    if not sep or not region:
        raise UsageError(f"{option} {text!r}: {example}")
    if not hlc_text.isascii() or not hlc_text.isdigit() or int(hlc_text) >= 1 << 64:
        raise UsageError(f"{option} {text!r}: HLC must be an integer from 0 to 2^64-1; {example}")
    return pb.Version(hlc=int(hlc_text), region=region)


def parse_stream_position(text: str) -> str | int:
    """``trim-horizon``, ``latest`` or a sequence number (leading zeros allowed)."""
    if text in ("trim-horizon", "latest"):
        return text
    if text.isascii() and text.isdigit():
        return int(text)
    raise argparse.ArgumentTypeError(
        f"expected trim-horizon, latest or a sequence number, got {text!r}"
    )


def positive_int(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def non_negative_int(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected an integer of 0 or more, got {text!r}")
    return int(text)


def conditions_of(args: argparse.Namespace) -> list[pb.Condition]:
    conditions = []
    if args.if_not_exists:
        conditions.append(pb.Condition(item_not_exists=True))
    if args.if_exists:
        conditions.append(pb.Condition(item_exists=True))
    if args.if_version is not None:
        conditions.append(pb.Condition(version_equals=parse_version(args.if_version)))
    for text in args.if_equals or ():
        conditions.append(pb.Condition(attribute_equals=parse_assignment(text, "--if", args.typed)))
    return conditions


def actions_of(ordered: Sequence[tuple[str, str]], typed: bool) -> list[pb.UpdateAction]:
    """Update actions in command-line order from (kind, text) pairs."""
    actions = []
    for kind, text in ordered:
        if kind == "remove":
            if not text:
                raise UsageError("--remove: the attribute name is empty")
            actions.append(pb.UpdateAction(remove=text))
        else:
            action = pb.UpdateAction()
            getattr(action, kind).CopyFrom(parse_assignment(text, f"--{kind}", typed))
            actions.append(action)
    if not actions:
        raise UsageError("update needs at least one of --set, --remove, --add or --delete")
    return actions


def sort_key_condition(args: argparse.Namespace) -> pb.SortKeyCondition | None:
    for name, op in SORT_KEY_OPS.items():
        given = getattr(args, f"sk_{name}")
        if given is None:
            continue
        option = f"--sk-{name.replace('_', '-')}"
        if name == "between":
            low, high = given
            return pb.SortKeyCondition(
                op=op,
                value=parse_value(low, f"{option} (low)", args.typed),
                value2=parse_value(high, f"{option} (high)", args.typed),
            )
        return pb.SortKeyCondition(op=op, value=parse_value(given, option, args.typed))
    return None


def _input(text: str) -> str:
    """A JSON argument, or standard input when it is ``-``."""
    return sys.stdin.read() if text == "-" else text


# ---------------------------------------------------------------- reaching a node


@dataclass(frozen=True)
class Target:
    endpoint: str
    region: str | None = None
    table: str = ""

    @property
    def label(self) -> str:
        if self.region:
            return f"{self.region} at {self.endpoint}"
        return f"at {self.endpoint}"


def _load(path: str) -> GroupConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None


def _default_table(config: GroupConfig | None) -> str:
    if config is None:
        raise UsageError("--table is required with --endpoint")
    if len(config.tables) != 1:
        names = ", ".join(t.name for t in config.tables)
        raise UsageError(f"--table is required: the group has tables {names}")
    return config.tables[0].name


def target_of(args: argparse.Namespace, *, table: bool = True) -> Target:
    """The node (and table) an item command addresses: --endpoint, or --config and --region."""
    if (args.endpoint is None) == (args.config is None):
        raise UsageError("give either --endpoint HOST:PORT or --config FILE --region NAME")
    config = None
    if args.endpoint is not None:
        if args.region is not None:
            raise UsageError("--region goes with --config, not with --endpoint")
        endpoint, region = args.endpoint, None
    else:
        if args.region is None:
            raise UsageError("--config needs --region NAME")
        config = _load(args.config)
        try:
            region_config = config.region(args.region)
        except ConfigError as exc:
            raise UsageError(f"--region: {exc}") from None
        endpoint, region = str(region_config.node_listen), region_config.name
    name = ""
    if table:
        name = args.table or _default_table(config)
    return Target(endpoint, region, name)


def rpc_error(exc: grpc.RpcError, target: Target) -> CliError:
    """The CLI error for a failed call: the node's message and a status-appropriate code."""
    code = exc.code()
    details = exc.details() or code.name
    if code == grpc.StatusCode.UNAVAILABLE:
        return CliError(f"cannot reach node {target.label}: {details}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return CliError(f"node {target.label} did not answer in time: {details}")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return CliError(details, EXIT_USAGE)
    return CliError(details)


class NodeConnection:
    """A blocking channel to one node; every call maps gRPC errors to CliError."""

    def __init__(self, target: Target, timeout: float = RPC_TIMEOUT_S) -> None:
        from regionnode.client import connect

        self.target = target
        self.timeout = timeout
        self.channel, self.stub = connect(target.endpoint)

    def __enter__(self) -> NodeConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self.stub, method)(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise rpc_error(exc, self.target) from None

    def subscribe(self, request: pb.SubscribeRequest) -> Generator[pb.StreamRecord, None, None]:
        """Records of a live subscription as they arrive; closing the generator ends the call."""
        call = self.stub.Subscribe(request)
        try:
            for batch in call:
                yield from batch.records
        except grpc.RpcError as exc:
            raise rpc_error(exc, self.target) from None
        finally:
            call.cancel()
        raise CliError(f"node {self.target.label} ended the stream")


def _print(text: str) -> None:
    print(text, flush=True)


# ---------------------------------------------------------------- process and config commands


def cmd_node(args: argparse.Namespace) -> int:
    from regionnode.main import run_node

    return run_node(args.config, args.region)


def cmd_replicator(args: argparse.Namespace) -> int:
    from replicator.main import run_replicator

    return run_replicator(args.config, args.region)


def cmd_run(args: argparse.Namespace) -> int:
    from meridian.supervisor import run

    return run(args.config, args.log_dir)


def cmd_status(args: argparse.Namespace) -> int:
    from meridian import status

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    regions, rows = status.collect(config)
    print(status.render(regions, rows, args.json))
    return EXIT_OK


def cmd_bootstrap(args: argparse.Namespace) -> int:
    """Resync a region from a peer's snapshot by hand, with a progress bar."""
    from meridian.progress import Printer
    from replicator.pb import replicator_pb2 as rpb
    from replicator.pb import replicator_pb2_grpc as rpb_grpc

    config = _load(args.config)
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


def cmd_check_config(args: argparse.Namespace) -> int:
    try:
        _print(check_config(args.file))
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None
    return EXIT_OK


# ---------------------------------------------------------------- item commands


def _write(args: argparse.Namespace, target: Target, method: str, request: Any) -> int:
    """Send a write and print its result (version, changed, attributes when asked)."""
    with NodeConnection(target) as node:
        result = node.call(method, request)
    _print(to_json(output.write_result_json(result, args.typed, args.return_values is not None)))
    return EXIT_OK


def cmd_put(args: argparse.Namespace) -> int:
    target = target_of(args)
    request = pb.PutItemRequest(
        table=target.table,
        item=parse_item(_input(args.item), "item", args.typed),
        conditions=conditions_of(args),
        return_values=RETURN_VALUES[args.return_values],
    )
    return _write(args, target, "PutItem", request)


def cmd_get(args: argparse.Namespace) -> int:
    target = target_of(args)
    request = pb.GetItemRequest(
        table=target.table, key=parse_item(_input(args.key), "key", args.typed)
    )
    with NodeConnection(target) as node:
        response = node.call("GetItem", request)
    item = item_json(response.item, args.typed) if response.found else None
    if args.with_version:
        version = output.version_json(response.version) if response.found else None
        _print(to_json({"item": item, "version": version}))
    else:
        _print(to_json(item))
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    target = target_of(args)
    request = pb.DeleteItemRequest(
        table=target.table,
        key=parse_item(_input(args.key), "key", args.typed),
        conditions=conditions_of(args),
        return_values=RETURN_VALUES[args.return_values],
    )
    return _write(args, target, "DeleteItem", request)


def cmd_update(args: argparse.Namespace) -> int:
    target = target_of(args)
    request = pb.UpdateItemRequest(
        table=target.table,
        key=parse_item(_input(args.key), "key", args.typed),
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
            _print(to_json(item_json(item, typed)))
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
        partition_key=parse_value(_input(args.partition_key), "partition key", args.typed),
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


@dataclass
class _BatchLine:
    number: int
    write: pb.WriteRequest
    key: bytes  # encoded primary key: a key may appear only once per BatchWriteItem


def _batch_line(number: int, text: str, sch: schema.Schema, typed: bool) -> _BatchLine:
    where = f"line {number}"
    obj = parse_json(text, where)
    if not isinstance(obj, dict) or len(obj) != 1 or next(iter(obj)) not in ("put", "delete"):
        raise UsageError(f'{where}: expected {{"put": ITEM}} or {{"delete": KEY}}')
    ((kind, body),) = obj.items()
    item = item_from_json(body, f"{where}: {kind}", typed)
    try:
        keys = sch.key_of(item) if kind == "put" else sch.check_key(item)
    except items.ItemError as exc:
        raise UsageError(f"{where}: {kind}: {exc}") from None
    write = pb.WriteRequest(put=item) if kind == "put" else pb.WriteRequest(delete_key=item)
    return _BatchLine(number, write, sch.encode(keys))


def _chunks(lines: Sequence[_BatchLine]) -> Iterator[list[_BatchLine]]:
    """Up to BATCH_WRITE_CHUNK writes each, a new chunk whenever a key repeats (order kept)."""
    chunk: list[_BatchLine] = []
    keys: set[bytes] = set()
    for line in lines:
        if len(chunk) >= BATCH_WRITE_CHUNK or line.key in keys:
            yield chunk
            chunk, keys = [], set()
        chunk.append(line)
        keys.add(line.key)
    if chunk:
        yield chunk


def cmd_batch_write(args: argparse.Namespace) -> int:
    target = target_of(args)
    if args.file == "-":
        text = sys.stdin.read()
    else:
        try:
            with open(args.file, encoding="utf-8") as file:
                text = file.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{args.file}: cannot read: {exc}") from None
    with NodeConnection(target) as node:
        spec = node.call("DescribeTable", pb.DescribeTableRequest(table=target.table)).table.spec
        sch = schema.Schema(spec)
        lines = [
            _batch_line(number, line, sch, args.typed)
            for number, line in enumerate(text.splitlines(), start=1)
            if line.strip()
        ]
        counts = {"puts": 0, "deletes": 0, "changed": 0, "batches": 0}
        for chunk in _chunks(lines):
            request = pb.BatchWriteItemRequest(table=target.table, writes=[b.write for b in chunk])
            try:
                response = node.call("BatchWriteItem", request)
            except CliError as exc:
                done = counts["puts"] + counts["deletes"]
                raise CliError(
                    f"{exc} (lines {chunk[0].number}-{chunk[-1].number}; {done} of "
                    f"{len(lines)} writes were applied before this batch)",
                    exc.code,
                ) from None
            counts["batches"] += 1
            counts["changed"] += sum(1 for version in response.versions if version.hlc)
            for line in chunk:
                counts["puts" if line.write.HasField("put") else "deletes"] += 1
    _print(to_json(counts))
    return EXIT_OK


# ---------------------------------------------------------------- stream


def _after_sequence(node: NodeConnection, table: str, position: str | int) -> int:
    """The Subscribe position (records after it are sent) for a --from value."""
    if isinstance(position, int):
        return max(position - 1, 0)
    stream = node.call("DescribeStream", pb.DescribeStreamRequest(table=table))
    if position == "latest":
        return int(stream.head_sequence_number)
    return max(int(stream.trim_sequence_number) - 1, 0)


def cmd_stream_tail(args: argparse.Namespace) -> int:
    target = target_of(args)
    try:
        with NodeConnection(target) as node:
            request = pb.SubscribeRequest(
                table=target.table,
                after_sequence_number=_after_sequence(node, target.table, args.start),
                origin=args.origin or "",
            )
            shown = 0
            records = node.subscribe(request)
            try:
                for record in records:
                    _print(to_json(output.stream_record_json(record, args.typed)))
                    shown += 1
                    if args.count is not None and shown >= args.count:
                        break
            finally:
                records.close()
    except KeyboardInterrupt:
        pass
    return EXIT_OK


# ---------------------------------------------------------------- group commands


def _group_connections(config: GroupConfig) -> dict[str, NodeConnection]:
    return {
        region.name: NodeConnection(Target(str(region.node_listen), region.name))
        for region in config.regions
    }


def _digests(
    connections: dict[str, NodeConnection], table: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """Digest of a table on every region, in parallel: (responses, failures by region)."""
    request = pb.DigestRequest(table=table)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(connections)) as pool:
        futures = {
            name: pool.submit(node.call, "Digest", request) for name, node in connections.items()
        }
    responses: dict[str, Any] = {}
    failures: dict[str, str] = {}
    for name, future in futures.items():
        try:
            responses[name] = future.result()
        except CliError as exc:
            text = str(exc)
            failures[name] = text if f"node {name} " in text else f"region {name}: {text}"
    return responses, failures


def _entries(node: NodeConnection, table: str) -> Iterator[Any]:
    """Every (key, version, tombstone, value hash) of a table on one node, in key order."""
    request = pb.DiffKeysRequest(table=table, limit=DIFF_PAGE)
    while True:
        response = node.call("DiffKeys", request)
        yield from response.entries
        if not response.HasField("last_evaluated_key"):
            return
        request.exclusive_start_key.CopyFrom(response.last_evaluated_key)


def _fingerprint(entry: Any) -> tuple[int, str, bool, str] | None:
    if entry is None:
        return None
    return (entry.version.hlc, entry.version.region, entry.tombstone, entry.value_hash)


def first_differences(
    connections: dict[str, NodeConnection], table: TableConfig, limit: int = MAX_DIFFERENCES
) -> list[tuple[pb.Item, dict[str, Any]]]:
    """Walk every region's keys together in key order; the first keys the regions disagree
    on, each with what every region holds there (None: no entry)."""
    sch = schema.Schema(table.to_spec())
    cursors = {name: _entries(node, table.name) for name, node in connections.items()}
    heads: dict[str, tuple[bytes, Any]] = {}

    def advance(name: str) -> None:
        entry = next(cursors[name], None)
        if entry is None:
            heads.pop(name, None)
        else:
            heads[name] = (sch.encode(entry.keys), entry)

    for name in cursors:
        advance(name)
    found: list[tuple[pb.Item, dict[str, Any]]] = []
    while heads and len(found) < limit:
        key = min(encoded for encoded, _ in heads.values())
        here: dict[str, Any] = {}
        for name in cursors:
            head = heads.get(name)
            here[name] = head[1] if head is not None and head[0] == key else None
        if len({_fingerprint(entry) for entry in here.values()}) > 1:
            keys = next(entry.keys for entry in here.values() if entry is not None)
            found.append((keys, here))
        for name, entry in here.items():
            if entry is not None:
                advance(name)
    return found


def _holding_json(entry: Any) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {
        "version": output.version_json(entry.version),
        "tombstone": entry.tombstone,
        "value_hash": entry.value_hash,
    }


def _holding_text(entry: Any) -> str:
    if entry is None:
        return "missing"
    if entry.tombstone:
        return f"deleted {output.version_text(entry.version)}"
    return f"item {output.version_text(entry.version)} #{entry.value_hash[:8]}"


def _verify_table(connections: dict[str, NodeConnection], table: TableConfig) -> dict[str, Any]:
    responses, failures = _digests(connections, table.name)
    report: dict[str, Any] = {
        "table": table.name,
        "regions": [
            {
                "region": name,
                "items": response.items,
                "tombstones": response.tombstones,
                "digest": response.digest,
            }
            for name, response in responses.items()
        ],
    }
    if failures:
        report.update(identical=False, failures=failures, differences=[])
        return report
    identical = len({response.digest for response in responses.values()}) <= 1
    report["identical"] = identical
    report["differences"] = []
    if not identical:
        for keys, here in first_differences(connections, table):
            report["differences"].append(
                {
                    "keys": item_json(keys),
                    "regions": {name: _holding_json(entry) for name, entry in here.items()},
                    "text": {name: _holding_text(entry) for name, entry in here.items()},
                }
            )
    return report


def _print_verify(reports: list[dict[str, Any]], regions: list[str]) -> None:
    rows = [
        (r["table"], row["region"], row["items"], row["tombstones"], row["digest"][:16])
        for r in reports
        for row in r["regions"]
    ]
    _print(output.render_table(["TABLE", "REGION", "ITEMS", "TOMBSTONES", "DIGEST"], rows))
    for report in reports:
        name = report["table"]
        for failure in report.get("failures", {}).values():
            print(f"error: table {name}: {failure}", file=sys.stderr)
        if report["identical"] or report.get("failures"):
            continue
        differences = report["differences"]
        if not differences:
            _print(f"\n{name}: digests differ but no key differs (were writes in progress?)")
            continue
        _print(f"\n{name}: regions differ; first {len(differences)} differing keys:")
        table_rows = [
            [to_json(diff["keys"]), *(diff["text"][region] for region in regions)]
            for diff in differences
        ]
        _print(output.render_table(["KEY", *(r.upper() for r in regions)], table_rows))
    if all(report["identical"] for report in reports):
        _print("\nidentical: every region holds the same items, tombstones and versions")


def cmd_verify(args: argparse.Namespace) -> int:
    config = _load(args.config)
    connections = _group_connections(config)
    try:
        reports = [_verify_table(connections, table) for table in config.tables]
    finally:
        for node in connections.values():
            node.close()
    identical = all(report["identical"] for report in reports)
    if args.json:
        for report in reports:
            for diff in report["differences"]:
                del diff["text"]
        _print(to_json({"identical": identical, "tables": reports}))
    else:
        _print_verify(reports, [region.name for region in config.regions])
    return EXIT_OK if identical else EXIT_FAILURE


def cmd_conflicts(args: argparse.Namespace) -> int:
    target = target_of(args, table=False)
    with NodeConnection(target) as node:
        response = node.call("ListConflicts", pb.ListConflictsRequest(limit=args.limit or 0))
    conflicts = [output.conflict_json(conflict) for conflict in response.conflicts]
    if args.json:
        _print(to_json({"region": target.region, "conflicts": conflicts}))
        return EXIT_OK
    rows = [
        (
            c["table"],
            to_json(c["keys"]),
            output.version_text(conflict.winner),
            output.version_text(conflict.loser),
            c["rule"],
            c["time"],
        )
        for c, conflict in zip(conflicts, response.conflicts, strict=True)
    ]
    _print(output.render_table(["TABLE", "KEYS", "WINNER", "LOSER", "RULE", "TIME"], rows))
    return EXIT_OK


# ---------------------------------------------------------------- argument parsers


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
    parser.add_argument(
        "--return",
        dest="return_values",
        choices=("old", "new"),
        help="also print the item as it was before or after the write",
    )


def _args_node(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="FILE", help="group file")
    parser.add_argument("--region", required=True, metavar="NAME", help="region to run")


def _args_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="CONFIG", help="group file")
    parser.add_argument(
        "--log-dir", metavar="DIR", help="process logs (default: log/ beside the data dirs)"
    )


def _args_bootstrap(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="FILE", help="group file")
    parser.add_argument("--region", required=True, metavar="NAME", help="region to resync")
    parser.add_argument(
        "--from", dest="source", required=True, metavar="PEER", help="region to copy from"
    )


def _args_status(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="FILE", help="group file")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _args_check_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="group file to validate")


def _args_put(parser: argparse.ArgumentParser) -> None:
    _add_target(parser)
    parser.add_argument("item", metavar="ITEM_JSON", help="the item, or - to read it from stdin")
    _add_conditions(parser)


def _args_get(parser: argparse.ArgumentParser) -> None:
    _add_target(parser)
    parser.add_argument("key", metavar="KEY_JSON", help="the key attributes, or - for stdin")
    parser.add_argument(
        "--with-version", action="store_true", help='print {"item": ..., "version": ...}'
    )


def _args_delete(parser: argparse.ArgumentParser) -> None:
    _add_target(parser)
    parser.add_argument("key", metavar="KEY_JSON", help="the key attributes, or - for stdin")
    _add_conditions(parser)


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
    _add_conditions(parser)


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


def _args_scan(parser: argparse.ArgumentParser) -> None:
    _add_target(parser)
    parser.add_argument(
        "--limit", type=positive_int, help="one page of at most N items (default: whole table)"
    )
    parser.add_argument("--segment", type=non_negative_int, metavar="I", help="parallel segment")
    parser.add_argument("--total-segments", type=positive_int, metavar="N")
    parser.add_argument("--start-key", metavar="KEY_JSON", help="resume after this key")


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
    "status": Command("replication state and lag of every region pair", _args_status, cmd_status),
    "verify": Command("check that all regions hold the same data", _args_verify, cmd_verify),
    "conflicts": Command(
        "recent last-writer-wins conflicts of a node", _args_conflicts, cmd_conflicts
    ),
    "triggers": Command(
        "run a region's stream triggers (run), or show their state (status)",
        triggers_cli.add_arguments,
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
