"""What happens to a batch: retries, bisect, partial batch failures and age limits.

``deliver`` runs with a fake function and a fake clock; each test lists the batches the
function saw, what succeeded and what went to the on-failure destination.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from meridian.config import FunctionConfig, TriggerConfig
from triggers.delivery import (
    AGE_EXCEEDED,
    RETRIES_EXHAUSTED,
    Outcome,
    Policy,
    Result,
    classify,
    deliver,
    split_expired,
)
from triggers.events import Record, sequence_text

NOW = 1_000_000


def rec(seq: int, created: int = NOW) -> Record:
    return Record(
        sequence_number=seq,
        creation_ms=created,
        size=10,
        key_hash=0,
        data={"dynamodb": {"SequenceNumber": sequence_text(seq)}},
        text="{}",
    )


def batch(*seqs: int) -> list[Record]:
    return [rec(s) for s in seqs]


Behaviour = Callable[[Sequence[Record]], Result]


class Fake:
    """Effects that record everything; the clock moves ``tick`` ms per pause."""

    def __init__(self, behaviour: Behaviour, tick: int = 0) -> None:
        self.behaviour = behaviour
        self.tick = tick
        self.now = NOW
        self.calls: list[list[int]] = []
        self.ok: list[int] = []
        self.dead: list[tuple[list[int], str, int]] = []
        self.pauses: list[int] = []

    async def invoke(self, records: Sequence[Record]) -> Result:
        self.calls.append([r.sequence_number for r in records])
        return self.behaviour(records)

    def succeeded(self, records: Sequence[Record]) -> None:
        self.ok.extend(r.sequence_number for r in records)

    async def dead_letter(
        self, records: Sequence[Record], condition: str, error: str, attempts: int
    ) -> None:
        self.dead.append(([r.sequence_number for r in records], condition, attempts))

    def now_ms(self) -> int:
        return self.now

    async def pause(self, retry: int) -> None:
        self.pauses.append(retry)
        self.now += self.tick


def run(records: list[Record], policy: Policy, behaviour: Behaviour, tick: int = 0) -> Fake:
    fake = Fake(behaviour, tick)
    asyncio.run(deliver(records, policy, fake))
    return fake


def succeed(records: Sequence[Record]) -> Result:
    return Result(True)


def fail_on(*bad: int) -> Behaviour:
    def behaviour(records: Sequence[Record]) -> Result:
        if any(r.sequence_number in bad for r in records):
            return Result(False, error="boom")
        return Result(True)

    return behaviour


def report(*bad: int) -> Behaviour:
    """A function that reports its failed records in batchItemFailures."""

    def behaviour(records: Sequence[Record]) -> Result:
        failures = [{"itemIdentifier": r.identifier} for r in records if r.sequence_number in bad]
        return Result(True, {"batchItemFailures": failures})

    return behaviour


def test_success_finishes_the_batch_in_one_call() -> None:
    fake = run(batch(1, 2, 3), Policy(), succeed)
    assert fake.calls == [[1, 2, 3]]
    assert fake.ok == [1, 2, 3]
    assert fake.dead == []


def test_retries_then_dead_letters_the_whole_batch_without_bisect() -> None:
    fake = run(batch(1, 2, 3), Policy(max_retries=2), fail_on(2))
    assert fake.calls == [[1, 2, 3]] * 3
    assert fake.pauses == [0, 1]
    assert fake.ok == []
    assert fake.dead == [([1, 2, 3], RETRIES_EXHAUSTED, 3)]


def test_zero_retries_gives_up_after_the_first_failure() -> None:
    fake = run(batch(1), Policy(max_retries=0), fail_on(1))
    assert fake.calls == [[1]]
    assert fake.dead == [([1], RETRIES_EXHAUSTED, 1)]


def test_bisect_isolates_the_bad_record_without_using_retries() -> None:
    fake = run(batch(*range(1, 9)), Policy(max_retries=1, bisect_on_error=True), fail_on(5))
    assert fake.calls == [
        [1, 2, 3, 4, 5, 6, 7, 8],
        [1, 2, 3, 4],
        [5, 6, 7, 8],
        [5, 6],
        [5],
        [5],  # the one retry
        [6],
        [7, 8],
    ]
    assert fake.ok == [1, 2, 3, 4, 6, 7, 8]
    assert fake.dead == [([5], RETRIES_EXHAUSTED, 2)]
    assert fake.pauses == [0]


def test_partial_failure_checkpoints_before_the_lowest_failed_record() -> None:
    calls = 0

    def once(records: Sequence[Record]) -> Result:
        nonlocal calls
        calls += 1
        return report(3, 6)(records) if calls == 1 else Result(True)

    fake = run(batch(*range(1, 9)), Policy(report_batch_item_failures=True), once)
    assert fake.calls == [[1, 2, 3, 4, 5, 6, 7, 8], [3, 4, 5, 6, 7, 8]]
    assert fake.ok == [1, 2, 3, 4, 5, 6, 7, 8]
    assert fake.pauses == []  # progress was made: the rest is retried at once


def test_partial_failure_without_bisect_retries_from_the_failed_record() -> None:
    policy = Policy(max_retries=0, report_batch_item_failures=True)
    fake = run(batch(*range(1, 9)), policy, report(3, 6))
    assert fake.calls == [[1, 2, 3, 4, 5, 6, 7, 8], [3, 4, 5, 6, 7, 8]]
    assert fake.ok == [1, 2]
    assert fake.dead == [([3, 4, 5, 6, 7, 8], RETRIES_EXHAUSTED, 1)]


def test_partial_failure_with_bisect_splits_at_the_failed_record() -> None:
    policy = Policy(max_retries=0, bisect_on_error=True, report_batch_item_failures=True)
    fake = run(batch(*range(1, 9)), policy, report(3, 6))
    assert fake.calls == [
        [1, 2, 3, 4, 5, 6, 7, 8],
        [3, 4, 5, 6, 7, 8],
        [3],
        [4, 5, 6, 7, 8],
        [6, 7, 8],
        [6],
        [7, 8],
    ]
    assert fake.ok == [1, 2, 4, 5, 7, 8]
    assert fake.dead == [([3], RETRIES_EXHAUSTED, 1), ([6], RETRIES_EXHAUSTED, 1)]


def test_item_failures_are_ignored_unless_reporting_is_enabled() -> None:
    fake = run(batch(1, 2), Policy(), report(1))
    assert fake.calls == [[1, 2]]
    assert fake.ok == [1, 2]


def test_old_records_leave_the_batch_before_it_is_invoked() -> None:
    records = [rec(1, NOW - 5000), rec(2, NOW - 100), rec(3, NOW)]
    fake = run(records, Policy(max_age_ms=1000), succeed)
    assert fake.dead == [([1], AGE_EXCEEDED, 0)]
    assert fake.calls == [[2, 3]]
    assert fake.ok == [2, 3]


def test_unlimited_retries_stop_when_the_records_are_too_old() -> None:
    fake = run(batch(1, 2), Policy(max_retries=-1, max_age_ms=1000), fail_on(1), tick=400)
    assert fake.calls == [[1, 2]] * 3  # at 0, 400 and 800 ms; at 1200 ms they are too old
    assert fake.dead == [([1, 2], AGE_EXCEEDED, 3)]
    assert fake.ok == []


def test_split_expired_keeps_stream_order() -> None:
    records = [rec(1, NOW - 10), rec(2, NOW - 5000), rec(3, NOW - 20)]
    old, fresh = split_expired(records, NOW, 1000)
    assert [r.sequence_number for r in old] == [2]
    assert [r.sequence_number for r in fresh] == [1, 3]
    assert split_expired(records, NOW, -1) == ([], records)


RESPONSES: list[tuple[str, Any, Outcome]] = [
    ("none", None, Outcome("success")),
    ("empty-object", {}, Outcome("success")),
    ("null-list", {"batchItemFailures": None}, Outcome("success")),
    ("empty-list", {"batchItemFailures": []}, Outcome("success")),
    ("not-an-object", "done", Outcome("success")),
    (
        "lowest-wins",
        {
            "batchItemFailures": [
                {"itemIdentifier": "000000000000000000013"},
                {"itemIdentifier": "12"},
            ]
        },
        Outcome("partial", 1, "the function reported 2 failed record(s)"),
    ),
    (
        "integer-identifier",
        {"batchItemFailures": [{"itemIdentifier": 13}]},
        Outcome("partial", 2, "the function reported 1 failed record(s)"),
    ),
    (
        "empty-identifier",
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        Outcome("failure", 0, 'batchItemFailures[0]: expected {"itemIdentifier": SequenceNumber}'),
    ),
    (
        "null-identifier",
        {"batchItemFailures": [{"itemIdentifier": None}]},
        Outcome("failure", 0, 'batchItemFailures[0]: expected {"itemIdentifier": SequenceNumber}'),
    ),
    (
        "bad-key-name",
        {"batchItemFailures": [{"id": "12"}]},
        Outcome("failure", 0, 'batchItemFailures[0]: expected {"itemIdentifier": SequenceNumber}'),
    ),
    (
        "unknown-record",
        {"batchItemFailures": [{"itemIdentifier": "99"}]},
        Outcome("failure", 0, "batchItemFailures[0]: record 99 is not in the batch"),
    ),
    (
        "not-a-list",
        {"batchItemFailures": "12"},
        Outcome("failure", 0, "batchItemFailures: expected a list"),
    ),
]


@pytest.mark.parametrize(
    ("response", "expected"), [pytest.param(r, o, id=i) for i, r, o in RESPONSES]
)
def test_batch_item_failure_responses(response: Any, expected: Outcome) -> None:
    assert classify(Result(True, response), batch(11, 12, 13), True) == expected


def test_errors_are_failures_whatever_the_reporting() -> None:
    assert classify(Result(False, error="x"), batch(1), True) == Outcome("failure", error="x")
    assert classify(Result(False), batch(1), False).kind == "failure"


def trigger(**knobs: Any) -> TriggerConfig:
    return TriggerConfig(
        name="t",
        table="orders",
        regions=("us",),
        function=FunctionConfig("python", ("m:f",)),
        starting_position="TRIM_HORIZON",
        **knobs,
    )


def test_policy_age_limit_is_the_stricter_of_max_age_and_retention() -> None:
    assert Policy.of(trigger(), 86400).max_age_ms == 86_400_000
    assert Policy.of(trigger(max_record_age_s=60), 86400).max_age_ms == 60_000
    assert Policy.of(trigger(max_record_age_s=7200), 3600).max_age_ms == 3_600_000
    assert Policy.of(trigger()).max_age_ms == -1
    policy = Policy.of(
        trigger(max_retries=3, bisect_on_error=True, report_batch_item_failures=True)
    )
    assert (policy.max_retries, policy.bisect_on_error, policy.report_batch_item_failures) == (
        3,
        True,
        True,
    )
