"""A trigger's lanes: each invokes batches of its records one at a time (`delivery`), after
the batching window, and reports what succeeded and what it gave up on."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence

from meridian.config import TriggerConfig
from meridian.daemon import backoff
from triggers import events
from triggers.batching import Progress, take, window_left
from triggers.delivery import Policy, Result, deliver
from triggers.events import Record
from triggers.failures import FailureSink
from triggers.invoke import Invoker
from triggers.metrics import TriggerMetrics

log = logging.getLogger(__name__)


class LaneEffects:
    """What ``deliver`` does to the world, for one lane of one trigger."""

    def __init__(
        self,
        trigger: TriggerConfig,
        labels: tuple[str, str],
        invoker: Invoker,
        metrics: TriggerMetrics,
        failures: FailureSink,
        clock: Callable[[], int],
    ) -> None:
        self.trigger = trigger
        self.invoker = invoker
        self.failures = failures
        self.clock = clock
        self.invocations = metrics.invocations.labels(*labels)
        self.errors = metrics.errors.labels(*labels)
        self.duration = metrics.duration.labels(*labels)
        self.processed = metrics.records.labels(*labels, "processed")
        self.timeout_s = trigger.timeout_ms / 1000

    async def invoke(self, batch: Sequence[Record]) -> Result:
        started = time.monotonic()
        result = await self.invoker.invoke(events.payload(batch), self.timeout_s)
        self.duration.observe(time.monotonic() - started)
        self.invocations.inc()
        failed_items = (
            result.ok
            and self.trigger.report_batch_item_failures
            and isinstance(result.response, dict)
            and bool(result.response.get("batchItemFailures"))
        )
        if not result.ok or failed_items:
            self.errors.inc()
        if not result.ok:
            log.warning(
                "trigger %s: batch of %d records (%d to %d) failed: %s",
                self.trigger.name,
                len(batch),
                batch[0].sequence_number,
                batch[-1].sequence_number,
                result.error,
            )
        return result

    def succeeded(self, batch: Sequence[Record]) -> None:
        self.processed.inc(len(batch))
        self.failures.finished(batch)

    async def dead_letter(
        self, batch: Sequence[Record], condition: str, error: str, attempts: int
    ) -> None:
        await self.failures.dead_letter(batch, condition, error, attempts)

    def now_ms(self) -> int:
        return self.clock()

    async def pause(self, retry: int) -> None:
        await asyncio.sleep(backoff.delay(retry, base=0.2, cap=30.0))


async def run_lane(
    index: int,
    trigger: TriggerConfig,
    policy: Policy,
    progress: Progress,
    wakeups: tuple[asyncio.Event, asyncio.Event],  # this lane's records, room in the reader
    effects: LaneEffects,
) -> None:
    """Invoke the lane's batches until cancelled."""
    queue = progress.lanes[index]
    wakeup, room = wakeups
    window_s = trigger.batching_window_ms / 1000
    while True:
        left = window_left(queue, time.monotonic(), trigger.batch_size, window_s)
        if left is None or left > 0:
            wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wakeup.wait(), left)
            continue
        batch = take(queue, trigger.batch_size)
        await deliver(batch, policy, effects)
        if not progress.full:
            room.set()
