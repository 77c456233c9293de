"""Shard iterators of the Streams API: opaque to clients, unforgeable, valid 15 minutes.

An iterator reads ``<stream ARN>|1|<payload>.<mac>``: the payload (base64url JSON) holds
the table, its stream id, the shard, the next sequence number and when it was issued; the
mac is an HMAC-SHA256 of the payload under a key only this node knows (derived from the
region's secret token). Changing any byte, or pointing the payload at another table's
stream, breaks the mac: such an iterator is refused as invalid, as is a garbled one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

import orjson

from regionnode.dynamodb.errors import DynamoError, validation

TTL_MS = 15 * 60 * 1000
MAX_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class Position:
    table: str
    stream_id: str
    shard: str
    next_sequence: int


class IteratorSigner:
    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), b"dynamodb shard iterator", hashlib.sha256).digest()

    def _mac(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()

    def encode(self, arn: str, position: Position, now_ms: int) -> str:
        fields = [
            position.table,
            position.stream_id,
            position.shard,
            position.next_sequence,
            now_ms,
        ]
        payload = base64.urlsafe_b64encode(orjson.dumps(fields)).decode()
        return f"{arn}|1|{payload}.{self._mac(payload)}"

    def decode(self, iterator: str, now_ms: int) -> Position:
        """The position an iterator names; ValidationException when it is not one of this
        node's, ExpiredIteratorException when it is older than 15 minutes."""
        _, _, signed = iterator.rpartition("|")
        payload, _, mac = signed.partition(".")
        if len(iterator) > MAX_LENGTH or not hmac.compare_digest(
            mac.encode(), self._mac(payload).encode()
        ):
            raise validation("Invalid ShardIterator")
        table, stream_id, shard, next_sequence, issued_ms = orjson.loads(
            base64.urlsafe_b64decode(payload.encode())
        )
        if now_ms - issued_ms > TTL_MS:
            raise DynamoError(
                "ExpiredIteratorException",
                "Iterator expired. The iterator was created at time "
                f"{issued_ms} ms while right now it is {now_ms} ms; iterators are valid for "
                "15 minutes.",
            )
        return Position(table, stream_id, shard, next_sequence)
