"""Batches and progress of one trigger. Pure: time comes in as arguments.

Records that pass the filters are spread over ``parallelization`` lanes by key hash, so
all records of one item stay in one lane, in stream order. Each lane invokes one batch at
a time: up to ``batch_size`` records and ``MAX_BATCH_BYTES``, after the batching window
(counted from the arrival of the batch's first record) or as soon as the batch is full.

The checkpoint is the highest sequence number below which every record is finished
(processed, or handed to the on-failure destination); records the filters dropped are
finished when read. A lane that runs ahead cannot move the checkpoint past an unfinished
record of another lane, so after a restart nothing is skipped (some records may repeat).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Sequence

from triggers.events import Record

MAX_BATCH_BYTES = 6 * 1024 * 1024  # Lambda's synchronous invocation payload limit
MAX_PENDING_BYTES = 64 * 1024 * 1024
MIN_PENDING_RECORDS = 1000


def take(
    queue: Iterable[Record], batch_size: int, max_bytes: int = MAX_BATCH_BYTES
) -> list[Record]:
    """The first records of a lane that fit one batch (always at least one)."""
    batch: list[Record] = []
    size = 0
    for record in itertools.islice(queue, batch_size):
        if batch and size + record.size > max_bytes:
            break
        batch.append(record)
        size += record.size
    return batch


def window_left(
    queue: Sequence[Record],
    now: float,
    batch_size: int,
    window_s: float,
    max_bytes: int = MAX_BATCH_BYTES,
) -> float | None:
    """Seconds to keep gathering before invoking: 0 to invoke now, None when empty."""
    if not queue:
        return None
    if len(queue) >= batch_size or window_s <= 0:
        return 0.0
    if sum(r.size for r in itertools.islice(queue, batch_size)) >= max_bytes:
        return 0.0
    return max(0.0, queue[0].arrived + window_s - now)


class Progress:
    """Unfinished records per lane and the checkpoint they allow."""

    def __init__(
        self,
        position: int,
        lanes: int = 1,
        max_records: int = MIN_PENDING_RECORDS,
        max_bytes: int = MAX_PENDING_BYTES,
    ) -> None:
        self.read_through = position  # every record up to here was read (or filtered)
        self.head = position  # the stream head last seen
        self.lanes: list[deque[Record]] = [deque() for _ in range(lanes)]
        self.pending = 0
        self.pending_bytes = 0
        self.max_records = max_records
        self.max_bytes = max_bytes

    def lane_of(self, record: Record) -> int:
        return record.key_hash % len(self.lanes)

    def add(self, record: Record) -> int:
        """Queue a record for its lane (records must come in stream order); its lane."""
        lane = self.lane_of(record)
        self.lanes[lane].append(record)
        self.pending += 1
        self.pending_bytes += record.size
        self.read_through = max(self.read_through, record.sequence_number)
        return lane

    def scanned(self, sequence_number: int, head: int | None = None) -> None:
        """Everything up to ``sequence_number`` was read (the filtered records are done)."""
        self.read_through = max(self.read_through, sequence_number)
        if head is not None:
            self.head = max(self.head, head)
        self.head = max(self.head, self.read_through)

    def finish(self, records: Iterable[Record]) -> None:
        """Mark records finished; lanes drop their finished prefix."""
        for record in records:
            record.done = True
        for lane in self.lanes:
            while lane and lane[0].done:
                record = lane.popleft()
                self.pending -= 1
                self.pending_bytes -= record.size

    @property
    def checkpoint(self) -> int:
        heads = [lane[0].sequence_number - 1 for lane in self.lanes if lane]
        return min(heads, default=self.read_through)

    @property
    def full(self) -> bool:
        """True when the reader should wait for lanes to finish records."""
        return self.pending >= self.max_records or self.pending_bytes >= self.max_bytes

    @property
    def caught_up(self) -> bool:
        return self.pending == 0 and self.read_through >= self.head

    def oldest_ms(self) -> int | None:
        """Creation time of the oldest unfinished record, None when there is none."""
        return min((lane[0].creation_ms for lane in self.lanes if lane), default=None)
