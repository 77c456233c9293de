"""One trigger's pipeline in one region: stream reader, lanes and checkpoint committer.

The reader subscribes to the table's stream after the checkpoint, renders each record as
an event record, drops what the filters do not take and queues the rest on the lane of its
key; each lane invokes batches one at a time (``triggers.delivery``); the committer saves
the checkpoint whenever it moves (``triggers.batching.Progress``). The reader pauses while
too many records are unfinished. Records are delivered at least once: the checkpoint moves
only past records that succeeded or reached the on-failure destination.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import grpc

from meridian.config import GroupConfig, RegionConfig, TriggerConfig
from meridian.daemon import backoff
from meridian.model import hlc
from meridian.pb import node_pb2 as pb
from meridian.pb import node_pb2_grpc as pb_grpc
from meridian.wire.errors import Reason, reason_of
from triggers import checkpoint, deadletter, events, filters
from triggers.batching import MIN_PENDING_RECORDS, Progress, take, window_left
from triggers.delivery import RECORDS_TRIMMED, Policy, Result, deliver
from triggers.events import Record
from triggers.invoke import Invoker, make_invoker
from triggers.metrics import TriggerMetrics

log = logging.getLogger(__name__)

SUBSCRIBE_BATCH = 1000  # records per Subscribe message (the node's maximum)
RPC_TIMEOUT_S = 10.0
GAUGE_INTERVAL_S = 0.5


def function_environment(
    config: GroupConfig, region: RegionConfig, trigger: TriggerConfig
) -> dict[str, str]:
    """The environment a function runs with: the runner's, the trigger's, and MERIDIAN_*."""
    env = dict(os.environ)
    env.update(dict(trigger.environment))
    env.update(
        {
            "MERIDIAN_GROUP": config.group,
            "MERIDIAN_REGION": region.name,
            "MERIDIAN_TRIGGER": trigger.name,
            "MERIDIAN_TABLE": trigger.table,
            "MERIDIAN_NODE": str(region.node_listen),
            "MERIDIAN_CONFIG": str(config.path.resolve()),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


class TriggerTask:
    """The pipeline of one trigger in one region."""

    def __init__(
        self,
        config: GroupConfig,
        region: RegionConfig,
        trigger: TriggerConfig,
        node: pb_grpc.NodeStub,
        metrics: TriggerMetrics,
        clock: Callable[[], int] = hlc.wall_ms,
    ) -> None:
        self.config = config
        self.clock = clock  # wall-clock milliseconds: record ages, checkpoint and dead-letter times
        self.region = region
        self.trigger = trigger
        self.node = node
        self.metrics = metrics
        self.labels = (region.name, trigger.name)
        table = config.table(trigger.table)
        self.policy = Policy.of(trigger, table.retention_seconds)
        self.filters = [filters.bind(p, region.name) for p in trigger.filters]
        self.path = checkpoint.path_for(region, trigger.name)
        self.destination = deadletter.destination(trigger.on_failure, node, config.tables)
        env = function_environment(config, region, trigger)
        lanes = trigger.parallelization
        self.invokers: list[Invoker] = [make_invoker(trigger.function, env) for _ in range(lanes)]
        self.lane_wakeups = [asyncio.Event() for _ in range(lanes)]
        self.room = asyncio.Event()
        self.dirty = asyncio.Event()
        self.progress: Progress | None = None
        self.saved: checkpoint.Checkpoint | None = None
        self.arn = ""
        self._dead_letters = 0
        self._trimmed = 0

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        await self._init()
        lanes = range(self.trigger.parallelization)
        tasks = [
            asyncio.create_task(self._reader(), name=f"{self.trigger.name}:reader"),
            asyncio.create_task(self._committer(), name=f"{self.trigger.name}:committer"),
            asyncio.create_task(self._gauges(), name=f"{self.trigger.name}:gauges"),
            *(
                asyncio.create_task(self._lane(i), name=f"{self.trigger.name}:lane{i}")
                for i in lanes
            ),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # a loop ended: it crashed; let the runner know
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.close()

    async def close(self) -> None:
        """Kill the workers and save the checkpoint. Idempotent."""
        for invoker in self.invokers:
            with contextlib.suppress(Exception):
                await invoker.close()
        if self.progress is not None and self.saved is not None:
            with contextlib.suppress(OSError):
                await self._save()

    async def _describe(self) -> pb.DescribeStreamResponse:
        """The table's stream; waits (with backoff) while the node cannot answer."""
        attempt = 0
        while True:
            try:
                request = pb.DescribeStreamRequest(table=self.trigger.table)
                response: pb.DescribeStreamResponse = await self.node.DescribeStream(
                    request, timeout=RPC_TIMEOUT_S
                )
                return response
            except grpc.aio.AioRpcError as exc:
                if attempt % 20 == 0:
                    log.warning(
                        "trigger %s: cannot describe the stream of %s: %s %s",
                        self.trigger.name,
                        self.trigger.table,
                        exc.code().name,
                        exc.details(),
                    )
                await asyncio.sleep(backoff.delay(attempt, base=0.2, cap=5.0))
                attempt += 1

    async def _init(self) -> None:
        stream = await self._describe()
        self.arn = events.source_arn(
            self.config.group, self.region.name, self.trigger.table, stream.stream_id
        )
        saved = await asyncio.to_thread(checkpoint.load, self.path)
        start_from_horizon = max(stream.trim_sequence_number - 1, 0)
        if saved is not None and saved.stream_id == stream.stream_id:
            position = saved.sequence_number
            how = "from its checkpoint"
        elif saved is not None:
            position = start_from_horizon
            how = "from the trim horizon: the table's stream changed (table recreated?)"
            log.warning("trigger %s: stream id changed, starting over", self.trigger.name)
        elif self.trigger.starting_position == "LATEST":
            position = stream.head_sequence_number
            how = "at LATEST"
        else:
            position = start_from_horizon
            how = "at TRIM_HORIZON"
        self._dead_letters = saved.dead_letters if saved else 0
        self._trimmed = saved.trimmed if saved else 0
        self.saved = checkpoint.Checkpoint(
            trigger=self.trigger.name,
            region=self.region.name,
            table=self.trigger.table,
            stream_id=stream.stream_id,
            sequence_number=position,
            updated_ms=self.clock(),
            dead_letters=self._dead_letters,
            trimmed=self._trimmed,
        )
        lanes = self.trigger.parallelization
        self.progress = Progress(
            position,
            lanes,
            max_records=max(MIN_PENDING_RECORDS, 2 * self.trigger.batch_size * lanes),
        )
        self.progress.scanned(position, stream.head_sequence_number)
        if saved != self.saved:
            await asyncio.to_thread(checkpoint.save, self.path, self.saved)
        self.metrics.checkpoint.labels(*self.labels).set(position)
        log.info(
            "trigger %s on %s: starting after sequence number %d %s (%s)",
            self.trigger.name,
            self.trigger.table,
            position,
            how,
            self.trigger.function,
        )

    # ------------------------------------------------------------ reading

    async def _reader(self) -> None:
        assert self.progress is not None
        progress = self.progress
        attempt = 0
        while True:
            request = pb.SubscribeRequest(
                table=self.trigger.table,
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
                        self.trigger.name,
                        self.trigger.table,
                        exc.code().name,
                        exc.details(),
                    )
                await asyncio.sleep(backoff.delay(attempt, base=0.1, cap=5.0))
                attempt += 1

    def _take(self, message: pb.SubscribeBatch) -> None:
        assert self.progress is not None
        progress = self.progress
        now = time.monotonic()
        filtered = 0
        for raw in message.records:
            record = events.make_record(raw, self.region.name, self.arn)
            if not filters.matches_any(self.filters, record.data):
                filtered += 1
                continue
            record.arrived = now
            self.lane_wakeups[progress.add(record)].set()
        progress.scanned(message.scanned_through, message.head_sequence_number)
        if filtered:
            self.metrics.records.labels(*self.labels, "filtered").inc(filtered)
        self.dirty.set()

    async def _skip_trimmed(self) -> None:
        """The stream no longer holds the records after our position: record the loss."""
        assert self.progress is not None
        stream = await self._describe()
        lost_from = self.progress.read_through + 1
        lost_to = stream.trim_sequence_number - 1
        if lost_to < lost_from:
            return
        count = lost_to - lost_from + 1
        log.error(
            "trigger %s: %d records (sequence numbers %d to %d) were trimmed from the stream "
            "before they were processed",
            self.trigger.name,
            count,
            lost_from,
            lost_to,
        )
        error = f"the stream's retention removed {count} records before they were read"
        await self.dead_letter([], RECORDS_TRIMMED, error, 0, first=lost_from, last=lost_to)
        self._trimmed += count
        self.progress.scanned(lost_to)
        self.dirty.set()

    # ------------------------------------------------------------ lanes

    async def _lane(self, index: int) -> None:
        assert self.progress is not None
        progress = self.progress
        queue = progress.lanes[index]
        wakeup = self.lane_wakeups[index]
        window_s = self.trigger.batching_window_ms / 1000
        effects = _LaneEffects(self, self.invokers[index])
        while True:
            left = window_left(queue, time.monotonic(), self.trigger.batch_size, window_s)
            if left is None or left > 0:
                wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wakeup.wait(), left)
                continue
            batch = take(queue, self.trigger.batch_size)
            await deliver(batch, self.policy, effects)
            if not progress.full:
                self.room.set()

    def finished(self, records: Sequence[Record]) -> None:
        assert self.progress is not None
        self.progress.finish(records)
        self.dirty.set()

    async def dead_letter(
        self,
        records: Sequence[Record],
        condition: str,
        error: str,
        attempts: int,
        *,
        first: int | None = None,
        last: int | None = None,
    ) -> None:
        """Hand records to the destination (retrying until it takes them), then finish them."""
        entry = deadletter.entry(
            trigger=self.trigger.name,
            region=self.region.name,
            table=self.trigger.table,
            condition=condition,
            error=error,
            attempts=attempts,
            records=records,
            now_ms=self.clock(),
            first=first,
            last=last,
        )
        batch = entry["batch"]
        if self.destination is None:
            log.error(
                "trigger %s: dropping %d records (%s to %s): %s: %s (no on_failure destination)",
                self.trigger.name,
                batch["size"],
                batch["first_sequence_number"],
                batch["last_sequence_number"],
                condition,
                error,
            )
        else:
            await self._send(entry)
        if records:
            self._dead_letters += len(records)
            self.metrics.dead_letters.labels(*self.labels).inc(len(records))
            self.finished(records)

    async def _send(self, entry: dict[str, Any]) -> None:
        assert self.destination is not None
        batch = entry["batch"]
        attempt = 0
        while True:
            try:
                await self.destination.send(entry)
                break
            except (OSError, grpc.aio.AioRpcError) as exc:
                log.error(
                    "trigger %s: cannot write to the on-failure destination (retrying): %s",
                    self.trigger.name,
                    exc,
                )
                await asyncio.sleep(backoff.delay(attempt, base=0.2, cap=10.0))
                attempt += 1
        log.warning(
            "trigger %s: %d records (%s to %s) sent to the on-failure destination: %s: %s",
            self.trigger.name,
            batch["size"],
            batch["first_sequence_number"],
            batch["last_sequence_number"],
            entry["condition"],
            entry["error"],
        )

    # ------------------------------------------------------------ checkpoint and gauges

    async def _save(self) -> None:
        assert self.progress is not None and self.saved is not None
        current = replace(
            self.saved,
            sequence_number=max(self.saved.sequence_number, self.progress.checkpoint),
            dead_letters=self._dead_letters,
            trimmed=self._trimmed,
        )
        if current == self.saved:
            return
        current = replace(current, updated_ms=self.clock())
        await asyncio.to_thread(checkpoint.save, self.path, current)
        self.saved = current
        self.metrics.checkpoint.labels(*self.labels).set(current.sequence_number)

    async def _committer(self) -> None:
        while True:
            await self.dirty.wait()
            self.dirty.clear()
            try:
                await self._save()
            except OSError as exc:  # e.g. a full disk: keep the old checkpoint, try again
                log.error("trigger %s: cannot save the checkpoint: %s", self.trigger.name, exc)
                await asyncio.sleep(1.0)
                self.dirty.set()

    async def _gauges(self) -> None:
        assert self.progress is not None
        progress = self.progress
        age = self.metrics.iterator_age.labels(*self.labels)
        while True:
            oldest = progress.oldest_ms()
            if oldest is not None:
                age.set(max(0.0, (self.clock() - oldest) / 1000))
            elif progress.caught_up:
                age.set(0)
            await asyncio.sleep(GAUGE_INTERVAL_S)


class _LaneEffects:
    """What ``deliver`` does to the world, for one lane of one trigger."""

    def __init__(self, task: TriggerTask, invoker: Invoker) -> None:
        self.task = task
        self.invoker = invoker
        labels = task.labels
        metrics = task.metrics
        self.invocations = metrics.invocations.labels(*labels)
        self.errors = metrics.errors.labels(*labels)
        self.duration = metrics.duration.labels(*labels)
        self.processed = metrics.records.labels(*labels, "processed")
        self.age = metrics.iterator_age.labels(*labels)
        self.timeout_s = task.trigger.timeout_ms / 1000

    async def invoke(self, batch: Sequence[Record]) -> Result:
        started = time.monotonic()
        result = await self.invoker.invoke(events.payload(batch), self.timeout_s)
        self.duration.observe(time.monotonic() - started)
        self.invocations.inc()
        failed_items = (
            result.ok
            and self.task.trigger.report_batch_item_failures
            and isinstance(result.response, dict)
            and bool(result.response.get("batchItemFailures"))
        )
        if not result.ok or failed_items:
            self.errors.inc()
        if not result.ok:
            log.warning(
                "trigger %s: batch of %d records (%d to %d) failed: %s",
                self.task.trigger.name,
                len(batch),
                batch[0].sequence_number,
                batch[-1].sequence_number,
                result.error,
            )
        return result

    def succeeded(self, batch: Sequence[Record]) -> None:
        self.processed.inc(len(batch))
        self.task.finished(batch)

    async def dead_letter(
        self, batch: Sequence[Record], condition: str, error: str, attempts: int
    ) -> None:
        await self.task.dead_letter(batch, condition, error, attempts)

    def now_ms(self) -> int:
        return self.task.clock()

    async def pause(self, retry: int) -> None:
        await asyncio.sleep(backoff.delay(retry, base=0.2, cap=30.0))
