"""Per-list task counts kept in another table, exact although delivery is at least once.

Trigger on ``tasks`` (partition key ``list``, sort key ``task``): every INSERT adds one to
its list's ``count`` in ``task_counts``, every REMOVE subtracts one. Records can arrive
twice (a retry, a runner restart), so each count item also holds ``applied_through``: the
highest stream sequence number already counted for that list. Records at or below it are
duplicates and are skipped, and the new count and mark are written together with a
condition on the item's version (another writer in between: read again and retry).

This relies on each list's records arriving in stream order, which holds with
``parallelization: 1`` (the default). The sequence numbers are those of the region the
trigger runs in, so run it in one region (the stream there holds every region's writes).
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

import grpc

from meridian.model import items
from meridian.pb import client_pb2_grpc as pb_grpc
from meridian.pb import node_pb2 as pb
from meridian.wire.channels import connect

COUNTS_TABLE = os.environ.get("COUNTS_TABLE", "task_counts")
_node: pb_grpc.ClientStub | None = None


def node() -> pb_grpc.ClientStub:
    """A client of the region's node, made once per worker (the worker stays warm)."""
    global _node
    if _node is None:
        _, _node = connect(os.environ["MERIDIAN_NODE"])
    return _node


def changes_by_list(records: list[dict[str, Any]]) -> dict[str, list[tuple[int, int]]]:
    """(sequence number, +1 / -1 / 0) per list, in stream order."""
    out: dict[str, list[tuple[int, int]]] = defaultdict(list)
    delta = {"INSERT": 1, "REMOVE": -1}
    for record in records:
        list_id = record["dynamodb"]["Keys"]["list"]["S"]
        sequence = int(record["dynamodb"]["SequenceNumber"])
        out[list_id].append((sequence, delta.get(record["eventName"], 0)))
    return out


def apply(stub: pb_grpc.ClientStub, list_id: str, changes: list[tuple[int, int]]) -> None:
    key = items.from_plain({"list": list_id})
    while True:
        current = stub.GetItem(pb.GetItemRequest(table=COUNTS_TABLE, key=key), timeout=10)
        stored = items.to_plain(current.item) if current.found else {}
        applied = int(stored.get("applied_through", 0))
        fresh = [(seq, d) for seq, d in changes if seq > applied]
        if not fresh:
            return  # every change was counted before: a duplicate delivery
        item = {
            "list": list_id,
            "count": int(stored.get("count", 0)) + sum(d for _, d in fresh),
            "applied_through": max(seq for seq, _ in fresh),
        }
        request = pb.PutItemRequest(table=COUNTS_TABLE, item=items.from_plain(item))
        if current.found:  # unless someone wrote it since we read it
            request.expected_version.CopyFrom(current.version)
        else:
            request.condition_expression = "attribute_not_exists(#list)"
            request.expression_attribute_names["#list"] = "list"
        try:
            stub.PutItem(request, timeout=10)
            return
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise
            # changed since we read it: read again


def handle(event: dict[str, Any], context: Any = None) -> None:
    stub = node()
    for list_id, changes in changes_by_list(event["Records"]).items():
        apply(stub, list_id, changes)
