"""Archiving removed items into an archive table.

Runs in every region with the filter ``{eventName: [REMOVE], meridian: {origin:
["${region}"]}}``: each region archives the deletes made there, so every delete is archived
once in the whole group and the archive table replicates everywhere. The archived item is
the item's last image (``OldImage``, the table needs OLD_IMAGE or NEW_AND_OLD_IMAGES) plus
``removed_at`` (the delete's version clock, the archive table's sort key), ``removed_in``
and ``removed_time``. Writing it again writes the same item: duplicates are harmless.

The TTL auto-archive (trigger ``archive-expired``) runs the same function on a table with a
time to live, filtered on the service identity that expiry deletes carry (``userIdentity``
type ``Service``, principal ``dynamodb.amazonaws.com``): only expired items are archived,
with ``expired: true``, into the table its ``ARCHIVE_TABLE`` names.
"""

from __future__ import annotations

import datetime
import os
from typing import Any

from meridian.model import items
from meridian.pb import client_pb2_grpc as pb_grpc
from meridian.pb import node_pb2 as pb
from meridian.wire.channels import connect

_node: pb_grpc.ClientStub | None = None


def node() -> pb_grpc.ClientStub:
    global _node
    if _node is None:
        _, _node = connect(os.environ["MERIDIAN_NODE"])
    return _node


def archived(record: dict[str, Any]) -> pb.Item:
    stream = record["dynamodb"]
    item = items.from_typed(stream.get("OldImage") or stream["Keys"])
    version = record["meridian"]["version"]
    when = datetime.datetime.fromtimestamp(stream["ApproximateCreationDateTime"], datetime.UTC)
    extra = items.from_plain(
        {
            "removed_at": int(version["hlc"]),
            "removed_in": version["region"],
            "removed_time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    if record.get("userIdentity", {}).get("type") == "Service":
        extra.attributes["expired"].bool = True  # deleted by its time to live, not a client
    item.attributes.MergeFrom(extra.attributes)
    return item


def handle(event: dict[str, Any], context: Any = None) -> None:
    stub = node()
    writes = [
        pb.WriteRequest(put=archived(r)) for r in event["Records"] if r["eventName"] == "REMOVE"
    ]
    table = os.environ.get("ARCHIVE_TABLE", "items_archive")
    for start in range(0, len(writes), 1000):
        request = pb.BatchWriteItemRequest(table=table, writes=writes[start : start + 1000])
        stub.BatchWriteItem(request, timeout=30)
