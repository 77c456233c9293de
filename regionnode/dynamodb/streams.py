"""DynamoDB Streams over the same door: ListStreams, DescribeStream, GetShardIterator and
GetRecords, reading the node's change stream through `regionnode.stream.Streams`.

Each table has one stream with one open shard (`regionnode.stream.shard_id`); names follow
`identifiers`, iterators `iterators`. Records carry, besides DynamoDB's members, the region
where the write was accepted (`originRegion`) and its version (`originVersion`, the hybrid
logical clock), which SDKs ignore.
"""

from __future__ import annotations

from typing import Any

from meridian.model import hlc, ttl
from meridian.pb import node_pb2 as pb
from regionnode.dynamodb import identifiers as ids
from regionnode.dynamodb import params as p
from regionnode.dynamodb.auth import READ, Caller
from regionnode.dynamodb.convert import item_out
from regionnode.dynamodb.errors import DynamoError, validation
from regionnode.dynamodb.iterators import IteratorSigner, Position
from regionnode.dynamodb.tables import key_schema_out
from regionnode.rpc import Core
from regionnode.store import Table
from regionnode.stream import MAX_RECORDS, apply_view, shard_id

Body = dict[str, Any]

VIEW_TYPES: dict[int, str] = {
    pb.KEYS_ONLY: "KEYS_ONLY",
    pb.NEW_IMAGE: "NEW_IMAGE",
    pb.OLD_IMAGE: "OLD_IMAGE",
    pb.NEW_AND_OLD_IMAGES: "NEW_AND_OLD_IMAGES",
}
EVENT_NAMES = {pb.INSERT: "INSERT", pb.MODIFY: "MODIFY", pb.REMOVE: "REMOVE"}
ITERATOR_TYPES = ("TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")


def _not_found(what: str) -> DynamoError:
    return DynamoError("ResourceNotFoundException", f"Requested resource not found: {what}")


class StreamsApi:
    def __init__(self, core: Core, signer: IteratorSigner) -> None:
        self.core = core
        self.signer = signer
        self.handlers = {
            "ListStreams": self.list_streams,
            "DescribeStream": self.describe_stream,
            "GetShardIterator": self.get_shard_iterator,
            "GetRecords": self.get_records,
        }

    def _arn(self, table: Table) -> str:
        desc = table.description
        return ids.stream_arn(self.core.region, desc.spec.name, desc.created_ms)

    def _stream(self, body: Body, caller: Caller) -> Table:
        """The table whose stream the request's StreamArn names."""
        arn = p.string(body, "StreamArn", must=True)
        assert arn is not None
        parsed = ids.parse_stream_arn(arn)
        if parsed is None:
            raise validation(f"Invalid StreamArn: {arn}")
        region, name, label = parsed
        caller.may(READ, name)
        table = self.core.store.tables.get(name)
        if (
            region != self.core.region
            or table is None
            or ids.stream_label(table.description.created_ms) != label
        ):
            raise _not_found(f"Stream: {arn} not found")
        return table

    async def list_streams(self, body: Body, caller: Caller) -> Body:
        only = p.table_name(body) if body.get("TableName") is not None else None
        limit = p.integer(body, "Limit", 1, 100) or 100
        after = p.string(body, "ExclusiveStartStreamArn")
        tables = self.core.store.tables
        names = sorted(n for n in tables if caller.sees(n) and (only is None or n == only))
        arns = [(self._arn(tables[n]), n) for n in names]
        if after is not None:
            arns = [(arn, n) for arn, n in arns if arn > after]
        page = arns[:limit]
        out: Body = {
            "Streams": [
                {"StreamArn": arn, "TableName": n, "StreamLabel": arn.rsplit("/", 1)[1]}
                for arn, n in page
            ]
        }
        if len(arns) > limit:
            out["LastEvaluatedStreamArn"] = page[-1][0]
        return out

    async def describe_stream(self, body: Body, caller: Caller) -> Body:
        table = self._stream(body, caller)
        p.integer(body, "Limit", 1, 100)
        after = p.string(body, "ExclusiveStartShardId")
        desc = table.description
        shard = shard_id(table)
        shards = []
        if after is None or after < shard:
            shards.append(
                {
                    "ShardId": shard,
                    "SequenceNumberRange": {
                        "StartingSequenceNumber": ids.sequence_text(table.trim)
                    },
                }
            )
        arn = self._arn(table)
        return {
            "StreamDescription": {
                "StreamArn": arn,
                "StreamLabel": arn.rsplit("/", 1)[1],
                "StreamStatus": "ENABLED",
                "StreamViewType": VIEW_TYPES[desc.spec.view_type],
                "CreationRequestDateTime": desc.created_ms / 1000,
                "TableName": desc.spec.name,
                "KeySchema": key_schema_out(desc.spec),
                "Shards": shards,
            }
        }

    async def get_shard_iterator(self, body: Body, caller: Caller) -> Body:
        table = self._stream(body, caller)
        shard = p.string(body, "ShardId", must=True)
        kind = p.choice(body, "ShardIteratorType", ITERATOR_TYPES)
        p.required("ShardIteratorType", kind)
        text = p.string(body, "SequenceNumber")
        if shard != shard_id(table):
            raise _not_found(f"Shard: {shard} not found")
        positional = kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
        if positional != (text is not None):
            need = "requires" if positional else "does not take"
            raise validation(f"ShardIteratorType {kind} {need} a SequenceNumber")
        if kind == "TRIM_HORIZON":
            next_sequence = table.trim
        elif kind == "LATEST":
            next_sequence = table.head + 1
        else:
            sequence = ids.sequence_of(text or "")
            if sequence is None or sequence < 1 or sequence > table.head:
                raise validation(f"Invalid SequenceNumber: {text} is not in this shard")
            next_sequence = sequence + (kind == "AFTER_SEQUENCE_NUMBER")
            self.core.streams.check_position(table, sequence - 1)
        position = Position(
            table.description.spec.name, table.description.stream_id, shard, next_sequence
        )
        return {"ShardIterator": self.signer.encode(self._arn(table), position, hlc.wall_ms())}

    async def get_records(self, body: Body, caller: Caller) -> Body:
        iterator = p.string(body, "ShardIterator", must=True)
        limit = p.integer(body, "Limit", 1, MAX_RECORDS) or MAX_RECORDS
        position = self.signer.decode(iterator or "", hlc.wall_ms())
        caller.may(READ, position.table)
        table = self.core.store.tables.get(position.table)
        if table is None or table.description.stream_id != position.stream_id:
            raise _not_found(f"the stream of table {position.table} no longer exists")
        raw = self.core.streams.read(table, position.next_sequence - 1, limit)
        view = table.description.spec.view_type
        records = []
        next_sequence = position.next_sequence
        for value in raw:
            record = apply_view(pb.StreamRecord.FromString(value), view)
            records.append(self._record(record, view))
            next_sequence = record.sequence_number + 1
        following = Position(position.table, position.stream_id, position.shard, next_sequence)
        return {
            "Records": records,
            "NextShardIterator": self.signer.encode(self._arn(table), following, hlc.wall_ms()),
        }

    def _record(self, record: pb.StreamRecord, view: int) -> Body:
        data: Body = {
            "ApproximateCreationDateTime": record.creation_time_ms // 1000,
            "Keys": item_out(record.keys),
            "SequenceNumber": ids.sequence_text(record.sequence_number),
            "SizeBytes": record.size_bytes,
            "StreamViewType": VIEW_TYPES[view],
        }
        if record.HasField("new_image"):
            data["NewImage"] = item_out(record.new_image)
        if record.HasField("old_image"):
            data["OldImage"] = item_out(record.old_image)
        out = {
            "eventID": record.event_id,
            "eventName": EVENT_NAMES[record.event_name],
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self.core.region,
            "dynamodb": data,
            "originRegion": record.version.region,
            "originVersion": str(record.version.hlc),
        }
        identity = ttl.user_identity_json(record)
        if identity is not None:  # a TTL expiry, here and in the replicated copies; as the
            # documentation spells it, and as botocore's model does (Type, PrincipalId)
            out["userIdentity"] = {
                **identity,
                "Type": identity["type"],
                "PrincipalId": identity["principalId"],
            }
        return out
