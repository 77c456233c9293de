"""JSON shapes shared by every process: items (plain or DynamoDB JSON), versions, and stream
records shaped like DynamoDB Streams records plus what DynamoDB hides (origin, version).

Pure: values in, JSON-ready objects or text out. Attributes are sorted by name at every level
so output is stable (protobuf maps have no order).
"""

from __future__ import annotations

import datetime
from typing import Any

from meridian.model import items, ttl
from meridian.pb import node_pb2 as pb

SEQUENCE_DIGITS = 21  # DynamoDB sequence numbers are strings of 21 to 40 digits


def to_json(obj: Any, *, indent: int | None = None) -> str:
    """JSON text with exact numbers (Decimal digits kept), bytes and sets as plain JSON does."""
    return items.dumps(obj, indent=indent, ensure_ascii=False)


def _sorted(obj: Any) -> Any:
    """Maps rebuilt with their keys in order, at every level (protobuf maps have none)."""
    if isinstance(obj, dict):
        return {key: _sorted(obj[key]) for key in sorted(obj)}
    if isinstance(obj, list):
        return [_sorted(element) for element in obj]
    return obj


def item_json(item: pb.Item, typed: bool = False) -> dict[str, Any]:
    """An item as a JSON-ready object: plain values, or DynamoDB JSON when ``typed``."""
    return _sorted(items.to_typed(item) if typed else items.to_plain(item))


def value_json(value: pb.AttributeValue, typed: bool = False) -> Any:
    """One attribute value as a JSON-ready object."""
    return _sorted(items.value_to_typed(value) if typed else items.value_to_plain(value))


def version_json(version: pb.Version) -> dict[str, Any] | None:
    """``{"hlc": N, "region": R}``, or None for an unset version (nothing was written)."""
    if not version.hlc and not version.region:
        return None
    return {"hlc": version.hlc, "region": version.region}


def version_text(version: pb.Version) -> str:
    """``HLC@REGION``, the spelling that ``--if-version`` accepts; ``-`` when unset."""
    if not version.hlc and not version.region:
        return "-"
    return f"{version.hlc}@{version.region}"


def sequence_number_text(sequence_number: int) -> str:
    """A stream sequence number as DynamoDB spells it: digits only, at least 21 of them."""
    return f"{sequence_number:0{SEQUENCE_DIGITS}d}"


def _enum_name(enum: Any, value: int) -> str:
    try:
        return str(enum.Name(value))
    except ValueError:
        return str(value)


def stream_record_json(record: pb.StreamRecord, typed: bool = False) -> dict[str, Any]:
    """A stream record shaped like a DynamoDB Streams record, plus what DynamoDB hides
    (origin region, version and table) under ``meridian``."""
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": record.creation_time_ms // 1000,
        "Keys": item_json(record.keys, typed),
    }
    if record.HasField("new_image"):
        body["NewImage"] = item_json(record.new_image, typed)
    if record.HasField("old_image"):
        body["OldImage"] = item_json(record.old_image, typed)
    body["SequenceNumber"] = sequence_number_text(record.sequence_number)
    body["SizeBytes"] = record.size_bytes
    body["StreamViewType"] = _enum_name(pb.StreamViewType, record.view_type)
    out = {
        "eventID": record.event_id,
        "eventName": _enum_name(pb.EventName, record.event_name),
        "dynamodb": body,
        "meridian": {
            "origin": record.version.region,
            "version": version_json(record.version),
            "table": record.table,
        },
    }
    identity = ttl.user_identity_json(record)
    if identity is not None:
        out["userIdentity"] = identity  # a TTL expiry: the service deleted the item
    return out


def time_text(ms: int) -> str:
    """Epoch milliseconds as ISO 8601 UTC with milliseconds (``2026-11-22T11:45:09.218Z``)."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def conflict_json(conflict: pb.Conflict) -> dict[str, Any]:
    """A recorded last-writer-wins conflict: the key, both versions, the deciding rule."""
    return {
        "table": conflict.table,
        "keys": item_json(conflict.keys),
        "winner": version_json(conflict.winner),
        "loser": version_json(conflict.loser),
        "rule": conflict.rule,
        "attributes": list(conflict.attributes),
        "at_ms": conflict.at_ms,
        "time": time_text(conflict.at_ms),
    }
