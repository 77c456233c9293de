"""The event a function receives: DynamoDB Streams' Lambda event shape. Pure.

``{"Records": [record, ...]}``, each record as ``meridian stream tail --typed`` prints it
(eventID, eventName, dynamodb.Keys / NewImage / OldImage / SequenceNumber / SizeBytes /
StreamViewType / ApproximateCreationDateTime, plus ``meridian``: origin region, version and
table) with Lambda's envelope fields (eventVersion, eventSource, awsRegion, eventSourceARN).
Each record is rendered to JSON once; a batch's payload joins the texts.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from meridian.model.render import SEQUENCE_DIGITS, stream_record_json
from meridian.pb import node_pb2 as pb

EVENT_SOURCE = "meridian:stream"
EVENT_VERSION = "1.1"


@dataclass(slots=True)
class Record:
    """One stream record on its way through a trigger."""

    sequence_number: int
    creation_ms: int
    size: int  # bytes of the record's JSON text
    key_hash: int
    data: dict[str, Any]  # the event record (what filters look at)
    text: str  # ``data`` as JSON
    arrived: float = 0.0  # monotonic time it was read (batching window)
    done: bool = field(default=False)

    @property
    def identifier(self) -> str:
        """The ``itemIdentifier`` of this record in a ``batchItemFailures`` response."""
        return str(self.data["dynamodb"]["SequenceNumber"])


def source_arn(group: str, region: str, table: str, stream_id: str) -> str:
    return f"meridian:{group}:{region}:table/{table}/stream/{stream_id}"


def key_hash(keys: pb.Item) -> int:
    """A stable hash of an item's key (the same in every process and run)."""
    return zlib.crc32(keys.SerializeToString(deterministic=True))


def event_record(record: pb.StreamRecord, region: str, arn: str) -> dict[str, Any]:
    data = stream_record_json(record, typed=True)
    event = {
        "eventID": data["eventID"],
        "eventName": data["eventName"],
        "eventVersion": EVENT_VERSION,
        "eventSource": EVENT_SOURCE,
        "awsRegion": region,
        "dynamodb": data["dynamodb"],
        "eventSourceARN": arn,
        "meridian": data["meridian"],
    }
    if "userIdentity" in data:  # a TTL expiry, as Lambda shows it (filters can match it)
        event["userIdentity"] = data["userIdentity"]
    return event


def make_record(record: pb.StreamRecord, region: str, arn: str) -> Record:
    data = event_record(record, region, arn)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Record(
        sequence_number=record.sequence_number,
        creation_ms=record.creation_time_ms,
        size=len(text),
        key_hash=key_hash(record.keys),
        data=data,
        text=text,
    )


def payload(records: Sequence[Record]) -> str:
    """The event for one invocation, as JSON text on one line."""
    return '{"Records":[' + ",".join(r.text for r in records) + "]}"


def sequence_text(sequence_number: int) -> str:
    return f"{sequence_number:0{SEQUENCE_DIGITS}d}"
