"""The node's single writer: every change to the store goes through here.

Client writes (`local_writes`), replicated batches (`replicated_apply`), snapshot merges
(`snapshot_merge`) and tombstone collection (`collection_ops`) are queued, and one task
turns whatever is queued into one RocksDB WriteBatch (group commit): each operation reads
the current item through the `Stage` (seeing earlier operations of the same batch), decides,
and stages what it writes. The clock high-water mark rides in every batch. A failed
operation is refused alone; the others of its batch still commit. Callers are answered only
after the batch is durable, so an acknowledged write survives a crash. A synced commit runs
in the writer's own commit thread (`commit_thread.py`) unless `sync_in_thread` keeps it on
the event loop. A client's single-item write that finds the writer idle commits as a batch
of its own on its handler's turn (`submit_now`), without the hop to the task and back.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from typing import Protocol

from meridian.daemon import hop_trace
from meridian.expressions import ExpressionError
from meridian.model import hlc
from meridian.model.items import ItemError
from meridian.pb import node_pb2 as pb
from meridian.wire.errors import ConditionFailed, ResyncNeeded, TransactionCanceled
from regionnode.collection_ops import Collected
from regionnode.commit_thread import CommitThread
from regionnode.expiry_ops import Expired
from regionnode.stage import Context, Stage
from regionnode.store import Store

log = logging.getLogger(__name__)

Result = (
    pb.WriteResult
    | list[pb.WriteResult]
    | pb.BatchWriteItemResponse
    | pb.ApplyReplicatedResponse
    | pb.ApplySnapshotResponse
    | Collected
    | Expired
    | None
)
# What an operation may refuse alone, without failing the rest of its batch.
REFUSALS = (ConditionFailed, TransactionCanceled, ItemError, ExpressionError, ResyncNeeded)


class Op(Protocol):
    def apply(self, stage: Stage, ctx: Context) -> Result: ...


class Writer:
    def __init__(
        self,
        store: Store,
        clock: hlc.HybridClock,
        region: str,
        on_commit: Callable[[dict[str, set[str]]], None],
        on_conflicts: Callable[[list[pb.Conflict]], None],
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.ctx = Context(store, clock, region, store.node_id[:12])
        self._on_commit = on_commit
        self._on_conflicts = on_conflicts
        self._on_batch = on_batch
        self._pending: list[tuple[Op, asyncio.Future[Result]]] = []
        self._wake = asyncio.Event()
        self.batch_sizes: collections.Counter[int] = collections.Counter()
        self._closed = False
        self._last_sync_s = 0.0  # how long the last synced commit took
        self._committed_at = 0.0  # when the last commit ended (time.perf_counter)
        self._thread = CommitThread("commit thread")
        self._committing = False  # the writer's task is between taking a batch and answering
        self._crash: Exception | None = None  # a bug met by a lone commit: the task raises it

    async def submit(self, op: Op) -> Result:
        return await self.enqueue(op)

    def enqueue(self, op: Op) -> asyncio.Future[Result]:
        """Queue an operation now (operations commit in the order queued); the future ends
        with its result once its batch is durable."""
        if self._closed:
            raise ConnectionAbortedError("node is shutting down")
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append((op, future))
        self._wake.set()
        return future

    async def run(self) -> None:
        """Commit queued operations until cancelled; queued and in-flight callers are failed
        on exit (also when a bug makes the loop crash), so no caller waits forever."""
        work: list[tuple[Op, asyncio.Future[Result]]] = []
        self._thread.start()
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                if self._crash is not None:
                    raise self._crash
                while self._pending:
                    work, self._pending = self._pending, []
                    self._committing = True
                    await self._commit(work)
                    self._committing = False
                    self._thread.check()  # its crash is the writer's
                    work = []
                    # Let the readers and callers it woke run before the next commit, which
                    # may hold the loop for its fsync (`sync_in_thread`).
                    await asyncio.sleep(0)
        finally:
            self._closed = True
            self._thread.stop()  # the store may be closed next: no write may still run
            for _, future in [*work, *self._pending]:
                if not future.done():
                    future.set_exception(ConnectionAbortedError("node is shutting down"))

    async def _commit(self, work: list[tuple[Op, asyncio.Future[Result]]]) -> None:
        started = time.perf_counter()
        idle_s = started - self._committed_at
        stage = Stage(self.store)
        results: list[Result | BaseException] = []
        for op, _ in work:
            try:
                results.append(op.apply(stage, self.ctx))
            except REFUSALS as exc:
                results.append(exc)
        written = True
        try:
            await self._write(stage, len(work), idle_s)
        except Exception as exc:
            stage.rollback()
            log.exception("write batch of %d operations failed", len(work))
            results, written = [exc] * len(work), False
        self._counted(len(work))
        hop_trace.event("commit", len(work), idle_s * 1e3, (self._committed_at - started) * 1e3)
        if written and stage.heads:  # stream readers first: replication waits on them
            self._on_commit(stage.origins)  # table -> regions of the records written
        for (_, future), result in zip(work, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
        if written and stage.conflicts:
            self._on_conflicts(stage.conflicts)

    def _counted(self, ops: int) -> None:
        """A commit of `ops` operations ended (written or not)."""
        self._committed_at = time.perf_counter()
        self.batch_sizes[min(ops, 1024).bit_length()] += 1
        if self._on_batch is not None:
            self._on_batch(ops)

    async def _write(self, stage: Stage, ops: int, idle_s: float) -> None:
        """Commit the stage, then make what it changed in memory current. Where a synced
        commit runs (the commit thread or the loop) is `sync_in_thread`'s decision; a
        buffered one is always quicker inline than the two thread hand-offs."""
        writes = not stage.empty or stage.checkpoints
        if writes and self.store.sync and sync_in_thread(ops, self._last_sync_s, idle_s):
            stage.batch.put(b"m:hlc", self.clock.last.to_bytes(8, "big"))
            self._last_sync_s = await self._thread.call(lambda: self._timed_write(stage))
            self._make_current(stage)
        else:
            self._write_inline(stage)

    async def submit_now(self, op: Op) -> Result:
        """`submit`, but an operation that would be the next batch alone commits on the
        caller's turn of the event loop, without the hop to the writer's task and back (its
        future, its wake-up, a turn of the loop each way): when nothing is queued or being
        committed, the writer has been idle a while (writes close together share a commit
        through the queue), and the commit would not go to the commit thread."""
        if self._closed or self._committing or self._pending:
            return await self.enqueue(op)
        idle_s = time.perf_counter() - self._committed_at
        if idle_s < INLINE_IDLE_S or (
            self.store.sync and sync_in_thread(1, self._last_sync_s, idle_s)
        ):
            return await self.enqueue(op)  # writes close together share a commit
        return self._commit_alone(op)

    def _commit_alone(self, op: Op) -> Result:
        """What `_commit` does with a batch of one, synchronously: serial with the writer's
        batches (its task is waiting for work), durable before it returns or raises. A bug
        is the writer's crash, as in its task: the task raises it (its owner reports it),
        this caller and later ones are refused."""
        try:
            result = self._commit_one(op)
        except Exception as exc:
            self._closed = True
            self._crash = exc
            self._wake.set()
            raise ConnectionAbortedError("node is shutting down") from exc
        if isinstance(result, BaseException):
            raise result
        return result

    def _commit_one(self, op: Op) -> Result | BaseException:
        """`_commit_alone`'s batch; a refusal or a failed write is returned, not raised."""
        stage = Stage(self.store)
        result: Result | BaseException
        try:
            result = op.apply(stage, self.ctx)
        except REFUSALS as exc:
            result = exc
        written = True
        try:
            self._write_inline(stage)
        except Exception as exc:
            stage.rollback()
            log.exception("write batch of 1 operation failed")
            result, written = exc, False
        self._counted(1)
        if written and stage.heads:
            self._on_commit(stage.origins)
        if written and stage.conflicts:
            self._on_conflicts(stage.conflicts)
        return result

    def _write_inline(self, stage: Stage) -> None:
        """`_write` for a commit on the loop (buffered, or synced where `sync_in_thread`
        keeps it inline)."""
        if not stage.empty or stage.checkpoints:
            stage.batch.put(b"m:hlc", self.clock.last.to_bytes(8, "big"))
            if self.store.sync:
                self._last_sync_s = self._timed_write(stage)
            else:
                self.store.write(stage.batch)
        self._make_current(stage)

    def _make_current(self, stage: Stage) -> None:
        """What a written stage changed in memory, made current."""
        if stage.bootstrap is not None:
            self.store.bootstrap = stage.bootstrap
        self.store.horizons.update(stage.horizons)
        self.store.peers.update(stage.peers)

    def _timed_write(self, stage: Stage) -> float:
        """Commit the stage; how long it took (seconds)."""
        start = time.perf_counter()
        self.store.write(stage.batch)
        return time.perf_counter() - start


INLINE_SYNC_OPS = 1  # a synced commit of at most this many operations may run on the loop
INLINE_SYNC_S = 0.002  # ... while fsyncs take less than this (the loop stands still meanwhile)
INLINE_IDLE_S = 0.001  # ... and the writer had nothing to commit for at least this long


def sync_in_thread(ops: int, last_sync_s: float, idle_s: float) -> bool:
    """Whether a synced commit of `ops` operations runs in a worker thread, given how long
    the last synced commit took and how long the writer had been idle before this one. In a
    thread the event loop keeps taking requests (and serving reads and subscriptions) during
    the fsync, and they share the next commit (group commit): worth it when writes come
    together, and whenever the disk is slow. A commit of one operation after a pause is what
    low load looks like (one write, or one replicated batch, at a time): inline it saves the
    two thread hand-offs (the worker thread woken, then the loop woken by it), each of which
    may wait for a core on a busy machine, while the loop stands still for one fsync (the
    thread also waits for the GIL while the loop runs Python: at most the daemons' switch
    interval, `event_loop.tune_threads`). After a slow fsync, commits go to the thread until
    a quick one is seen there. Writes that follow each other closely go to the thread even
    one at a time: inline, none could queue during the fsync, so every commit would hold one
    write (no group commit)."""
    return ops > INLINE_SYNC_OPS or last_sync_s >= INLINE_SYNC_S or idle_s < INLINE_IDLE_S
