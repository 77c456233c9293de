"""Peers pulling from one replicator share its node subscription per table
(`replicator/feeds.py`), and each still gets exactly what a subscription of its own would
give it: the same records in order from its own position, its own back-pressure (a peer that
reads slowly holds back nobody else and misses nothing), and the same error when the table
goes. Real nodes on loopback ports; the pulls are `serve_pull` as the replicator's Pull runs
it."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import AsyncIterator

import grpc
import pytest

from meridian.model.items import from_plain
from meridian.pb import node_pb2 as pb
from meridian.pb import replicator_pb2 as rpb
from replicator.feeds import Feeds
from replicator.identity import local_identity
from replicator.source import QUEUE_BATCHES, serve_pull
from tests.harness import eventually, load_doc
from tests.harness.inprocess import Region, running_group
from tests.integration.group import group_yaml

WAIT_S = 10.0


@pytest.fixture
def config(tmp_path: pathlib.Path):
    return load_doc(group_yaml(tmp_path, ["us", "eu"]), tmp_path / "group.yaml")


async def _pull(
    us: Region, after: int, feeds: Feeds | None, max_batch: int = 0
) -> AsyncIterator[rpb.PullBatch]:
    me = await local_identity(us.peer)
    req = rpb.PullRequest(
        hello=rpb.HandshakeRequest(region="eu"),
        positions=[rpb.TablePosition(table="orders", after_sequence_number=after)],
        max_batch=max_batch,
        heartbeat_seconds=0.05,
    )
    async for batch in serve_pull(us.peer, "us", me, req, feeds):
        yield batch


class Reader:
    """Reads one pull in a task; `records` are the sequence numbers received, in order."""

    def __init__(self, pull: AsyncIterator[rpb.PullBatch]) -> None:
        self.pull = pull
        self.records: list[int] = []
        self.scanned = 0
        self.reading = asyncio.Event()
        self.reading.set()
        self.started = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for batch in self.pull:
            self.started.set()
            await self.reading.wait()
            for raw in batch.records:
                self.records.append(pb.StreamRecordHead.FromString(raw).sequence_number)
            self.scanned = batch.scanned_through

    async def has(self, count: int) -> bool:
        if self.task.done():
            self.task.result()  # raises what ended the pull
        return len(self.records) >= count

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.pull.aclose()  # type: ignore[attr-defined]


async def _put(us: Region, count: int, first: int = 0) -> None:
    for n in range(first, first + count):
        item = from_plain({"pk": f"k{n}", "sk": n})
        await us.stub.PutItem(pb.PutItemRequest(table="orders", item=item))


def test_pulls_share_one_subscription_and_get_what_their_own_would(config) -> None:
    async def scenario() -> None:
        async with running_group(config, replicate=False) as g:
            us = g["us"]
            feeds = Feeds(us.peer, "us")
            shared = [Reader(_pull(us, 0, feeds)) for _ in range(2)]
            alone = Reader(_pull(us, 0, None))
            await asyncio.gather(*(r.started.wait() for r in [*shared, alone]))  # heartbeats
            assert feeds.count() == 1  # both pulls on one node subscription
            await _put(us, 10)
            for reader in [*shared, alone]:
                await eventually(lambda r=reader: r.has(10), WAIT_S, "10 records")
            assert shared[0].records == shared[1].records == alone.records == list(range(1, 11))
            # a peer asking for another position than the feed's subscribes on its own
            later = Reader(_pull(us, 4, feeds))
            await eventually(lambda: later.has(6), WAIT_S, "records after 4")
            assert later.records == list(range(5, 11))
            await _put(us, 5, first=10)
            for reader, count in ((shared[0], 15), (shared[1], 15), (alone, 15), (later, 11)):
                await eventually(lambda r=reader, n=count: r.has(n), WAIT_S, f"{count} records")
            assert shared[0].records == shared[1].records == alone.records == list(range(1, 16))
            assert later.records == list(range(5, 16))
            assert feeds.pulls() == 3  # the later pull joined the feed once it caught up
            assert feeds.count() == 1
            for reader in [*shared, alone, later]:
                await reader.close()
            assert feeds.count() == 0  # the feed ended with its last pull
            await feeds.close()

    asyncio.run(scenario())


def test_a_slow_peer_goes_on_alone_and_misses_nothing(config) -> None:
    async def scenario() -> None:
        async with running_group(config, replicate=False) as g:
            us = g["us"]
            feeds = Feeds(us.peer, "us")
            fast, slow = (Reader(_pull(us, 0, feeds, max_batch=1)) for _ in range(2))
            await asyncio.gather(fast.started.wait(), slow.started.wait())
            slow.reading.clear()  # its peer stops reading: its queue fills
            records = 4 * QUEUE_BATCHES
            await _put(us, records)
            await eventually(lambda: fast.has(records), WAIT_S, "the fast peer's records")
            assert fast.records == list(range(1, records + 1))
            assert slow.records == []
            slow.reading.set()
            await eventually(lambda: slow.has(records), WAIT_S, "the slow peer's records")
            more = await _until_shared(us, feeds, records)  # it joins again once caught up
            for reader in (fast, slow):
                await eventually(lambda r=reader: r.has(more), WAIT_S, "the rest")
                assert reader.records == list(range(1, more + 1))  # no gap, no repeat
            for reader in (fast, slow):
                await reader.close()
            await feeds.close()

    asyncio.run(scenario())


async def _until_shared(us: Region, feeds: Feeds, written: int) -> int:
    """Write one record at a time until both pulls read through the feed again (a pull on
    its own rejoins when a batch brings it to the feed's position); the records written."""
    for _ in range(50):
        if feeds.pulls() == 2:
            return written
        await _put(us, 1, first=written)
        written += 1
        await asyncio.sleep(0.05)
    raise AssertionError(f"the slow peer did not join the feed again: {feeds.pulls()} pulls")


def test_a_deleted_table_ends_every_pull_as_it_ends_one_alone(config) -> None:
    async def scenario() -> None:
        async with running_group(config, replicate=False) as g:
            us = g["us"]
            feeds = Feeds(us.peer, "us")
            readers = [Reader(_pull(us, 0, f)) for f in (feeds, feeds, None)]
            await asyncio.gather(*(r.started.wait() for r in readers))
            await _put(us, 2)
            for reader in readers:
                await eventually(lambda r=reader: r.has(2), WAIT_S, "2 records")
            await us.peer.DeleteTable(pb.DeleteTableRequest(table="orders"))
            codes = []
            for reader in readers:
                with pytest.raises(grpc.aio.AioRpcError) as ended:
                    await asyncio.wait_for(reader.task, WAIT_S)
                codes.append(ended.value.code())
            assert codes == [grpc.StatusCode.NOT_FOUND] * 3
            assert feeds.count() == 0
            for reader in readers:
                await reader.close()
            await feeds.close()

    asyncio.run(scenario())
