"""What happens to a batch: invoke, retry, bisect, partial failures, age limits, dead letters.

The decisions are Lambda's for DynamoDB streams (see docs/triggers.md):

- a batch succeeds as a whole, or, with ``report_batch_item_failures``, up to the lowest
  sequence number the function lists in ``batchItemFailures``; the records before it are
  done and the rest is retried (a malformed list fails the whole batch);
- a failed batch of more than one record is split in two halves when ``bisect_on_error``
  is set (splitting uses no retry); a partial failure splits at the failed record;
- otherwise the batch is retried after a backoff until ``max_retries`` retries failed, then
  handed to the on-failure destination (condition ``RetryAttemptsExhausted``);
- before every attempt, records older than the maximum age (``max_record_age``, and in any
  case the table's stream retention) leave the batch for the destination
  (``RecordAgeExceeded``).

The I/O comes in as an ``Effects`` object, so all of this runs in unit tests with fakes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from meridian.config import TriggerConfig
from triggers.events import Record

RETRIES_EXHAUSTED = "RetryAttemptsExhausted"
AGE_EXCEEDED = "RecordAgeExceeded"
RECORDS_TRIMMED = "RecordsTrimmed"


@dataclass(frozen=True, slots=True)
class Policy:
    max_retries: int = -1  # -1: no limit (until the records are too old)
    bisect_on_error: bool = False
    report_batch_item_failures: bool = False
    max_age_ms: int = -1  # -1: no limit

    @classmethod
    def of(cls, trigger: TriggerConfig, retention_s: int | None = None) -> Policy:
        """The trigger's policy; records also expire with the stream's retention."""
        limits = [s for s in (trigger.max_record_age_s, retention_s) if s is not None and s > 0]
        return cls(
            max_retries=trigger.max_retries,
            bisect_on_error=trigger.bisect_on_error,
            report_batch_item_failures=trigger.report_batch_item_failures,
            max_age_ms=min(limits) * 1000 if limits else -1,
        )


@dataclass(frozen=True, slots=True)
class Result:
    """What one invocation returned: ``ok`` with the function's response, or an error."""

    ok: bool
    response: Any = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str  # "success", "partial" (records before ``index`` succeeded) or "failure"
    index: int = 0
    error: str = ""


SUCCESS = Outcome("success")


class Effects(Protocol):
    async def invoke(self, batch: Sequence[Record]) -> Result: ...

    def succeeded(self, batch: Sequence[Record]) -> None: ...

    async def dead_letter(
        self, batch: Sequence[Record], condition: str, error: str, attempts: int
    ) -> None: ...

    def now_ms(self) -> int: ...

    async def pause(self, retry: int) -> None: ...


def _identifier_index(batch: Sequence[Record]) -> dict[int, int]:
    return {r.sequence_number: i for i, r in enumerate(batch)}


def _parse_identifier(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and int(value) > 0:
        return int(value)
    return None


def classify(result: Result, batch: Sequence[Record], report_item_failures: bool) -> Outcome:
    """Success, partial failure (at the lowest listed record) or failure of an invocation."""
    if not result.ok:
        return Outcome("failure", error=result.error or "the function failed")
    if not report_item_failures or not isinstance(result.response, dict):
        return SUCCESS
    failures = result.response.get("batchItemFailures")
    if failures is None or failures == []:
        return SUCCESS
    if not isinstance(failures, list):
        return Outcome("failure", error="batchItemFailures: expected a list")
    positions = _identifier_index(batch)
    lowest = len(batch)
    for i, entry in enumerate(failures):
        raw = entry.get("itemIdentifier") if isinstance(entry, dict) else None
        number = _parse_identifier(raw)
        if number is None:
            return Outcome(
                "failure",
                error=f'batchItemFailures[{i}]: expected {{"itemIdentifier": SequenceNumber}}',
            )
        if number not in positions:
            return Outcome(
                "failure", error=f"batchItemFailures[{i}]: record {raw} is not in the batch"
            )
        lowest = min(lowest, positions[number])
    return Outcome(
        "partial", index=lowest, error=f"the function reported {len(failures)} failed record(s)"
    )


def split_expired(
    batch: Sequence[Record], now_ms: int, max_age_ms: int
) -> tuple[list[Record], list[Record]]:
    """(records older than the maximum age, the others), each in stream order."""
    if max_age_ms < 0:
        return [], list(batch)
    old = [r for r in batch if now_ms - r.creation_ms > max_age_ms]
    if not old:
        return [], list(batch)
    return old, [r for r in batch if now_ms - r.creation_ms <= max_age_ms]


def halves(batch: Sequence[Record]) -> tuple[list[Record], list[Record]]:
    middle = len(batch) // 2
    return list(batch[:middle]), list(batch[middle:])


def retries_left(policy: Policy, retries: int) -> bool:
    return policy.max_retries < 0 or retries < policy.max_retries


async def deliver(batch: Sequence[Record], policy: Policy, effects: Effects) -> None:
    """Process one batch to the end: every record succeeds or goes to the destination.

    Sub-batches are worked on in stream order; each carries the number of retries it has
    used. Returns only when every record of ``batch`` is finished (or raises CancelledError).
    """
    work: deque[tuple[list[Record], int]] = deque([(list(batch), 0)])
    while work:
        records, retries = work.popleft()
        old, records = split_expired(records, effects.now_ms(), policy.max_age_ms)
        if old:
            await effects.dead_letter(
                old, AGE_EXCEEDED, "older than the maximum record age", retries
            )
        if not records:
            continue
        outcome = classify(
            await effects.invoke(records), records, policy.report_batch_item_failures
        )
        if outcome.kind == "success":
            effects.succeeded(records)
            continue
        if outcome.kind == "partial" and outcome.index > 0:
            effects.succeeded(records[: outcome.index])
            work.appendleft((records[outcome.index :], retries))
            continue
        # The whole of ``records`` failed (a partial failure at its first record included).
        if policy.bisect_on_error and len(records) > 1:
            first, second = (
                ([records[0]], records[1:]) if outcome.kind == "partial" else halves(records)
            )
            work.appendleft((second, retries))
            work.appendleft((first, retries))
            continue
        if retries_left(policy, retries):
            await effects.pause(retries)
            work.appendleft((records, retries + 1))
            continue
        await effects.dead_letter(records, RETRIES_EXHAUSTED, outcome.error, retries + 1)
