"""The writer's commit thread: synced commits run here, off the event loop.

A thread of its own, started and stopped by the writer, instead of `asyncio.to_thread`: no
executor work item, concurrent future and context copy per commit (about 30 µs less of the
node's CPU per synced commit, docs/performance.md "The commit path"), and the writer knows
when the last write has ended (stop() joins the thread, so the store is never closed under a
write). The synced write itself releases the GIL (rocksdict), so the event loop keeps taking
requests meanwhile. A job's exception goes to its caller; a crash of the thread itself (a bug)
fails every queued job and makes `check` raise, so the writer's task crashes and is reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = tuple[Callable[[], object], asyncio.Future[object]]


class CommitThreadDead(RuntimeError):
    """The commit thread has ended (stopped, or crashed: see the log)."""


class CommitThread:
    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._crash: BaseException | None = None
        self._stopped = False

    def start(self) -> None:
        """Start the thread; jobs are answered on the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the thread once the jobs queued so far have run, and wait for it (at most the
        commit in progress: the writer has one at a time)."""
        self._stopped = True
        self._jobs.put(None)
        if self._thread is not None:
            self._thread.join()

    def check(self) -> None:
        """Raise CommitThreadDead if the thread crashed."""
        if self._crash is not None:
            raise CommitThreadDead(f"{self._name} crashed: {self._crash!r}") from self._crash

    async def call(self, job: Callable[[], T]) -> T:
        """Run `job` in the thread; its result (or exception) once it ended."""
        self.check()
        if self._thread is None or self._stopped:
            raise CommitThreadDead(f"{self._name} is not running")
        assert self._loop is not None
        future: asyncio.Future[object] = self._loop.create_future()
        self._jobs.put((job, future))
        if self._crash is not None:  # it crashed meanwhile, maybe after failing its queue
            self._fail_queued()
        return await future  # type: ignore[return-value]

    def _run(self) -> None:
        try:
            while (item := self._jobs.get()) is not None:
                job, future = item
                try:
                    result = job()
                except Exception as exc:  # noqa: BLE001 - whatever the write raised is its caller's
                    self._answer(future, None, exc)
                except BaseException as exc:
                    self._crash = exc  # before the answer: the writer checks it once answered
                    self._answer(future, None, CommitThreadDead(f"{self._name} crashed"))
                    raise
                else:
                    self._answer(future, result, None)
        except BaseException as exc:
            self._crash = exc
            log.exception("%s crashed", self._name)
        finally:
            self._fail_queued()

    def _fail_queued(self) -> None:
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                self._answer(item[1], None, CommitThreadDead(f"{self._name} has ended"))

    def _answer(
        self, future: asyncio.Future[object], result: object, exc: BaseException | None
    ) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            self._loop.call_soon_threadsafe(_settle, future, result, exc)


def _settle(future: asyncio.Future[object], result: object, exc: BaseException | None) -> None:
    if future.done():  # the caller was cancelled
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
