"""A link keeps two batches in flight to its node: the second is written before the first
result is back, each names the checkpoint the one before it brings (after_checkpoint), and
results are taken in order. (A fake node; the real one is in
tests/integration/test_apply_stream.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from prometheus_client import CollectorRegistry

from meridian.pb import node_pb2 as pb
from meridian.pb import replicator_pb2 as rpb
from replicator.link import APPLY_AHEAD, ClockRejected, Link, LinkSettings, OutOfStep
from replicator.metrics import ReplicatorMetrics
from replicator.pins import Pins


class FakeNode:
    """The link's applier: answers nothing until `release` is set, then in order."""

    def __init__(self, answers: list[pb.ApplyReplicatedResponse]) -> None:
        self.answers = answers
        self.sent: list[pb.ApplyReplicatedRequest] = []
        self.answered = 0
        self.in_flight_max = 0
        self.release = asyncio.Event()

    async def send(self, request: pb.ApplyReplicatedRequest) -> None:
        self.sent.append(request)
        self.in_flight_max = max(self.in_flight_max, len(self.sent) - self.answered)

    async def receive(self) -> pb.ApplyReplicatedResponse:
        await self.release.wait()
        self.answered += 1
        return self.answers[self.answered - 1]

    def close(self) -> None:
        pass


def link(node: FakeNode) -> Link:
    target = Link(
        peer="eu",
        address="127.0.0.1:1",
        node=None,  # type: ignore[arg-type]
        region="us",
        members=["us", "eu"],
        settings=LinkSettings(),
        metrics=ReplicatorMetrics(CollectorRegistry()),
        pins=Pins(None, "us"),  # type: ignore[arg-type]
        dialer=None,  # type: ignore[arg-type]
    )
    target._applier = node  # type: ignore[assignment]
    target._positions = {"t": 10}
    return target


def batch(*seqs: int) -> rpb.PullBatch:
    return rpb.PullBatch(
        table="t",
        records=[pb.StreamRecord(sequence_number=s).SerializeToString() for s in seqs],
        scanned_through=max(seqs),
        head_sequence_number=20,
    )


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():
            await asyncio.sleep(0.001)


async def stream(target: Link, node: FakeNode, *batches: rpb.PullBatch) -> None:
    """Batches arrive one at a time (none merged); no result is back until all arrived."""
    queue: asyncio.Queue = asyncio.Queue()
    running = asyncio.ensure_future(target._stream(queue))
    try:
        for count, item in enumerate(batches[:APPLY_AHEAD], start=1):
            queue.put_nowait(item)
            await until(lambda count=count: len(node.sent) == count)  # type: ignore[misc]
        for item in batches[APPLY_AHEAD:]:
            queue.put_nowait(item)  # waits for a free slot
        node.release.set()
        await until(lambda: len(node.sent) == len(batches) or running.done())
        queue.put_nowait(None)
        await asyncio.wait_for(running, 5)
    finally:
        running.cancel()


def test_two_batches_in_flight_each_after_the_checkpoint_of_the_one_before() -> None:
    node = FakeNode([pb.ApplyReplicatedResponse(checkpoint=c) for c in (12, 14, 15)])
    target = link(node)

    async def scenario() -> None:
        await stream(target, node, batch(11, 12), batch(13, 14), batch(15))

    asyncio.run(scenario())
    assert [r.after_checkpoint for r in node.sent] == [10, 12, 14]
    assert [r.source_sequence for r in node.sent] == [12, 14, 15]
    assert node.in_flight_max == 2
    assert target._positions["t"] == 15


@pytest.mark.parametrize(
    ("second", "error"),
    [
        (pb.ApplyReplicatedResponse(checkpoint=12, skipped=True), OutOfStep),
        (pb.ApplyReplicatedResponse(checkpoint=11, clock_rejected=1), ClockRejected),
    ],
)
def test_a_batch_not_applied_ends_the_stream(
    second: pb.ApplyReplicatedResponse, error: type[Exception]
) -> None:
    node = FakeNode([pb.ApplyReplicatedResponse(checkpoint=12), second])
    target = link(node)

    async def scenario() -> None:
        await stream(target, node, batch(11, 12), batch(13, 14), batch(15))

    with pytest.raises(error):
        asyncio.run(scenario())
    assert target._positions["t"] < 14
