"""On-failure destinations: where records go when a trigger gives up on them.

An entry describes one group of records given up on together: the trigger, region and
table, the condition (``RetryAttemptsExhausted``, ``RecordAgeExceeded`` or
``RecordsTrimmed``), the last error, the number of attempts, the batch's sequence range and
the records themselves (as the function received them). A ``file`` destination appends the
entry as one JSON line and fsyncs; a ``table`` destination puts it as one item keyed by
trigger, region and first sequence number, so writing it again is harmless.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
from collections.abc import Sequence
from typing import Any, Protocol

from meridian.config import OnFailureConfig, TableConfig
from meridian.model import items
from meridian.model.render import time_text
from meridian.pb import client_pb2_grpc as pb_grpc
from meridian.pb import node_pb2 as pb
from triggers.events import Record, sequence_text

MAX_ITEM_BYTES = 350 * 1024  # below the node's 400 KB item limit, with room for the rest


def entry(
    *,
    trigger: str,
    region: str,
    table: str,
    condition: str,
    error: str,
    attempts: int,
    records: Sequence[Record],
    now_ms: int,
    first: int | None = None,
    last: int | None = None,
) -> dict[str, Any]:
    """A dead-letter entry; ``first``/``last`` give the range when there are no records."""
    first = records[0].sequence_number if records else first or 0
    last = records[-1].sequence_number if records else last or first
    return {
        "time": time_text(now_ms),
        "time_ms": now_ms,
        "trigger": trigger,
        "region": region,
        "table": table,
        "condition": condition,
        "error": error,
        "attempts": attempts,
        "batch": {
            "first_sequence_number": sequence_text(first),
            "last_sequence_number": sequence_text(last),
            "size": len(records) if records else max(0, last - first + 1),
        },
        "records": [r.data for r in records],
    }


class Destination(Protocol):
    async def send(self, entry: dict[str, Any]) -> None: ...


class FileDestination:
    """JSON lines appended to a file, each write fsynced before the checkpoint moves."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = pathlib.Path(path)

    def _append(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    async def send(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
        await asyncio.to_thread(self._append, line.encode())


def dead_letter_item(entry: dict[str, Any], table: TableConfig) -> pb.Item:
    """The entry as an item of the destination table (string partition key)."""
    first = entry["batch"]["first_sequence_number"]
    owner = f"{entry['trigger']}#{entry['region']}"
    keys: dict[str, Any] = {}
    if table.sort_key is None:
        keys[table.partition_key.name] = f"{owner}#{first}"
    else:
        keys[table.partition_key.name] = owner
        sort_value: Any = int(first) if table.sort_key.type == pb.KEY_TYPE_N else first
        keys[table.sort_key.name] = sort_value
    body = {k: v for k, v in entry.items() if k not in keys}
    body["records"] = entry["records"]
    try:
        item = items.from_plain({**body, **keys})
        if item.ByteSize() <= MAX_ITEM_BYTES:
            return item
    except items.ItemError:
        pass
    # Too big (or not representable): keep each record's identity, not its images.
    body["records"] = [
        {
            "eventID": r["eventID"],
            "eventName": r["eventName"],
            "SequenceNumber": r["dynamodb"]["SequenceNumber"],
            "Keys": json.dumps(r["dynamodb"]["Keys"], ensure_ascii=False),
        }
        for r in entry["records"]
    ]
    body["records_truncated"] = True
    item = items.from_plain({**body, **keys})
    if item.ByteSize() > MAX_ITEM_BYTES:
        body["records"] = []
        item = items.from_plain({**body, **keys})
    return item


class TableDestination:
    """An item per entry in a table of the group, written through the region's node."""

    def __init__(self, node: pb_grpc.ClientStub, table: TableConfig, timeout_s: float = 10.0):
        self.node = node
        self.table = table
        self.timeout_s = timeout_s

    async def send(self, entry: dict[str, Any]) -> None:
        item = dead_letter_item(entry, self.table)
        request = pb.PutItemRequest(table=self.table.name, item=item)
        await self.node.PutItem(request, timeout=self.timeout_s)


def destination(
    on_failure: OnFailureConfig | None, node: pb_grpc.ClientStub, tables: Sequence[TableConfig]
) -> Destination | None:
    if on_failure is None:
        return None
    if on_failure.kind == "file":
        return FileDestination(on_failure.target)
    (table,) = [t for t in tables if t.name == on_failure.target]
    return TableDestination(node, table)
