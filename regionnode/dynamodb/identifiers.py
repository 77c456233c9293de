"""The names DynamoDB gives tables and streams, for this region's tables.

- table ARN ``arn:aws:dynamodb:<region>:000000000000:table/<table>`` (no accounts: the
  account is always twelve zeros);
- stream label: the table's creation time, ``2026-12-02T21:51:10.252`` (UTC), and the
  stream ARN ``<table ARN>/stream/<label>``: a table re-created under the same name gets a
  new label, so an old ARN no longer names its stream;
- sequence numbers: the stream's sequence number plus 10^20, a string of 21 digits (more
  only past 9 * 10^20 records) that sorts in stream order both as a number and as text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

ACCOUNT = "000000000000"
SEQUENCE_BASE = 10**20
_STREAM_ARN = re.compile(
    r"arn:aws:dynamodb:([^:]+):([0-9]{12}):table/([a-zA-Z0-9_.-]{3,255})/stream/"
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3})"
)
_SEQUENCE = re.compile(r"[0-9]{21,40}")


def table_arn(region: str, table: str) -> str:
    return f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table}"


def stream_label(created_ms: int) -> str:
    moment = datetime.fromtimestamp(created_ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{created_ms % 1000:03d}"


def stream_arn(region: str, table: str, created_ms: int) -> str:
    return f"{table_arn(region, table)}/stream/{stream_label(created_ms)}"


def parse_stream_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, table, label) of a well-formed stream ARN; None otherwise."""
    match = _STREAM_ARN.fullmatch(arn)
    return None if match is None else (match[1], match[3], match[4])


def sequence_text(sequence: int) -> str:
    return str(SEQUENCE_BASE + sequence)


def sequence_of(text: str) -> int | None:
    """The stream sequence number of a SequenceNumber string; None when it names none."""
    if not _SEQUENCE.fullmatch(text):
        return None
    value = int(text) - SEQUENCE_BASE
    return value if value >= 0 else None
