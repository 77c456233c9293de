"""Batches and the checkpoint of one trigger: lanes, windows, limits. Pure."""

from __future__ import annotations

import pytest

from triggers.batching import Progress, take, window_left
from triggers.events import Record, sequence_text


def rec(seq: int, *, lane_key: int | None = None, size: int = 100, created: int = 0) -> Record:
    """A record whose key hashes to ``lane_key`` (default: its sequence number)."""
    data = {"dynamodb": {"SequenceNumber": sequence_text(seq)}}
    return Record(
        sequence_number=seq,
        creation_ms=created or seq * 1000,
        size=size,
        key_hash=seq if lane_key is None else lane_key,
        data=data,
        text="{}",
    )


def test_take_respects_batch_size() -> None:
    queue = [rec(i) for i in range(1, 11)]
    assert [r.sequence_number for r in take(queue, 4)] == [1, 2, 3, 4]
    assert len(take(queue, 100)) == 10


def test_take_respects_payload_bytes_but_takes_at_least_one() -> None:
    queue = [rec(1, size=600), rec(2, size=600), rec(3, size=10)]
    assert [r.sequence_number for r in take(queue, 10, max_bytes=1000)] == [1]
    assert [r.sequence_number for r in take([rec(1, size=5000)], 10, max_bytes=1000)] == [1]


@pytest.mark.parametrize(
    ("count", "arrived", "now", "batch_size", "window", "expected"),
    [
        (0, 0.0, 0.0, 10, 5.0, None),  # nothing to send
        (3, 0.0, 0.0, 10, 0.0, 0.0),  # no window: send what is there
        (10, 0.0, 0.0, 10, 5.0, 0.0),  # full batch: send now
        (3, 100.0, 101.0, 10, 5.0, 4.0),  # window running since the first record arrived
        (3, 100.0, 106.0, 10, 5.0, 0.0),  # window over
    ],
)
def test_window(
    count: int, arrived: float, now: float, batch_size: int, window: float, expected: float | None
) -> None:
    queue = [rec(i + 1) for i in range(count)]
    for r in queue:
        r.arrived = arrived
    assert window_left(queue, now, batch_size, window) == expected


def test_window_ends_when_the_payload_is_full() -> None:
    queue = [rec(1, size=700), rec(2, size=700)]
    assert window_left(queue, 0.0, 10, 60.0, max_bytes=1000) == 0.0


def test_lanes_by_key_hash_keep_stream_order() -> None:
    progress = Progress(0, lanes=3)
    for seq, key in [(1, 7), (2, 8), (3, 7), (4, 9), (5, 7)]:
        progress.add(rec(seq, lane_key=key))
    assert [[r.sequence_number for r in lane] for lane in progress.lanes] == [[4], [1, 3, 5], [2]]


def test_checkpoint_waits_for_the_slowest_lane() -> None:
    progress = Progress(10, lanes=2)
    records = [rec(s) for s in range(11, 17)]  # odd sequence numbers in lane 1, even in lane 0
    for r in records:
        progress.add(r)
    progress.scanned(16)
    assert progress.checkpoint == 10
    progress.finish([r for r in records if r.sequence_number % 2])  # lane 1 done: 11, 13, 15
    assert progress.checkpoint == 11  # 12 (lane 0) is not finished
    progress.finish([records[1]])  # 12
    assert progress.checkpoint == 13
    progress.finish([records[3], records[5]])
    assert progress.checkpoint == 16
    assert progress.pending == 0


def test_records_finished_out_of_order_in_a_lane_hold_the_checkpoint() -> None:
    progress = Progress(0, lanes=1)
    records = [rec(s, lane_key=0) for s in (1, 2, 3)]
    for r in records:
        progress.add(r)
    progress.finish([records[1]])  # e.g. too old, sent to the destination first
    assert progress.checkpoint == 0
    assert progress.pending == 3
    progress.finish([records[0]])
    assert progress.checkpoint == 2
    assert [r.sequence_number for r in progress.lanes[0]] == [3]


def test_filtered_records_move_the_checkpoint_when_nothing_is_pending() -> None:
    progress = Progress(5, lanes=2)
    progress.scanned(9, head=12)
    assert progress.checkpoint == 9
    assert not progress.caught_up
    progress.add(rec(11))
    progress.scanned(12, head=12)
    assert progress.checkpoint == 10
    progress.finish(list(progress.lanes[1]))
    assert progress.checkpoint == 12
    assert progress.caught_up


def test_checkpoint_never_goes_back() -> None:
    progress = Progress(0, lanes=2)
    seen = []
    for seq in range(1, 30):
        progress.add(rec(seq))
        progress.scanned(seq)
        if seq % 3 == 0:
            progress.finish([r for lane in progress.lanes for r in list(lane)[:1]])
        seen.append(progress.checkpoint)
    assert seen == sorted(seen)


def test_full_when_too_many_records_or_bytes_are_unfinished() -> None:
    progress = Progress(0, lanes=1, max_records=3, max_bytes=1000)
    progress.add(rec(1, size=10))
    progress.add(rec(2, size=10))
    assert not progress.full
    progress.add(rec(3, size=10))
    assert progress.full
    progress.finish([progress.lanes[0][0]])
    assert not progress.full
    progress.add(rec(4, size=2000))
    assert progress.full


def test_oldest_unfinished_record() -> None:
    progress = Progress(0, lanes=2)
    assert progress.oldest_ms() is None
    progress.add(rec(1, created=5000))
    progress.add(rec(2, created=4000))
    assert progress.oldest_ms() == 4000
