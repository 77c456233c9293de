"""What the `meridian` command prints: JSON documents and lines, and aligned text tables.

Everything here but `emit` is pure: values in, text or JSON-ready objects out. Items are
shown in plain JSON (numbers exact, binary as ``{"$b": base64}``, sets as ``{"$set": [...]}``)
or in DynamoDB JSON (``typed``); their attributes are sorted by name so output is stable.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from regionnode import items
from regionnode.oneline import one_line
from regionnode.pb import node_pb2 as pb

SEQUENCE_DIGITS = 21  # DynamoDB sequence numbers are strings of 21 to 40 digits


# ---------------------------------------------------------------- JSON


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


def write_result_json(
    result: pb.WriteResult, typed: bool = False, with_attributes: bool = False
) -> dict[str, Any]:
    """A PutItem/DeleteItem/UpdateItem result; ``attributes`` only when values were asked for."""
    out: dict[str, Any] = {"version": version_json(result.version), "changed": result.changed}
    if with_attributes:
        out["attributes"] = (
            item_json(result.attributes, typed) if result.HasField("attributes") else None
        )
    return out


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
    return {
        "eventID": record.event_id,
        "eventName": _enum_name(pb.EventName, record.event_name),
        "dynamodb": body,
        "meridian": {
            "origin": record.version.region,
            "version": version_json(record.version),
            "table": record.table,
        },
    }


def time_text(ms: int) -> str:
    """Epoch milliseconds as ISO 8601 UTC with milliseconds (``2026-11-22T11:45:09.218Z``)."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def conflict_json(conflict: pb.Conflict) -> dict[str, Any]:
    return {
        "table": conflict.table,
        "keys": item_json(conflict.keys),
        "winner": version_json(conflict.winner),
        "loser": version_json(conflict.loser),
        "rule": conflict.rule,
        "at_ms": conflict.at_ms,
        "time": time_text(conflict.at_ms),
    }


# ---------------------------------------------------------------- tables


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return one_line(str(value))


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def render_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Columns aligned with two spaces between them; numbers right-aligned, the rest left.

    ``None`` shows as ``-``; a cell's text is one line (see `one_line`). Every row must have
    one cell per header. The result ends
    without a newline and has no trailing spaces.
    """
    body = [list(row) for row in rows]
    for index, row in enumerate(body):
        if len(row) != len(headers):
            raise ValueError(f"row {index} has {len(row)} cells, expected {len(headers)}")
    texts = [[_cell(value) for value in row] for row in body]
    widths = [len(header) for header in headers]
    for row_text in texts:
        widths = [max(width, len(text)) for width, text in zip(widths, row_text, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row, row_text in zip(body, texts, strict=True):
        cells = [
            text.rjust(width) if _numeric(value) else text.ljust(width)
            for value, text, width in zip(row, row_text, widths, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# ---------------------------------------------------------------- printing


def emit(text: str) -> None:
    """Print on stdout at once, so a reader of a pipe sees each line as it is made."""
    print(text, flush=True)
