"""The machine settled between the full run's phases, and a record of what was waited for.

A phase that writes much leaves the kernel work to do after its processes have exited: the
TTL sweep (buffered writes and deletes), the peers' PostgreSQL and Redis, the bootstrap's
million items. Their dirty pages are written back up to `vm.dirty_expire_centisecs` (30 s)
later, that is during the next phase, whose fsyncs then wait behind that write-back in the
disk's queue while the kernel's flusher takes CPU. So before a phase the run writes
everything back (`sync`, with a deadline), then waits, with a deadline, for a short window
in which the machine is nearly idle, and records both (`settled` in the JSON): what was
dirty, the seconds each took, the machine's busy cores in the last window and any process
of this run still alive (none is expected: each phase stops its own).
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import time
from typing import Any

from bench.convergence import dirty_kb
from bench.load import CLOCK_TICKS, machine_busy_seconds
from tests.harness.process import live

SYNC_DEADLINE_S = 60.0
QUIET_WINDOW_S = 0.5
QUIET_CORES = 0.25  # busy cores of the whole machine below which it counts as settled
PROBE_LOOPS = 200_000


async def busy_cores(window_s: float) -> float:
    """The whole machine's busy cores over the next `window_s` seconds."""
    before, start = machine_busy_seconds(), time.monotonic()
    await asyncio.sleep(window_s)
    return (machine_busy_seconds() - before) / (time.monotonic() - start)


async def write_back(deadline_s: float) -> dict[str, Any]:
    """sync(2) in a thread, waited for at most `deadline_s` (it goes on in the kernel)."""
    start = time.monotonic()
    try:
        await asyncio.wait_for(asyncio.to_thread(os.sync), deadline_s)
        done = True
    except TimeoutError:
        done = False
    return {"sync_s": round(time.monotonic() - start, 2), "synced": done}


def process_cpu() -> dict[int, tuple[str, float]]:
    """Name and CPU seconds of every process on the machine, by pid (kernel threads too)."""
    out = {}
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # exited meanwhile
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        out[int(stat.parent.name)] = (name, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    return out


def busiest(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], n: int = 3
) -> dict[str, float]:
    """The `n` processes that used the most CPU seconds between two `process_cpu` calls, by
    "pid name" (a kernel worker's name changes with its work: the later one)."""
    used = {
        f"{pid} {name}": seconds - before.get(pid, ("", 0.0))[1]
        for pid, (name, seconds) in after.items()
    }
    top = sorted(used.items(), key=lambda kv: kv[1], reverse=True)[:n]
    return {key: round(seconds, 2) for key, seconds in top if seconds > 0}


async def quiet(deadline_s: float, window_s: float, below: float) -> dict[str, Any]:
    """Windows of `window_s` until the machine's busy cores fall below `below`, or the
    deadline; the last window's figure and who was busy meanwhile."""
    start, procs, steal = time.monotonic(), process_cpu(), steal_seconds()
    cores = await busy_cores(window_s)
    while cores >= below and time.monotonic() - start < deadline_s:
        cores = await busy_cores(window_s)
    return {
        "quiet_wait_s": round(time.monotonic() - start, 2),
        "busy_cores": round(cores, 3),
        "quiet": cores < below,
        "busiest_cpu_s": busiest(procs, process_cpu()),
        "steal_cores": round((steal_seconds() - steal) / (time.monotonic() - start), 3),
    }


def steal_seconds() -> float:
    """CPU seconds the hypervisor has taken from this machine's virtual cores (all cores)."""
    fields = pathlib.Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return int(fields[8]) / CLOCK_TICKS


def speed_probe_ms(rounds: int = 5) -> float:
    """CPU milliseconds of a fixed piece of pure Python, the least of `rounds`: the same on
    the same machine whatever ran before, unless the machine itself got slower (a host's
    other tenants): a phase whose processes all need more CPU for the same work shows here."""
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        sum(i * i for i in range(PROBE_LOOPS))
        best = min(best, time.process_time() - start)
    return round(best * 1000, 2)


def harness_threads() -> int:
    """Threads of this process (an in-process node's RocksDB would leave some)."""
    return len(os.listdir(pathlib.Path("/proc/self/task")))


async def machine(quiet_deadline_s: float) -> dict[str, Any]:
    """Write back, then wait (at most `quiet_deadline_s`) for a quiet window; what was
    found and how long each took."""
    start = time.monotonic()
    dirty = dirty_kb()
    out: dict[str, Any] = {
        "dirty_kb_before": dirty,
        "leftover_processes": [p.name for p in live() if p.running],
        "harness_threads": harness_threads(),
    }
    out.update(await write_back(SYNC_DEADLINE_S))
    out["dirty_kb_after"] = dirty_kb()
    out.update(await quiet(quiet_deadline_s, QUIET_WINDOW_S, QUIET_CORES))
    out["waited_s"] = round(time.monotonic() - start, 2)
    out["speed_probe_ms"] = speed_probe_ms()
    return out


def summary(found: dict[str, Any]) -> str:
    """One line for the console: what was dirty, how long the wait took."""
    dirty = found["dirty_kb_before"]
    return (
        f"{dirty.get('Dirty', 0) / 1024:.0f} MB dirty, {dirty.get('Writeback', 0) / 1024:.0f} MB "
        f"under write-back; sync {found['sync_s']} s, quiet after {found['quiet_wait_s']} s "
        f"({found['busy_cores']} cores busy); speed probe {found['speed_probe_ms']} ms"
    )
