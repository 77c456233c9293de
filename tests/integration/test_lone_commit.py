"""A lone client write on an idle writer commits on its caller's turn (`Writer.submit_now`),
on real RocksDB: it leaves what the writer's task leaves for the same writes (items, stream
records, commit counts, wake-ups), a refusal reaches its caller alone, a write arriving while
the writer is busy queues behind the batch in progress, a closed writer refuses, a bug is the
writer's crash (reported by its task), and an acknowledged lone write survives the process
being killed."""

from __future__ import annotations

import asyncio
import os
import pathlib
import signal
import subprocess
import sys
import textwrap

import pytest

from meridian.expressions import compile_request
from meridian.model import hlc, schema
from meridian.pb import node_pb2 as pb
from meridian.wire.errors import ConditionFailed
from regionnode import writer as writer_module
from regionnode.item_ops import ItemOps, WriteOptions, key_schema, put_target
from regionnode.local_writes import PutOp
from regionnode.store import Store, Table
from regionnode.writer import INLINE_IDLE_S, Writer

SPEC = pb.TableSpec(
    name="orders",
    partition_key=pb.KeyAttribute(name="pk", type=pb.KEY_TYPE_S),
    view_type=pb.NEW_AND_OLD_IMAGES,
)
REPO = pathlib.Path(__file__).resolve().parents[2]


def _store(path: pathlib.Path, sync: bool = False) -> Store:
    store = Store(path, sync=sync)
    desc = pb.TableDescription(spec=SPEC, schema_fingerprint=schema.fingerprint(SPEC))
    store.put_table(Table(schema.Schema(SPEC), desc))
    return store


def _item(n: int, payload: str = "") -> pb.Item:
    item = pb.Item()
    item.attributes["pk"].s = f"p{n}"
    if payload:
        item.attributes["payload"].s = payload
    return item


class Node:
    def __init__(self, path: pathlib.Path, sync: bool = False) -> None:
        self.store = _store(path, sync)
        self.table = self.store.tables["orders"]
        self.woken: list[dict[str, set[str]]] = []
        self.writer = Writer(self.store, hlc.HybridClock(0), "us-east", self.woken.append, print)
        self.items = ItemOps(self.store, self.writer)

    def state(self) -> tuple[list[tuple[pb.Item, bool]], list[tuple[int, pb.Item, pb.Item]]]:
        """Items (with their tombstone flag) and stream records, without versions or times."""
        items = []
        for _, raw in self.store.scan_prefix(self.table.schema.prefix):
            stored = pb.StoredItem.FromString(raw)
            items.append((stored.item, stored.tombstone))
        records = []
        for raw in self.store.read_stream("orders", 0, 100):
            record = pb.StreamRecord.FromString(raw)
            records.append((record.event_name, record.old_image, record.new_image))
        return items, records


def _if_missing(table: Table) -> WriteOptions:
    condition = "attribute_not_exists(pk)"
    return WriteOptions(compile_request("PutItem", condition=condition, schema=key_schema(table)))


async def _writes(node: Node) -> list[object]:
    """Puts, an overwrite, a refused conditional put, an update and deletes, one at a time,
    each after the writer was idle long enough to commit a write alone."""
    items, table = node.items, node.table
    outcomes: list[object] = []
    for call in (
        lambda: items.put_item(table, _item(1, "a"), WriteOptions()),
        lambda: items.put_item(table, _item(2, "b"), WriteOptions()),
        lambda: items.put_item(table, _item(1, "c"), WriteOptions(return_values=pb.ALL_OLD)),
        lambda: items.put_item(table, _item(1, "d"), _if_missing(table)),
        lambda: items.update_item(table, _item(3), WriteOptions()),
        lambda: items.delete_item(table, _item(2), WriteOptions()),
        lambda: items.delete_item(table, _item(9), WriteOptions()),  # nothing to delete
    ):
        await asyncio.sleep(2 * INLINE_IDLE_S)
        try:
            result = await call()
            outcomes.append((result.changed, result.attributes))
        except ConditionFailed as exc:
            outcomes.append(type(exc))
    return outcomes


def test_lone_commits_leave_what_the_writers_task_leaves(tmp_path: pathlib.Path) -> None:
    async def alone() -> tuple[Node, list[object]]:
        node = Node(tmp_path / "alone")  # no writer task: a write that queued would wait
        return node, await asyncio.wait_for(_writes(node), 10)

    async def queued() -> tuple[Node, list[object]]:
        node = Node(tmp_path / "queued")
        node.writer.submit_now = node.writer.submit  # type: ignore[method-assign]
        task = asyncio.create_task(node.writer.run())
        try:
            return node, await _writes(node)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    first, first_outcomes = asyncio.run(alone())
    second, second_outcomes = asyncio.run(queued())
    try:
        assert first_outcomes == second_outcomes
        assert ConditionFailed in first_outcomes
        assert first.state() == second.state()
        assert len(first.state()[1]) == 5  # INSERT, INSERT, MODIFY, INSERT, REMOVE
        assert first.writer.batch_sizes == second.writer.batch_sizes == {1: 7}
        assert first.woken == second.woken == [{"orders": {"us-east"}}] * 5
    finally:
        first.store.close()
        second.store.close()


def test_a_write_while_a_batch_is_in_the_commit_thread_queues_behind_it(
    tmp_path: pathlib.Path,
) -> None:
    async def main() -> None:
        node = Node(tmp_path, sync=True)
        task = asyncio.create_task(node.writer.run())
        try:
            batch = [_queued_put(node, _item(1, f"v{n}")) for n in range(3)]  # to the thread
            await asyncio.sleep(0)  # the writer's task takes them and hands them over
            last = node.items.put_item(node.table, _item(1, "last"), WriteOptions())
            await asyncio.gather(*batch, last)
            assert node.writer.batch_sizes == {(3).bit_length(): 1, 1: 1}
            stored = node.store.get_item(node.table.schema.encode(_item(1)))
            assert stored is not None and stored.item == _item(1, "last")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            node.store.close()

    asyncio.run(main())


def _queued_put(node: Node, item: pb.Item) -> asyncio.Future[object]:
    target, raw = put_target(node.table, item)
    return node.writer.enqueue(PutOp(target, item, raw=raw))  # type: ignore[return-value]


def test_a_closed_writer_refuses_a_lone_write(tmp_path: pathlib.Path) -> None:
    async def main() -> None:
        node = Node(tmp_path)
        task = asyncio.create_task(node.writer.run())
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        with pytest.raises(ConnectionAbortedError):
            await node.items.put_item(node.table, _item(1, "late"), WriteOptions())
        assert node.store.get_item(node.table.schema.encode(_item(1))) is None
        node.store.close()

    asyncio.run(main())


class Bug(Exception):
    """Not a refusal: what a bug in an operation raises."""


class BuggyOp:
    def apply(self, stage: object, ctx: object) -> None:
        raise Bug("a bug in the operation")


def test_a_bug_in_a_lone_commit_crashes_the_writer_and_refuses_later_writes(
    tmp_path: pathlib.Path,
) -> None:
    async def main() -> None:
        node = Node(tmp_path)
        task = asyncio.create_task(node.writer.run())
        await asyncio.sleep(0)  # the writer's task waits for work
        with pytest.raises(ConnectionAbortedError):
            await node.writer.submit_now(BuggyOp())
        with pytest.raises(Bug):
            await asyncio.wait_for(task, 5)  # the writer's task raises it: its owner reports
        with pytest.raises(ConnectionAbortedError):
            await node.items.put_item(node.table, _item(1, "later"), WriteOptions())
        assert node.store.get_item(node.table.schema.encode(_item(1))) is None
        node.store.close()

    asyncio.run(main())


CHILD = textwrap.dedent(
    """
    import asyncio, pathlib, sys
    from tests.integration.test_lone_commit import Node, _item
    from regionnode.item_ops import WriteOptions

    async def main():
        node = Node(pathlib.Path(sys.argv[1]), sync=sys.argv[2] == "fsync")
        writer, queued = node.writer, []
        enqueue = writer.enqueue
        writer.enqueue = lambda op: queued.append(op) or enqueue(op)  # counts the hops
        task = asyncio.create_task(writer.run())
        for n in range(20):
            put = node.items.put_item(node.table, _item(n, "acked"), WriteOptions())
            await asyncio.wait_for(put, 10)
            print(n, flush=True)
            await asyncio.sleep(0.002)  # the writer idle: a synced commit may stay inline
        print(f"queued {len(queued)}", flush=True)
        print("done", flush=True)
        await asyncio.sleep(60)  # killed here
        task.cancel()

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("durability", ["buffered", "fsync"])
def test_acknowledged_lone_writes_survive_a_kill(tmp_path: pathlib.Path, durability: str) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), durability],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None and child.stderr is not None
            acked: list[str] = []
            for line in child.stdout:
                acked.append(line.strip())
                if line.strip() == "done":
                    break
            if acked[-1:] != ["done"]:
                child.wait(10)
                raise AssertionError(f"child: {acked}, stderr: {child.stderr.read()}")
            queued = int(acked[-2].split()[1])
            # Buffered, every sequential put commits alone; synced, at least the first (a
            # slow disk sends the next ones to the commit thread, `sync_in_thread`).
            assert queued == 0 if durability == "buffered" else queued < 20, acked
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
    store = Store(tmp_path, sync=True)
    try:
        table = store.tables["orders"]
        for n in range(20):
            stored = store.get_item(table.schema.encode(_item(n)))
            assert stored is not None and stored.item == _item(n, "acked")
        assert len(store.read_stream("orders", 0, 100)) == 20
    finally:
        store.close()


def test_writes_close_together_share_a_commit(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a write after a pause commits alone: those right behind it queue and share the
    writer's next commit (group commit at saturation). The pause is lengthened so that a
    busy machine cannot make the writes close behind look like a pause."""
    monkeypatch.setattr(writer_module, "INLINE_IDLE_S", 0.5)

    async def main() -> None:
        node = Node(tmp_path)
        task = asyncio.create_task(node.writer.run())
        try:
            await asyncio.sleep(1.0)
            await asyncio.gather(
                *(node.items.put_item(node.table, _item(n, "v"), WriteOptions()) for n in range(3))
            )
            assert node.writer.batch_sizes == {1: 1, 2: 1}  # the first alone, then two
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            node.store.close()

    asyncio.run(main())
