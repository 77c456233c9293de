"""Reading the change stream: shards, iterators, live subscriptions and retention.

One shard per table for now; the API has DynamoDB's shape (DescribeStream lists shards,
iterators name a shard) so more shards can come without changing clients. Records are kept
with both images; readers get the images their table's view type allows.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Collection, Mapping

from meridian.model import hlc
from meridian.model.items import ItemError
from meridian.pb import node_pb2 as pb
from meridian.wire.errors import NotFound, TrimmedData
from regionnode.holds import RetentionHolds
from regionnode.store import Store, Table, stream_prefix

log = logging.getLogger(__name__)

MAX_RECORDS = 1000
MAX_BYTES = 1024 * 1024
ITERATOR_TTL_MS = 15 * 60 * 1000
PROGRESS_INTERVAL_S = 0.25


def shard_id(table: Table) -> str:
    desc = table.description
    return f"shardId-{desc.created_ms:020d}-{desc.stream_id[:8]}"


def apply_view(record: pb.StreamRecord, view_type: int) -> pb.StreamRecord:
    """Strip the images that the view type does not show (in place), and the attribute
    versions (attribute merge mode) with the new image, whose attributes they name."""
    if view_type in (pb.KEYS_ONLY, pb.NEW_IMAGE):
        record.ClearField("old_image")
    if view_type in (pb.KEYS_ONLY, pb.OLD_IMAGE):
        record.ClearField("new_image")
        record.ClearField("attributes")
    return record


def wakes(key: tuple[str, str], tables: Collection[str], origins: Mapping[str, set[str]]) -> bool:
    """Whether a commit wakes the readers waiting on `key` (table, origin filter): readers of
    every origin ("") on every commit of their table; a filtered reader only when the commit
    wrote a record of its origin to the table. A table without `origins` wakes every reader
    (a deleted table, shutdown, or a commit that did not say)."""
    table, origin = key
    if table not in tables:
        return False
    return not origin or table not in origins or origin in origins[table]


def _wake(woken: asyncio.Future[None]) -> None:
    if not woken.done():
        woken.set_result(None)


def encode_iterator(table: str, shard: str, next_seq: int, issued_ms: int) -> str:
    text = f"{table}|{shard}|{next_seq}|{issued_ms}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_iterator(iterator: str, now_ms: int) -> tuple[str, str, int]:
    """(table, shard, next sequence number); ItemError when malformed or expired."""
    try:
        table, shard, seq, issued = base64.urlsafe_b64decode(iterator.encode()).decode().split("|")
        next_seq, issued_ms = int(seq), int(issued)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ItemError("shard_iterator: malformed") from exc
    if now_ms - issued_ms > ITERATOR_TTL_MS:
        raise ItemError("shard_iterator: expired (iterators are valid for 15 minutes)")
    return table, shard, next_seq


class Streams:
    def __init__(self, store: Store) -> None:
        self.store = store
        # Waiting readers by (table, origin filter; "" for readers of every origin).
        self._waiting: dict[tuple[str, str], list[asyncio.Future[None]]] = {}
        self.closed = False
        self.holds = RetentionHolds()

    def close(self) -> None:
        """End every live subscription (shutdown): they would otherwise hold the server open."""
        self.closed = True
        self.notify({name for name, _ in self._waiting})

    def table(self, name: str) -> Table:
        table = self.store.tables.get(name)
        if table is None:
            raise NotFound(f"table {name!r} does not exist")
        return table

    def _same_table(self, table: Table) -> None:
        """End a subscription whose table was deleted or re-created (group-wide catalog):
        its positions mean nothing in another incarnation."""
        name = table.description.spec.name
        if self.store.tables.get(name) is not table:
            raise NotFound(f"table {name!r} was deleted or re-created")

    def notify(self, tables: Collection[str]) -> None:
        """Wake the readers of these tables. Given table -> origins of the records a commit
        wrote (the writer's call), a reader filtered by origin wakes only for records of its
        origin (`wakes`); given table names alone, every reader of them wakes."""
        origins: Mapping[str, set[str]] = tables if isinstance(tables, Mapping) else {}
        for key in [key for key in self._waiting if wakes(key, tables, origins)]:
            for woken in self._waiting.pop(key):
                _wake(woken)

    async def wait(self, name: str, origin: str = "", timeout: float | None = None) -> None:
        """Until a commit wakes readers of `name` filtered by `origin` ("": all origins), or
        `timeout` seconds. A future and a timer: no task per wait (as `wait_for` makes)."""
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        waiting = self._waiting.setdefault((name, origin), [])
        waiting.append(woken)
        timer = None if timeout is None else loop.call_later(timeout, _wake, woken)
        try:
            await woken
        finally:
            if timer is not None:
                timer.cancel()
            with contextlib.suppress(ValueError):  # timed out or cancelled: still listed
                waiting.remove(woken)

    def check_position(self, table: Table, after: int) -> None:
        """Records after `after` must still exist; otherwise the reader missed some."""
        if after + 1 < table.trim:
            raise TrimmedData(
                f"table {table.description.spec.name!r}: sequence number {after + 1} was "
                f"trimmed; the oldest record is {table.trim}"
            )

    def read(self, table: Table, after: int, limit: int = MAX_RECORDS) -> list[bytes]:
        """Raw records after `after`, up to `limit` records or about MAX_BYTES."""
        self.check_position(table, after)
        raw = self.store.read_stream(table.description.spec.name, after, limit)
        size = 0
        for index, value in enumerate(raw):
            size += len(value)
            if size > MAX_BYTES and index > 0:
                return raw[:index]
        return raw

    def describe(self, table: Table) -> pb.DescribeStreamResponse:
        desc = table.description
        return pb.DescribeStreamResponse(
            stream_id=desc.stream_id,
            view_type=desc.spec.view_type,
            shards=[pb.Shard(shard_id=shard_id(table), starting_sequence_number=table.trim)],
            head_sequence_number=table.head,
            trim_sequence_number=table.trim,
        )

    def iterator(self, req: pb.GetShardIteratorRequest) -> str:
        table = self.table(req.table)
        if req.shard_id and req.shard_id != shard_id(table):
            raise NotFound(f"shard {req.shard_id!r} does not exist in table {req.table!r}")
        if req.type == pb.TRIM_HORIZON:
            next_seq = table.trim
        elif req.type == pb.LATEST:
            next_seq = table.head + 1
        elif req.type in (pb.AT_SEQUENCE_NUMBER, pb.AFTER_SEQUENCE_NUMBER):
            if req.type == pb.AT_SEQUENCE_NUMBER and req.sequence_number == 0:
                raise ItemError("sequence_number: required (sequence numbers start at 1)")
            next_seq = req.sequence_number + (req.type == pb.AFTER_SEQUENCE_NUMBER)
            if next_seq > table.head + 1:
                raise ItemError(f"sequence_number {req.sequence_number}: beyond the stream head")
            self.check_position(table, next_seq - 1)
        else:
            raise ItemError(
                "type: expected TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER"
            )
        return encode_iterator(req.table, shard_id(table), next_seq, hlc.wall_ms())

    def get_records(self, req: pb.GetRecordsRequest) -> pb.GetRecordsResponse:
        if req.limit > MAX_RECORDS:
            raise ItemError(f"limit: at most {MAX_RECORDS}, got {req.limit}")
        name, shard, next_seq = decode_iterator(req.shard_iterator, hlc.wall_ms())
        table = self.table(name)
        raw = self.read(table, next_seq - 1, req.limit or MAX_RECORDS)
        response = pb.GetRecordsResponse()
        view = table.description.spec.view_type
        for value in raw:
            record = response.records.add()
            record.MergeFromString(value)
            apply_view(record, view)
        if response.records:
            next_seq = response.records[-1].sequence_number + 1
        response.next_shard_iterator = encode_iterator(name, shard, next_seq, hlc.wall_ms())
        return response

    async def subscribe(self, req: pb.SubscribeRequest) -> AsyncIterator[pb.SubscribeBatch]:
        """Push records after a position as they are written; filtered by origin if asked."""
        table = self.table(req.table)
        name, view = req.table, table.description.spec.view_type
        after, limit = req.after_sequence_number, min(req.max_batch or 500, MAX_RECORDS)
        sent, unreported = 0.0, False
        while not self.closed:
            self._same_table(table)
            raw = self.read(table, after, limit)
            if not raw:
                # Other regions' commits do not wake a filtered reader: it looks at the head
                # now and then instead, to report the position it scanned through.
                idle = PROGRESS_INTERVAL_S if unreported or req.origin else None
                await self.wait(name, req.origin, idle)
                self._same_table(table)
                if not unreported or table.head > after:
                    continue
            batch = pb.SubscribeBatch()
            if req.stored:
                after = _stored(batch, raw, req.origin, after)
            else:
                after = _parsed(batch, raw, req, view, after)
            batch.head_sequence_number = table.head
            batch.scanned_through = after
            # Records filtered out still move the position, but reporting that is worth a
            # message only now and then, not once per commit of other regions' writes.
            if batch.records or batch.stored or time.monotonic() - sent >= PROGRESS_INTERVAL_S:
                sent, unreported = time.monotonic(), False
                yield batch
            else:
                unreported = True

    def trim(self, now_ms: int) -> None:
        """Drop records older than each table's retention, always keeping the newest one
        so the head sequence number survives a restart."""
        for name, table in list(self.store.tables.items()):
            cutoff = now_ms - table.description.spec.retention_seconds * 1000
            below = table.trim
            held = self.holds.floor(name, time.monotonic())
            for _, value in self.store.scan_prefix(stream_prefix(name)):
                record = pb.StreamRecord.FromString(value)
                if (
                    record.creation_time_ms >= cutoff
                    or record.sequence_number >= table.head
                    or (held is not None and record.sequence_number >= held)
                ):
                    below = record.sequence_number
                    break
            if below > table.trim:
                self.store.trim_stream(name, below)
                table.trim = below
                log.info("table %s: trimmed stream records below %d", name, below)


def _parsed(
    batch: pb.SubscribeBatch, raw: list[bytes], req: pb.SubscribeRequest, view: int, after: int
) -> int:
    """Add the records of `raw` that the subscription asks for to the batch, parsed, with the
    images its view shows; returns the position after them."""
    origin = req.origin.encode()  # records without these bytes are skipped unparsed
    for value in raw:
        if origin and origin not in value:
            continue  # of another region: its origin's name is nowhere in its bytes
        record = batch.records.add()  # parsed in place: appending would copy it
        record.MergeFromString(value)
        after = record.sequence_number
        if req.origin and record.version.region != req.origin:
            del batch.records[-1]
        else:
            apply_view(record, view)
    if raw and origin and origin not in raw[-1]:  # the last one was skipped
        after = pb.StreamRecordHead.FromString(raw[-1]).sequence_number
    return after


def _stored(batch: pb.SubscribeBatch, raw: list[bytes], origin: str, after: int) -> int:
    """Add the records of `raw` of this origin (all, if "") to the batch as they are stored
    (replication: only the target parses them); returns the position after them. Only the
    head of a record is parsed, and only when its bytes contain the origin's name."""
    name = origin.encode()
    for value in raw:
        if name and name not in value:
            continue  # of another region: its origin's name is nowhere in its bytes
        head = pb.StreamRecordHead.FromString(value)
        after = head.sequence_number
        if not origin or head.version.region == origin:
            batch.stored.append(value)
    if raw and name and name not in raw[-1]:  # the last one was skipped
        after = pb.StreamRecordHead.FromString(raw[-1]).sequence_number
    return after
