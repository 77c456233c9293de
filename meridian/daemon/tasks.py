"""Owned background tasks: named, referenced, cancellable, and never dying silently."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)


class TaskGroup:
    """Keeps the tasks of one component; a crash is logged and reported to `on_crash`."""

    def __init__(self, owner: str, on_crash: Callable[[str, BaseException], None] | None = None):
        self.owner = owner
        self._on_crash = on_crash
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.owner}:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("task %s crashed", task.get_name(), exc_info=exc)
            if self._on_crash is not None:
                self._on_crash(task.get_name(), exc)

    async def cancel_all(self) -> None:
        """Cancel every task and wait for all of them to finish. Idempotent."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
