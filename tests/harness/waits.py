"""Deadline-bound waits: poll until a condition holds, or raise saying what was awaited,
the last answer, and the logs of the processes involved.

Nothing here returns a boolean for the caller to forget to check.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol, TypeVar

import grpc

T = TypeVar("T")


class HarnessError(AssertionError):
    """A failure of what a test stands on (a process, a wait), reported as a test failure;
    a wait never retries it."""


class TimedOut(HarnessError):
    """A wait passed its deadline."""


class ProcessFailed(HarnessError):
    """A process exited, or did not do what it had to in time; the message ends with its
    log."""


class NotYet(Exception):
    """Raised by a check to say no, with what it saw (shown if the deadline passes)."""


class HasLog(Protocol):
    def log_section(self) -> str:
        """A heading naming the process, then (the end of) its log."""
        ...


LogSource = HasLog | Callable[[], str]

# What an attempt may raise and still be tried again: a no with details, a failed check, a
# server not up yet, a file half written.
RETRY: tuple[type[Exception], ...] = (NotYet, AssertionError, grpc.RpcError, OSError, ValueError)


def logs_of(sources: Iterable[LogSource]) -> str:
    return "\n".join(s() if callable(s) else s.log_section() for s in sources)


class _Poll:
    """The deadline, the last outcome and the failure message of one wait."""

    def __init__(
        self,
        timeout: float,
        what: str,
        logs: Sequence[LogSource],
        retry: tuple[type[Exception], ...],
    ) -> None:
        self.timeout = timeout
        self.what = what
        self.logs = logs
        self.retry = retry
        self.started = time.monotonic()
        self.last: object = None

    def done(self, outcome: object) -> bool:
        """Take one attempt's outcome (its value, or what it raised): True when the value
        is truthy; raises what may not be retried, and TimedOut past the deadline."""
        self.last = outcome
        if isinstance(outcome, Exception):
            if isinstance(outcome, HarnessError) or not isinstance(outcome, self.retry):
                raise outcome
        elif outcome:
            return True
        if time.monotonic() - self.started > self.timeout:
            cause = outcome if isinstance(outcome, Exception) else None
            raise TimedOut(self.message()) from cause
        return False

    def message(self) -> str:
        text = f"timed out after {self.timeout}s waiting for {self.what}; last: {self.last!r}"
        logs = logs_of(self.logs)
        return f"{text}\n{logs}" if logs else text


def _outcome(check: Callable[[], object]) -> object:
    try:
        return check()
    except Exception as exc:
        return exc


async def _outcome_async(check: Callable[[], Awaitable[object]]) -> object:
    try:
        return await check()
    except Exception as exc:
        return exc


def wait_until(
    check: Callable[[], T],
    timeout: float = 10.0,
    what: str = "condition",
    *,
    logs: Sequence[LogSource] = (),
    retry: tuple[type[Exception], ...] = RETRY,
    interval: float = 0.05,
) -> T:
    """Call `check` until it returns something truthy, and return that; an exception in
    `retry` counts as a no. Raises TimedOut (with `logs`) once `timeout` seconds passed."""
    poll = _Poll(timeout, what, logs, retry)
    while not poll.done(_outcome(check)):
        time.sleep(interval)
    return poll.last  # type: ignore[return-value]


async def eventually(
    check: Callable[[], Awaitable[T]],
    timeout: float = 10.0,
    what: str = "condition",
    *,
    logs: Sequence[LogSource] = (),
    retry: tuple[type[Exception], ...] = RETRY,
    interval: float = 0.02,
) -> T:
    """wait_until for a coroutine function, sleeping without blocking the event loop."""
    poll = _Poll(timeout, what, logs, retry)
    while not poll.done(await _outcome_async(check)):
        await asyncio.sleep(interval)
    return poll.last  # type: ignore[return-value]
