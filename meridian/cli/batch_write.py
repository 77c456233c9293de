"""`meridian batch-write`: JSON lines of puts and deletes, sent in BatchWriteItem chunks."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from meridian.cli.errors import CliError, UsageError
from meridian.cli.output import emit
from meridian.cli.parsing import item_from_json, parse_json
from meridian.cli.target import NodeConnection, target_of
from meridian.daemon.exit_codes import EXIT_OK
from meridian.model import items, schema
from meridian.model.render import to_json
from meridian.pb import node_pb2 as pb

BATCH_WRITE_CHUNK = 1000  # the node's limit of writes per BatchWriteItem


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
        key = sch.storage_key(item) if kind == "put" else sch.check_key(item)[0]
    except items.ItemError as exc:
        raise UsageError(f"{where}: {kind}: {exc}") from None
    write = pb.WriteRequest(put=item) if kind == "put" else pb.WriteRequest(delete_key=item)
    return _BatchLine(number, write, key)


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


def _read(path: str) -> str:
    """The text of the batch file, or of standard input when it is ``-``."""
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None


def _send(node: NodeConnection, table: str, lines: Sequence[_BatchLine]) -> dict[str, int]:
    """Apply the writes chunk by chunk, in order; what was written, counted."""
    counts = {"puts": 0, "deletes": 0, "changed": 0, "batches": 0}
    for chunk in _chunks(lines):
        request = pb.BatchWriteItemRequest(table=table, writes=[b.write for b in chunk])
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
    return counts


def cmd_batch_write(args: argparse.Namespace) -> int:
    target = target_of(args)
    text = _read(args.file)
    with NodeConnection(target) as node:
        spec = node.call("DescribeTable", pb.DescribeTableRequest(table=target.table)).table.spec
        sch = schema.Schema(spec)
        lines = [
            _batch_line(number, line, sch, args.typed)
            for number, line in enumerate(text.splitlines(), start=1)
            if line.strip()
        ]
        counts = _send(node, target.table, lines)
    emit(to_json(counts))
    return EXIT_OK
