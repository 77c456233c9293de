"""Which event loop the daemons run on: uvloop's when it is installed, else asyncio's.

uvloop takes less of the node's CPU per call at both doors (about 6-11% per gRPC PutItem or
GetItem, 8-19% per HTTP PutItem, docs/performance.md); nothing else changes. Where it cannot
be installed (it is a compiled package), the daemons run on asyncio's loop as before.
`MERIDIAN_EVENT_LOOP=asyncio` picks asyncio's loop anyway (to compare the two, or to rule
uvloop out when chasing a problem). The trigger runner always runs on asyncio's loop: it
drives worker processes through pipes, where uvloop's transports raise RuntimeError on a write
after the worker exited (asyncio raises the BrokenPipeError the runner handles), and its CPU
goes to the workers, not to the loop.

The daemons also shorten the interpreter's thread switch interval (`tune_threads`): a thread
that wants the GIL (the node's commit thread, handed the next commit or done with its fsync)
waits for the event loop to let it go, up to the switch interval while the loop runs Python
(Python's default: 5 ms). 0.1 ms bounds that wait; under 32 PutItem calls in flight with
fsync it raised the puts per commit and the rate (docs/performance.md "The commit path").
Only a process with more than one Python thread wanting the GIL switches more often.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Callable, Mapping

EVENT_LOOP_ENV = "MERIDIAN_EVENT_LOOP"
CHOICES = ("uvloop", "asyncio")
ASYNCIO = {EVENT_LOOP_ENV: "asyncio"}  # an environment that picks asyncio's loop

SWITCH_INTERVAL_S = 0.0001  # Python's default: 0.005

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def choose(env: Mapping[str, str], uvloop_installed: bool) -> str:
    """The loop to run: the environment's choice, else uvloop when installed. ValueError
    names a choice that is unknown, or uvloop asked for and not installed."""
    wanted = env.get(EVENT_LOOP_ENV, "")
    if wanted and wanted not in CHOICES:
        raise ValueError(f"{EVENT_LOOP_ENV}: expected one of {', '.join(CHOICES)}, got {wanted!r}")
    if wanted == "uvloop" and not uvloop_installed:
        raise ValueError(f"{EVENT_LOOP_ENV}=uvloop, but uvloop is not installed")
    return wanted or ("uvloop" if uvloop_installed else "asyncio")


def loop_factory(env: Mapping[str, str]) -> tuple[str, LoopFactory | None]:
    """The chosen loop's name and its factory for asyncio.Runner (None: asyncio's own)."""
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        uvloop = None
    name = choose(env, uvloop is not None)
    if name == "uvloop":
        assert uvloop is not None
        return name, uvloop.new_event_loop
    return name, None


def tune_threads() -> None:
    """Shorten the thread switch interval of this process (see the module's docstring)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
