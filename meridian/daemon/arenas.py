"""How many malloc arenas a daemon's process keeps (glibc only).

glibc gives threads that allocate at the same time arenas of their own, up to eight per
core, and each arena keeps the memory it freed for its own later use. gRPC's and RocksDB's
threads allocate in bursts (messages, memtables), so a daemon's resident memory grew with
arenas it hardly reuses. Two arenas took about 25 MB off a node's peak under load
(docs/performance.md, "Memory"). The limit is set once, at the start, before any thread
exists (glibc fixes the number of arenas when a thread first needs one);
`MALLOC_ARENA_MAX` in the environment, which glibc reads itself, wins.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping

ENV = "MALLOC_ARENA_MAX"
ARENAS = 2
M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def wanted(env: Mapping[str, str]) -> int | None:
    """The arena limit to set: ARENAS, or None when the environment sets its own."""
    return None if ENV in env else ARENAS


def limit(env: Mapping[str, str]) -> bool:
    """Set the arena limit of this process; whether it was set (False: the environment
    decides, or the C library has no mallopt, as on musl or macOS)."""
    arenas = wanted(env)
    if arenas is None:
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))
