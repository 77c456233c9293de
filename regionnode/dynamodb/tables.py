"""Table operations: DescribeTable and ListTables from the node's own store, and the
control-plane operations (CreateTable, DeleteTable, UpdateTable, tags, TTL), which a
`ControlPlane` serves: `regionnode/dynamodb/control.py` on the group-wide catalog, behind
the TTL operations' `time_to_live.TimeToLiveDoor`."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from meridian.pb import node_pb2 as pb
from regionnode.dynamodb import identifiers as ids
from regionnode.dynamodb import params as p
from regionnode.dynamodb.auth import READ, Caller
from regionnode.rpc import Core
from regionnode.store import Table

Body = dict[str, Any]
COUNT_EVERY_S = 10.0

CONTROL_PLANE = (
    "CreateTable",
    "DeleteTable",
    "UpdateTable",
    "TagResource",
    "UntagResource",
    "ListTagsOfResource",
    "DescribeTimeToLive",
    "UpdateTimeToLive",
)
_KEY_TYPES = {pb.KEY_TYPE_S: "S", pb.KEY_TYPE_N: "N", pb.KEY_TYPE_B: "B"}
_VIEW_TYPES: dict[int, str] = {
    pb.KEYS_ONLY: "KEYS_ONLY",
    pb.NEW_IMAGE: "NEW_IMAGE",
    pb.OLD_IMAGE: "OLD_IMAGE",
    pb.NEW_AND_OLD_IMAGES: "NEW_AND_OLD_IMAGES",
}


class ControlPlane(Protocol):
    """What serves CreateTable, DeleteTable, UpdateTable, the tag and the TTL operations."""

    async def call(self, operation: str, body: Body, caller: Caller) -> Body: ...


def key_schema_out(spec: pb.TableSpec) -> list[Body]:
    schema = [{"AttributeName": spec.partition_key.name, "KeyType": "HASH"}]
    if spec.sort_key.name:
        schema.append({"AttributeName": spec.sort_key.name, "KeyType": "RANGE"})
    return schema


def _attribute_definitions(spec: pb.TableSpec) -> list[Body]:
    keys = [spec.partition_key] + ([spec.sort_key] if spec.sort_key.name else [])
    return [{"AttributeName": k.name, "AttributeType": _KEY_TYPES[k.type]} for k in keys]


class Tables:
    def __init__(self, core: Core, control: ControlPlane) -> None:
        self.core = core
        self.control = control
        self.handlers = {"DescribeTable": self.describe_table, "ListTables": self.list_tables}
        self._counts: dict[str, tuple[float, int, int]] = {}  # stream id -> (when, count, size)

    async def describe_table(self, body: Body, caller: Caller) -> Body:
        name = p.table_name(body)
        caller.may(READ, name)
        table = self.core.table(name)
        return {"Table": self.description(table, *await self._count(table))}

    async def _count(self, table: Table) -> tuple[int, int]:
        """(ItemCount, TableSizeBytes): counted off the event loop, at most every
        COUNT_EVERY_S per table (DynamoDB itself updates them about every six hours)."""
        stream_id = table.description.stream_id  # a re-created table is counted anew
        counted = self._counts.get(stream_id)
        now = time.monotonic()
        if counted is None or now - counted[0] > COUNT_EVERY_S:
            counted = (now, *await asyncio.to_thread(self._scan_count, table))
            self._counts[stream_id] = counted
        return counted[1], counted[2]

    def _scan_count(self, table: Table) -> tuple[int, int]:
        count = size = 0
        for _, value in self.core.store.scan_prefix(table.schema.prefix):
            stored = pb.StoredItem.FromString(value)
            if not stored.tombstone:
                count += 1
                size += len(value)
        return count, size

    def description(self, table: Table, count: int, size: int) -> Body:
        return table_description(self.core, table.description, count, size)

    async def list_tables(self, body: Body, caller: Caller) -> Body:
        limit = p.integer(body, "Limit", 1, 100) or 100
        after = p.string(body, "ExclusiveStartTableName")
        names = sorted(n for n in self.core.store.tables if caller.sees(n))
        if after is not None:
            names = [n for n in names if n > after]
        out: Body = {"TableNames": names[:limit]}
        if len(names) > limit:
            out["LastEvaluatedTableName"] = names[limit - 1]
        return out


GLOBAL_TABLE_VERSION = "2019.11.21"


def table_description(
    core: Core, desc: pb.TableDescription, count: int, size: int, status: str = "ACTIVE"
) -> Body:
    """DynamoDB's TableDescription of a table of this region: a global table (version
    2019.11.21) with a replica in every region of the group."""
    spec = desc.spec
    region = core.region
    stream_arn = ids.stream_arn(region, spec.name, desc.created_ms)
    out: Body = {
        "TableName": spec.name,
        "TableArn": ids.table_arn(region, spec.name),
        "TableId": desc.stream_id,
        "TableStatus": status,
        "CreationDateTime": desc.created_ms / 1000,
        "KeySchema": key_schema_out(spec),
        "AttributeDefinitions": _attribute_definitions(spec),
        "ItemCount": count,
        "TableSizeBytes": size,
        "BillingModeSummary": {"BillingMode": "PAY_PER_REQUEST"},
        "ProvisionedThroughput": {
            "NumberOfDecreasesToday": 0,
            "ReadCapacityUnits": 0,
            "WriteCapacityUnits": 0,
        },
        "LatestStreamArn": stream_arn,
        "LatestStreamLabel": ids.stream_label(desc.created_ms),
        "GlobalTableVersion": GLOBAL_TABLE_VERSION,
        "Replicas": [
            {"RegionName": member, "ReplicaStatus": status} for member in sorted(core.members)
        ],
    }
    if not desc.stream_disabled:
        out["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": _VIEW_TYPES[spec.view_type],
        }
    return out
