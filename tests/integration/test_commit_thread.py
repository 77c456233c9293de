"""The writer's commit thread (`regionnode/commit_thread.py`) and the writer's synced commits
through it, on real RocksDB: jobs run off the event loop and answer on it, a job's error
reaches its caller only, stop waits for the write in progress (the store is closed next), and
a crash of the thread fails its callers and the writer's task instead of leaving them waiting.
"""

from __future__ import annotations

import asyncio
import pathlib
import threading
import time

import pytest
import rocksdict

from meridian.model import hlc, schema
from meridian.pb import node_pb2 as pb
from regionnode.commit_thread import CommitThread, CommitThreadDead
from regionnode.item_ops import ItemOps, WriteOptions, item_target
from regionnode.local_writes import PutOp
from regionnode.store import Store, Table
from regionnode.writer import Writer

SPEC = pb.TableSpec(
    name="orders",
    partition_key=pb.KeyAttribute(name="pk", type=pb.KEY_TYPE_S),
    view_type=pb.NEW_IMAGE,
)


class Bug(BaseException):
    """What a bug inside the thread looks like: not an error a write may raise."""


def _running(thread: CommitThread) -> bool:
    return any(t.name == "test commit thread" for t in threading.enumerate())


async def _started() -> CommitThread:
    thread = CommitThread("test commit thread")
    thread.start()
    return thread


def test_a_job_runs_in_the_thread_and_answers_on_the_loop() -> None:
    async def main() -> None:
        thread = await _started()
        try:
            name = await thread.call(lambda: threading.current_thread().name)
            assert name == "test commit thread"
        finally:
            thread.stop()
        assert not _running(thread)

    asyncio.run(main())


def test_a_jobs_error_reaches_its_caller_and_the_thread_goes_on() -> None:
    def fails() -> None:
        raise OSError("disk full")

    async def main() -> None:
        thread = await _started()
        try:
            with pytest.raises(OSError, match="disk full"):
                await thread.call(fails)
            assert await thread.call(lambda: 42) == 42
            thread.check()
        finally:
            thread.stop()

    asyncio.run(main())


def test_stop_waits_for_the_job_in_progress_and_later_calls_fail() -> None:
    started, ended = threading.Event(), threading.Event()

    def slow() -> None:
        started.set()
        time.sleep(0.2)
        ended.set()

    async def main() -> None:
        thread = await _started()
        caller = asyncio.ensure_future(thread.call(slow))
        while not started.is_set():
            await asyncio.sleep(0.001)
        thread.stop()
        assert ended.is_set()  # stop returned only after the write ended
        assert not _running(thread)
        caller.cancel()
        with pytest.raises(CommitThreadDead, match="not running"):
            await thread.call(lambda: None)

    asyncio.run(main())


def test_a_crash_fails_its_caller_and_the_queued_ones_and_check_raises() -> None:
    release = threading.Event()

    def crashes() -> None:
        release.wait(5)
        raise Bug("a bug")

    async def main() -> None:
        thread = await _started()
        crashing = asyncio.ensure_future(thread.call(crashes))
        queued = asyncio.ensure_future(thread.call(lambda: 1))
        await asyncio.sleep(0.01)
        release.set()
        for caller in (crashing, queued):
            with pytest.raises(CommitThreadDead):
                await asyncio.wait_for(caller, 5)
        with pytest.raises(CommitThreadDead, match="crashed"):
            thread.check()
        with pytest.raises(CommitThreadDead):
            await thread.call(lambda: None)
        thread.stop()  # joins a thread that has ended: returns at once

    asyncio.run(main())


# ------------------------------------------------------------ the writer through the thread


class CrashingStore(Store):
    """A real store whose next synced write hits a bug once `crash` is set."""

    crash = False

    def write(self, batch: rocksdict.WriteBatch) -> None:
        if self.crash:
            raise Bug("a bug in the write")
        super().write(batch)


def _store(path: pathlib.Path) -> CrashingStore:
    store = CrashingStore(path, sync=True)
    desc = pb.TableDescription(spec=SPEC, schema_fingerprint=schema.fingerprint(SPEC))
    store.put_table(Table(schema.Schema(SPEC), desc))
    return store


def _item(n: int) -> pb.Item:
    item = pb.Item()
    item.attributes["pk"].s = f"p{n}"
    return item


def _writer(store: Store) -> tuple[Writer, ItemOps]:
    writer = Writer(store, hlc.HybridClock(0), "us-east", lambda _: None, print)
    return writer, ItemOps(store, writer)


def test_synced_commits_of_many_writes_are_durable_when_answered(tmp_path: pathlib.Path) -> None:
    async def main() -> None:
        store = _store(tmp_path)
        writer, items = _writer(store)
        task = asyncio.create_task(writer.run())
        table = store.tables["orders"]
        await asyncio.gather(*(items.put_item(table, _item(n), WriteOptions()) for n in range(50)))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert not any(t.name == "commit thread" for t in threading.enumerate())
        store.close()

    asyncio.run(main())
    reopened = Store(tmp_path, sync=True)
    try:
        table = reopened.tables["orders"]
        assert all(reopened.get_item(table.schema.encode(_item(n))) for n in range(50))
    finally:
        reopened.close()


def test_a_crash_of_the_commit_thread_fails_the_writer_and_its_callers(
    tmp_path: pathlib.Path,
) -> None:
    async def main() -> None:
        store = _store(tmp_path)
        writer, items = _writer(store)
        task = asyncio.create_task(writer.run())
        table = store.tables["orders"]
        await items.put_item(table, _item(0), WriteOptions())
        store.crash = True
        # Queued together, so they commit as one batch, which goes to the thread (a put
        # alone on an idle writer may commit on the loop: `Writer.submit_now`).
        puts = [writer.submit(PutOp(item_target(table, _item(n)), _item(n))) for n in range(1, 5)]
        results = await asyncio.wait_for(asyncio.gather(*puts, return_exceptions=True), 5)
        assert all(isinstance(r, (CommitThreadDead, ConnectionAbortedError)) for r in results)
        with pytest.raises(CommitThreadDead):
            await asyncio.wait_for(task, 5)  # the writer's task crashes: reported by its owner
        with pytest.raises(ConnectionAbortedError):
            await items.put_item(table, _item(9), WriteOptions())
        store.close()

    asyncio.run(main())
