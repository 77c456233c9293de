"""The writer's invariants with lone commits (`Writer.submit_now`) mixed with batches of its
task and of its commit thread, on real RocksDB with fsync: commits never overlap, a write
reads every earlier acknowledged one (conditional puts, counters, overwrites racing),
stream readers are woken only for records already written, sequence numbers have no gap or
duplicate and their versions (HLC) grow with them; a failed RocksDB write on a lone commit
changes nothing and leaves the writer working; a caller cancelled while queued leaves its
write whole or absent; a crashed writer refuses lone writes; a shutdown amid lone writes
keeps every acknowledged one; a write never commits alone ahead of queued ones."""

from __future__ import annotations

import asyncio
import pathlib
import random
import threading
from typing import Any

import pytest

from meridian.expressions import compile_request
from meridian.pb import node_pb2 as pb
from meridian.wire.errors import ConditionFailed
from regionnode.item_ops import WriteOptions, key_schema, put_target
from regionnode.local_writes import PutOp
from regionnode.store import Store
from tests.integration.test_lone_commit import Bug, BuggyOp, Node, _if_missing, _item

KEYS = 4


class Watched:
    """`store.write` counting overlapping calls (any thread), slowed in the commit thread so
    that the loop runs meanwhile."""

    def __init__(self, node: Node, slow_s: float) -> None:
        self.write, self.slow_s = node.store.write, slow_s
        self.lock, self.in_flight, self.overlaps, self.in_thread, self.inline = (
            threading.Lock(),
            0,
            0,
            0,
            0,
        )
        node.store.write = self  # type: ignore[method-assign]

    def __call__(self, batch: Any) -> None:
        with self.lock:
            self.in_flight += 1
            self.overlaps += self.in_flight > 1
        try:
            if threading.current_thread() is threading.main_thread():
                self.inline += 1
            else:
                self.in_thread += 1
                threading.Event().wait(self.slow_s)
            self.write(batch)
        finally:
            with self.lock:
                self.in_flight -= 1


def _counter(table: Any) -> WriteOptions:
    one = pb.AttributeValue(n="1")
    expressions = compile_request(
        "UpdateItem", update="ADD c :one", values={":one": one}, schema=key_schema(table)
    )
    return WriteOptions(expressions)


async def _client(
    node: Node, rng: random.Random, calls: int, won: list[int], tried: set[int]
) -> int:
    """Counter increments, conditional puts of fresh keys and overwrites of other
    attributes, with pauses that let the writer go idle (lone commits) or not (batches);
    how many increments were acknowledged."""
    increments = 0
    for n in range(calls):
        kind = rng.random()
        if kind < 0.5:
            await node.items.update_item(
                node.table, _item(rng.randrange(KEYS)), _counter(node.table)
            )
            increments += 1
        elif kind < 0.8:
            fresh = _item(1000 + n % 50, f"{id(rng)}")
            tried.add(1000 + n % 50)
            try:
                await node.items.put_item(node.table, fresh, _if_missing(node.table))
                won.append(1000 + n % 50)
            except ConditionFailed:
                pass
        else:
            await node.items.put_item(node.table, _item(2000 + rng.randrange(KEYS)), WriteOptions())
        await asyncio.sleep(rng.choice([0, 0, 0.0015, 0.003]))
    return increments


def test_lone_commits_and_batches_keep_the_writers_invariants(tmp_path: pathlib.Path) -> None:
    async def main() -> None:
        node = Node(tmp_path, sync=True)
        watched = Watched(node, slow_s=0.003)
        seen: list[tuple[int, int]] = []  # (table head, records readable) at each wake-up

        def woken(origins: dict[str, set[str]]) -> None:
            head = node.table.head
            seen.append((head, len(node.store.read_stream("orders", 0, head + 10))))

        node.writer._on_commit = woken
        task = asyncio.create_task(node.writer.run())
        won: list[int] = []
        tried: set[int] = set()
        try:
            clients = [_client(node, random.Random(seed), 60, won, tried) for seed in range(6)]
            increments = sum(await asyncio.wait_for(asyncio.gather(*clients), 120))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        try:
            assert watched.overlaps == 0
            assert watched.inline > 0 and watched.in_thread > 0, vars(watched)  # both ran
            assert sorted(won) == sorted(tried)  # one winner per key tried
            total = 0
            for k in range(KEYS):
                stored = node.store.get_item(node.table.schema.encode(_item(k)))
                total += int(stored.item.attributes["c"].n) if stored is not None else 0
            assert total == increments  # no increment lost to a racing commit
            records = [
                pb.StreamRecord.FromString(raw)
                for raw in node.store.read_stream("orders", 0, 10_000)
            ]
            numbers = [record.sequence_number for record in records]
            assert numbers == list(range(1, len(records) + 1)) and numbers[-1] == node.table.head
            versions = [record.version.hlc for record in records]
            assert versions == sorted(versions) and len(set(versions)) == len(versions)
            assert all(readable >= head for head, readable in seen), seen
        finally:
            node.store.close()

    asyncio.run(main())


class Failing:
    """`store.write` failing once, as RocksDB does on an I/O error."""

    def __init__(self, node: Node) -> None:
        self.write, self.failures = node.store.write, 0
        node.store.write = self  # type: ignore[method-assign]

    def __call__(self, batch: Any) -> None:
        if self.failures == 0:
            self.failures += 1
            raise OSError("IO error: No space left on device")
        self.write(batch)


@pytest.mark.parametrize("sync", [False, True])
def test_a_failed_lone_commit_changes_nothing_and_the_writer_goes_on(
    tmp_path: pathlib.Path, sync: bool
) -> None:
    async def main() -> None:
        node = Node(tmp_path, sync=sync)
        task = asyncio.create_task(node.writer.run())
        await asyncio.sleep(0.01)  # the writer idle: a synced commit stays inline
        await node.items.put_item(node.table, _item(1, "first"), WriteOptions())
        failing = Failing(node)
        await asyncio.sleep(0.01)
        woken = len(node.woken)
        try:
            with pytest.raises(OSError):
                await node.items.put_item(node.table, _item(2, "lost"), WriteOptions())
            assert failing.failures == 1 and node.writer.batch_sizes[1] == 2
            assert node.store.get_item(node.table.schema.encode(_item(2))) is None
            # Its sequence number given back, and no stream reader woken for it.
            assert node.table.head == 1 and len(node.store.read_stream("orders", 0, 9)) == 1
            assert len(node.woken) == woken
            await asyncio.sleep(0.01)
            await node.items.put_item(node.table, _item(3, "lone"), WriteOptions())
            queued = node.writer.submit(_put_op(node, _item(4, "queued")))
            await asyncio.wait_for(queued, 10)  # the writer's task still commits
            records = [
                pb.StreamRecord.FromString(r) for r in node.store.read_stream("orders", 0, 9)
            ]
            assert [r.sequence_number for r in records] == [1, 2, 3]
            assert [r.new_image for r in records] == [
                _item(1, "first"),
                _item(3, "lone"),
                _item(4, "queued"),
            ]
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            node.store.close()

    asyncio.run(main())


def _put_op(node: Node, item: pb.Item) -> Any:
    target, raw = put_target(node.table, item)
    return PutOp(target, item, raw=raw)


def test_a_caller_cancelled_while_queued_leaves_its_write_whole_or_absent(
    tmp_path: pathlib.Path,
) -> None:
    async def main() -> None:
        node = Node(tmp_path, sync=True)
        Watched(node, slow_s=0.05)
        task = asyncio.create_task(node.writer.run())
        try:
            batch = [node.writer.enqueue(_put_op(node, _item(n, "batch"))) for n in range(3)]
            await asyncio.sleep(0.01)  # the batch is in the commit thread
            caller = asyncio.create_task(
                node.items.update_item(node.table, _item(0), _counter(node.table))
            )
            await asyncio.sleep(0.005)
            caller.cancel()  # the client went away while its write waited
            await asyncio.gather(*batch)
            with pytest.raises(asyncio.CancelledError):
                await caller
            await asyncio.sleep(0.01)
            await asyncio.wait_for(
                node.items.update_item(node.table, _item(0), _counter(node.table)), 10
            )
            stored = node.store.get_item(node.table.schema.encode(_item(0)))
            assert stored is not None
            count = int(stored.item.attributes["c"].n)
            records = node.store.read_stream("orders", 0, 99)
            # The cancelled increment committed whole (item and record) or not at all.
            assert (count, len(records)) in [(1, 4), (2, 5)], (count, len(records))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            node.store.close()

    asyncio.run(main())


def test_a_writer_crashed_in_its_task_refuses_lone_writes(tmp_path: pathlib.Path) -> None:
    async def main() -> None:
        node = Node(tmp_path)
        task = asyncio.create_task(node.writer.run())
        crashed = node.writer.enqueue(BuggyOp())
        with pytest.raises(Bug):
            await asyncio.wait_for(task, 5)
        with pytest.raises(ConnectionAbortedError):
            await crashed
        with pytest.raises(ConnectionAbortedError):
            await node.items.put_item(node.table, _item(1, "later"), WriteOptions())
        assert node.store.get_item(node.table.schema.encode(_item(1))) is None
        node.store.close()

    asyncio.run(main())


def test_shutdown_amid_lone_writes_keeps_every_acknowledged_one(tmp_path: pathlib.Path) -> None:
    """The writer's task cancelled, then the store closed (the node's stop), while clients
    keep writing: each acknowledged write is stored, and every write is stored whole or not
    at all; none after the close."""

    async def main() -> list[int]:
        node = Node(tmp_path, sync=True)
        task = asyncio.create_task(node.writer.run())
        acked: list[int] = []

        async def client(first: int) -> None:
            for n in range(first, first + 1000):
                try:
                    await node.items.put_item(node.table, _item(n, "acked"), WriteOptions())
                except ConnectionAbortedError:
                    return
                acked.append(n)
                await asyncio.sleep(0.002 if n % 2 else 0)

        clients = [asyncio.create_task(client(k * 1000)) for k in range(3)]
        await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        node.store.close()  # as Node.stop: right after the writer's task ended
        await asyncio.wait_for(asyncio.gather(*clients), 10)
        return acked

    acked = asyncio.run(main())
    assert acked
    store = Store(tmp_path, sync=True)
    try:
        table = store.tables["orders"]
        for n in acked:
            stored = store.get_item(table.schema.encode(_item(n)))
            assert stored is not None and stored.item == _item(n, "acked"), n
        # A write refused at shutdown may have committed (its batch was in the commit thread
        # when the task was cancelled), but whole: its item with its record.
        records = [pb.StreamRecord.FromString(r) for r in store.read_stream("orders", 0, 10_000)]
        assert len(records) >= len(acked)
        for record in records:
            stored = store.get_item(table.schema.encode(record.new_image))
            assert stored is not None and stored.item == record.new_image
    finally:
        store.close()


def test_a_write_after_queued_ones_commits_after_them(tmp_path: pathlib.Path) -> None:
    """Writes commit in the order submitted: a write that finds others queued (the writer's
    task not yet woken) does not commit alone ahead of them."""

    async def main() -> None:
        node = Node(tmp_path)
        task = asyncio.create_task(node.writer.run())
        try:
            await asyncio.sleep(0)  # the writer's task waits for work
            queued = node.writer.enqueue(_put_op(node, _item(1, "first")))
            await node.items.put_item(node.table, _item(1, "second"), WriteOptions())
            await queued
            stored = node.store.get_item(node.table.schema.encode(_item(1)))
            assert stored is not None and stored.item == _item(1, "second")
            records = [
                pb.StreamRecord.FromString(r) for r in node.store.read_stream("orders", 0, 9)
            ]
            assert [r.new_image for r in records] == [_item(1, "first"), _item(1, "second")]
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            node.store.close()

    asyncio.run(main())
