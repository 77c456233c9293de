"""The pull-stream plumbing of a link: merging queued batches, and silence detection."""

from __future__ import annotations

import asyncio

import pytest

from meridian.pb import node_pb2 as pb
from meridian.pb import replicator_pb2 as rpb
from replicator.link import Silent, _merged, head, idle_timeout


@pytest.mark.parametrize(("heartbeat", "timeout"), [(0.1, 2.0), (1.0, 3.0), (5.0, 15.0)])
def test_idle_timeout_allows_a_few_missed_heartbeats(heartbeat: float, timeout: float) -> None:
    assert idle_timeout(heartbeat) == timeout


def batch(table: str, *seqs: int) -> rpb.PullBatch:
    return rpb.PullBatch(
        table=table,
        records=[pb.StreamRecord(sequence_number=s).SerializeToString() for s in seqs],
        scanned_through=max(seqs, default=0),
    )


def test_queued_batches_of_a_table_merge_up_to_the_limit_and_keep_order() -> None:
    async def scenario() -> list[tuple[str, list[int], int]]:
        queue: asyncio.Queue = asyncio.Queue()
        for item in (batch("a", 1, 2), batch("a", 3), batch("b", 4), batch("a", 5, 6, 7), None):
            queue.put_nowait(item)
        return [
            (b.table, [head(r).sequence_number for r in b.records], b.scanned_through)
            async for b in _merged(queue, limit=3, idle_s=1)
        ]

    assert asyncio.run(scenario()) == [
        ("a", [1, 2, 3], 3),
        ("b", [4], 4),
        ("a", [5, 6, 7], 7),
    ]


def test_the_end_of_the_stream_after_a_merged_batch_ends_at_once() -> None:
    """Not after the idle deadline: the end was read while merging."""

    async def scenario() -> list[list[int]]:
        queue: asyncio.Queue = asyncio.Queue()
        for item in (batch("a", 1), batch("a", 2), None):
            queue.put_nowait(item)
        return [[head(r).sequence_number for r in b.records] async for b in _merged(queue, 10, 60)]

    assert asyncio.run(asyncio.wait_for(scenario(), 5)) == [[1, 2]]


def test_silence_raises_instead_of_waiting_forever() -> None:
    async def scenario() -> None:
        queue: asyncio.Queue = asyncio.Queue()
        async for _ in _merged(queue, limit=10, idle_s=0.05):
            pass

    with pytest.raises(Silent, match="no batch or heartbeat"):
        asyncio.run(scenario())


def test_stream_errors_surface() -> None:
    async def scenario() -> None:
        queue: asyncio.Queue = asyncio.Queue()
        queue.put_nowait(batch("a", 1))
        queue.put_nowait(RuntimeError("peer went away"))
        async for _ in _merged(queue, limit=10, idle_s=1):
            pass

    with pytest.raises(RuntimeError, match="peer went away"):
        asyncio.run(scenario())
