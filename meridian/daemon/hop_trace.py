"""An opt-in trace of the replication hops, for finding where the lag goes.

`MERIDIAN_HOP_TRACE=PREFIX` makes each daemon append one line per event to `PREFIX.<pid>`:
the wall clock (`time.time()`, one clock for every process of the host), the daemon's
region, the event and its fields. The events: a replicator's link writing a batch to its
node's apply stream (`send`), the node receiving it (`recv`) and the batch durable there
(`durable`), each named by (origin, table, source sequence); and every commit of a node's
writer (`commit`: operations, ms idle before it, ms from staging to durable).
`python -m bench.hops` reads them beside a bench result (docs/performance.md "Lag at low
load and over the WAN"). Unset (the default), `event` and `on_done` only test a global.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from typing import Any, TextIO

HOP_TRACE_ENV = "MERIDIAN_HOP_TRACE"

_out: TextIO | None = None
_region = ""


def start(region: str, env: Mapping[str, str]) -> None:
    """Trace this process's events when the environment asks for it (once per process)."""
    global _out, _region
    prefix = env.get(HOP_TRACE_ENV, "")
    if prefix and _out is None:
        _out = open(f"{prefix}.{os.getpid()}", "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - open for the process's life
        _region = region


def event(kind: str, *fields: object) -> None:
    """Record one event now (nothing unless tracing)."""
    if _out is not None:
        _out.write(line(time.time(), _region, kind, fields))


def on_done(future: asyncio.Future[Any], kind: str, *fields: object) -> None:
    """Record an event when `future` ends (nothing unless tracing)."""
    if _out is not None:
        future.add_done_callback(lambda _: event(kind, *fields))


def line(at: float, region: str, kind: str, fields: tuple[object, ...]) -> str:
    """One event as a line: time, region, kind, then the fields, space-separated (a float
    to the microsecond of its ms)."""
    shown = (f"{f:.3f}" if isinstance(f, float) else str(f) for f in fields)
    return " ".join((f"{at:.6f}", region or "-", kind, *shown)) + "\n"
