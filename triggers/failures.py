"""Records a trigger gives up on: handed to the on-failure destination (retried until it
takes them, since the checkpoint must not pass records that went nowhere), counted, then
finished like records that succeeded."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import grpc

from meridian.daemon import backoff
from triggers import deadletter
from triggers.events import Record
from triggers.metrics import TriggerMetrics

log = logging.getLogger(__name__)


class FailureSink:
    """One trigger's on-failure destination, with the counts its checkpoint keeps."""

    def __init__(
        self,
        labels: tuple[str, str],  # region, trigger
        table: str,
        destination: deadletter.Destination | None,
        metrics: TriggerMetrics,
        clock: Callable[[], int],
        finished: Callable[[Sequence[Record]], None],
    ) -> None:
        self.region, self.trigger = labels
        self.table = table
        self.destination = destination
        self.counter = metrics.dead_letters.labels(*labels)
        self.clock = clock
        self.finished = finished
        self.dead_letters = 0  # records sent to the destination, over every run
        self.trimmed = 0  # records the stream's retention removed before they were read

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
            trigger=self.trigger,
            region=self.region,
            table=self.table,
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
                self.trigger,
                batch["size"],
                batch["first_sequence_number"],
                batch["last_sequence_number"],
                condition,
                error,
            )
        else:
            await self._send(entry)
        if records:
            self.dead_letters += len(records)
            self.counter.inc(len(records))
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
                    self.trigger,
                    exc,
                )
                await asyncio.sleep(backoff.delay(attempt, base=0.2, cap=10.0))
                attempt += 1
        log.warning(
            "trigger %s: %d records (%s to %s) sent to the on-failure destination: %s: %s",
            self.trigger,
            batch["size"],
            batch["first_sequence_number"],
            batch["last_sequence_number"],
            entry["condition"],
            entry["error"],
        )
