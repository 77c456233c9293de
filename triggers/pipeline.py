"""One trigger's pipeline in one region: stream reader, lanes and checkpoint committer.

The reader (``triggers.stream_reader``) subscribes to the table's stream after the
checkpoint, renders each record as an event record, drops what the filters do not take and
queues the rest on the lane of its key; each lane (``triggers.lanes``) invokes batches one
at a time (``triggers.delivery``), and hands what it gives up on to the on-failure
destination (``triggers.failures``); the committer saves the checkpoint whenever it moves
(``triggers.batching.Progress``). The reader pauses while too many records are unfinished.
Records are delivered at least once: the checkpoint moves only past records that succeeded
or reached the on-failure destination.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import replace
from typing import Any

from meridian.config import GroupConfig, RegionConfig, TriggerConfig
from meridian.daemon import trigger_checkpoint as checkpoint
from meridian.model import hlc
from meridian.pb import client_pb2_grpc as pb_grpc
from meridian.pb import node_pb2 as pb
from triggers import deadletter, events, filters
from triggers.batching import MIN_PENDING_RECORDS, Progress
from triggers.delivery import Policy
from triggers.events import Record
from triggers.failures import FailureSink
from triggers.invoke import Invoker, make_invoker
from triggers.lanes import LaneEffects, run_lane
from triggers.metrics import TriggerMetrics
from triggers.stream_reader import StreamReader, describe_stream

log = logging.getLogger(__name__)

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
    """The pipeline of one trigger in one region: a `StreamReader`, its lanes (`lanes`) and
    the checkpoint committer, sharing the records' `Progress`."""

    def __init__(
        self,
        config: GroupConfig,
        region: RegionConfig,
        trigger: TriggerConfig,
        node: pb_grpc.ClientStub,
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
        self.failures = FailureSink(
            self.labels,
            trigger.table,
            deadletter.destination(trigger.on_failure, node, config.tables),
            metrics,
            clock,
            self.finished,
        )
        env = function_environment(config, region, trigger)
        lanes = trigger.parallelization
        self.invokers: list[Invoker] = [make_invoker(trigger.function, env) for _ in range(lanes)]
        self.lane_wakeups = [asyncio.Event() for _ in range(lanes)]
        self.room = asyncio.Event()
        self.dirty = asyncio.Event()
        self.progress: Progress | None = None
        self.saved: checkpoint.Checkpoint | None = None
        self.arn = ""

    # ------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        await self._init()
        tasks = [
            asyncio.create_task(coro, name=f"{self.trigger.name}:{name}")
            for name, coro in self._loops()
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

    def _loops(self) -> list[tuple[str, Coroutine[Any, Any, None]]]:
        assert self.progress is not None
        progress = self.progress
        reader = StreamReader(
            self.node,
            self.labels,
            self.trigger.table,
            self.arn,
            self.filters,
            progress,
            (self.lane_wakeups, self.room, self.dirty),
            self.metrics,
            self.failures,
        )
        loops: list[tuple[str, Coroutine[Any, Any, None]]] = [
            ("reader", reader.run()),
            ("committer", self._committer()),
            ("gauges", self._gauges()),
        ]
        for index, invoker in enumerate(self.invokers):
            effects = LaneEffects(
                self.trigger, self.labels, invoker, self.metrics, self.failures, self.clock
            )
            wakeups = (self.lane_wakeups[index], self.room)
            lane = run_lane(index, self.trigger, self.policy, progress, wakeups, effects)
            loops.append((f"lane{index}", lane))
        return loops

    async def close(self) -> None:
        """Kill the workers and save the checkpoint. Idempotent."""
        for invoker in self.invokers:
            with contextlib.suppress(Exception):
                await invoker.close()
        if self.progress is not None and self.saved is not None:
            with contextlib.suppress(OSError):
                await self._save()

    async def _init(self) -> None:
        stream = await describe_stream(self.node, self.trigger.table, self.trigger.name)
        self.arn = events.source_arn(
            self.config.group, self.region.name, self.trigger.table, stream.stream_id
        )
        saved = await asyncio.to_thread(checkpoint.load, self.path)
        position, how = starting_point(stream, saved, self.trigger.starting_position)
        if saved is not None and saved.stream_id != stream.stream_id:
            log.warning("trigger %s: stream id changed, starting over", self.trigger.name)
        self.failures.dead_letters = saved.dead_letters if saved else 0
        self.failures.trimmed = saved.trimmed if saved else 0
        self.saved = checkpoint.Checkpoint(
            trigger=self.trigger.name,
            region=self.region.name,
            table=self.trigger.table,
            stream_id=stream.stream_id,
            sequence_number=position,
            updated_ms=self.clock(),
            dead_letters=self.failures.dead_letters,
            trimmed=self.failures.trimmed,
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

    def finished(self, records: Sequence[Record]) -> None:
        assert self.progress is not None
        self.progress.finish(records)
        self.dirty.set()

    # ------------------------------------------------------------ checkpoint and gauges

    async def _save(self) -> None:
        assert self.progress is not None and self.saved is not None
        current = replace(
            self.saved,
            sequence_number=max(self.saved.sequence_number, self.progress.checkpoint),
            dead_letters=self.failures.dead_letters,
            trimmed=self.failures.trimmed,
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


def starting_point(
    stream: pb.DescribeStreamResponse, saved: checkpoint.Checkpoint | None, starting_position: str
) -> tuple[int, str]:
    """Where a trigger starts reading (the sequence number it starts after), and why."""
    horizon = max(stream.trim_sequence_number - 1, 0)
    if saved is not None and saved.stream_id == stream.stream_id:
        return saved.sequence_number, "from its checkpoint"
    if saved is not None:
        return horizon, "from the trim horizon: the table's stream changed (table recreated?)"
    if starting_position == "LATEST":
        return stream.head_sequence_number, "at LATEST"
    return horizon, "at TRIM_HORIZON"
