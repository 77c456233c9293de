"""Reading one trigger's table stream: subscribe after the position read so far, render each
record as an event record, drop what the filters do not take, and queue the rest on the lane
of its key. The reader pauses while too many records are unfinished, and reports records
the stream's retention removed before they were read."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import grpc

from meridian.config import FilterPattern
from meridian.daemon import backoff
from meridian.pb import client_pb2_grpc as pb_grpc
from meridian.pb import node_pb2 as pb
from meridian.wire.errors import Reason, reason_of
from triggers import events, filters
from triggers.batching import Progress
from triggers.delivery import RECORDS_TRIMMED
from triggers.failures import FailureSink
from triggers.metrics import TriggerMetrics

log = logging.getLogger(__name__)

SUBSCRIBE_BATCH = 1000  # records per Subscribe message (the node's maximum)
RPC_TIMEOUT_S = 10.0


async def describe_stream(
    node: pb_grpc.ClientStub, table: str, trigger: str
) -> pb.DescribeStreamResponse:
    """The table's stream; waits (with backoff) while the node cannot answer."""
    attempt = 0
    while True:
        try:
            request = pb.DescribeStreamRequest(table=table)
            response: pb.DescribeStreamResponse = await node.DescribeStream(
                request, timeout=RPC_TIMEOUT_S
            )
            return response
        except grpc.aio.AioRpcError as exc:
            if attempt % 20 == 0:
                log.warning(
                    "trigger %s: cannot describe the stream of %s: %s %s",
                    trigger,
                    table,
                    exc.code().name,
                    exc.details(),
                )
            await asyncio.sleep(backoff.delay(attempt, base=0.2, cap=5.0))
            attempt += 1


class StreamReader:
    def __init__(
        self,
        node: pb_grpc.ClientStub,
        labels: tuple[str, str],  # region, trigger
        table: str,
        arn: str,
        patterns: Sequence[FilterPattern],
        progress: Progress,
        wakeups: tuple[list[asyncio.Event], asyncio.Event, asyncio.Event],
        metrics: TriggerMetrics,
        failures: FailureSink,
    ) -> None:
        self.node = node
        self.region, self.trigger = labels
        self.table = table
        self.arn = arn
        self.patterns = patterns
        self.progress = progress
        # Set a lane's event when it has records; wait for `room` when too many are
        # unfinished; set `dirty` when the checkpoint may move.
        self.lane_wakeups, self.room, self.dirty = wakeups
        self.filtered = metrics.records.labels(*labels, "filtered")
        self.failures = failures

    async def run(self) -> None:
        progress = self.progress
        attempt = 0
        while True:
            request = pb.SubscribeRequest(
                table=self.table,
                after_sequence_number=progress.read_through,
                max_batch=SUBSCRIBE_BATCH,
            )
            try:
                async for message in self.node.Subscribe(request):
                    attempt = 0
                    self._take(message)
                    while progress.full:
                        self.room.clear()
                        await self.room.wait()
                # The node ended the stream (it is stopping): subscribe again after a pause.
                await asyncio.sleep(backoff.delay(attempt, base=0.1, cap=5.0))
                attempt += 1
            except grpc.aio.AioRpcError as exc:
                if reason_of(exc) == Reason.TRIMMED_DATA:
                    await self._skip_trimmed()
                    continue
                if attempt % 20 == 0:
                    log.warning(
                        "trigger %s: stream of %s: %s %s (retrying)",
                        self.trigger,
                        self.table,
                        exc.code().name,
                        exc.details(),
                    )
                await asyncio.sleep(backoff.delay(attempt, base=0.1, cap=5.0))
                attempt += 1

    def _take(self, message: pb.SubscribeBatch) -> None:
        progress = self.progress
        now = time.monotonic()
        filtered = 0
        for raw in message.records:
            record = events.make_record(raw, self.region, self.arn)
            if not filters.matches_any(self.patterns, record.data):
                filtered += 1
                continue
            record.arrived = now
            self.lane_wakeups[progress.add(record)].set()
        progress.scanned(message.scanned_through, message.head_sequence_number)
        if filtered:
            self.filtered.inc(filtered)
        self.dirty.set()

    async def _skip_trimmed(self) -> None:
        """The stream no longer holds the records after our position: record the loss."""
        stream = await describe_stream(self.node, self.table, self.trigger)
        lost_from = self.progress.read_through + 1
        lost_to = stream.trim_sequence_number - 1
        if lost_to < lost_from:
            return
        count = lost_to - lost_from + 1
        log.error(
            "trigger %s: %d records (sequence numbers %d to %d) were trimmed from the stream "
            "before they were processed",
            self.trigger,
            count,
            lost_from,
            lost_to,
        )
        error = f"the stream's retention removed {count} records before they were read"
        await self.failures.dead_letter(
            [], RECORDS_TRIMMED, error, 0, first=lost_from, last=lost_to
        )
        self.failures.trimmed += count
        self.progress.scanned(lost_to)
        self.dirty.set()
