"""Closed-loop load from the harness: one call at a time, or many in flight for a while.

CPU time of the harness and of the measured processes is taken over the same window, so a
result says which side was busy (`cpu_cores`: CPU seconds per wall second).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import pathlib
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, TypeAlias

from bench.stats import summary_ms
from tests.harness import Process

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# A call taking a serialized request: a raw gRPC method, or the HTTP door's (bench.http_door).
Call: TypeAlias = Callable[..., Awaitable[Any]]


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all processes, all cores)."""
    fields = [int(x) for x in pathlib.Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


class CpuWindow:
    """CPU used by the harness and by some child processes between start and stop, and by
    the whole machine: `others` is what processes outside this run took (a shared machine)."""

    def __init__(self, procs: Sequence[Process]) -> None:
        self.procs = list(procs)
        self._wall = time.perf_counter()
        self._own = time.process_time()
        self._machine = machine_busy_seconds()
        self._children = [p.cpu_seconds() for p in self.procs]

    def stop(self, extra: dict[str, float] | None = None) -> dict[str, float]:
        """CPU seconds per wall second of each process; `extra` adds CPU seconds used in the
        window by processes that have exited since (they report their own)."""
        wall = time.perf_counter() - self._wall
        out = {"harness": (time.process_time() - self._own) / wall}
        for name, seconds in (extra or {}).items():
            out[name] = seconds / wall
        for proc, before in zip(self.procs, self._children, strict=True):
            out[proc.name] = (proc.cpu_seconds() - before) / wall
        out["machine"] = (machine_busy_seconds() - self._machine) / wall
        out["others"] = max(0.0, out["machine"] - sum(v for k, v in out.items() if k != "machine"))
        return {k: round(v, 3) for k, v in out.items()}


async def sequential(call: Call, requests: Sequence[bytes], procs: Sequence[Process]) -> dict:
    """Requests one after the other; latency of each."""
    latencies: list[float] = []
    cpu = CpuWindow(procs)
    start = time.perf_counter()
    for request in requests:
        t = time.perf_counter()
        await call(request, timeout=30)
        latencies.append((time.perf_counter() - t) * 1000)
    elapsed = time.perf_counter() - start
    return {
        "calls_per_s": len(latencies) / elapsed,
        "latency_ms": summary_ms(latencies),
        "cpu_cores": cpu.stop(),
    }


async def saturated(
    call: Call,
    make_request: Callable[[int], bytes],
    concurrency: int,
    seconds: float,
    procs: Sequence[Process],
    *,
    per_call: int = 1,
) -> dict:
    """`concurrency` callers loop for `seconds`; request i comes from make_request(i).

    `per_call` is how many items one call carries (throughput is also given in items/s).
    """
    deadline = time.perf_counter() + seconds

    def until_deadline() -> Iterator[bytes]:
        for n in itertools.count():
            if time.perf_counter() >= deadline:
                return
            yield make_request(n)

    return await drain(call, until_deadline(), concurrency, procs, per_call=per_call)


async def drain(
    call: Call,
    requests: Iterable[bytes],
    concurrency: int,
    procs: Sequence[Process],
    *,
    per_call: int = 1,
) -> dict:
    """Send requests (a list, or a generator building them) with `concurrency` in flight."""
    queue = iter(requests)
    latencies: list[float] = []

    async def worker() -> None:
        for request in queue:
            t = time.perf_counter()
            await call(request, timeout=60)
            latencies.append((time.perf_counter() - t) * 1000)

    cpu = CpuWindow(procs)
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return {
        "calls_per_s": len(latencies) / elapsed,
        "items_per_s": len(latencies) * per_call / elapsed,
        "latency_ms": summary_ms(latencies),
        "concurrency": concurrency,
        "cpu_cores": cpu.stop(),
    }
