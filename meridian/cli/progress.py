"""A progress line for long work (bootstrap, resync): pure formatting plus a printer."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def line(done: int, total: int, size: int, elapsed: float, width: int = 30) -> str:
    """`[#####.....]  42%  4200/10000 entries  1.2 MB  3500/s  ETA 2s` (total 0: unknown)."""
    rate = done / elapsed if elapsed > 0 else 0.0
    if total > 0:
        fraction = min(1.0, done / total)
        filled = int(fraction * width)
        eta = f"ETA {max(0, total - done) / rate:.0f}s" if rate > 0 else "ETA ?"
        head = f"[{'#' * filled}{'.' * (width - filled)}] {fraction * 100:3.0f}%  {done}/{total}"
    else:
        head, eta = f"{done}", ""
    return f"{head} entries  {human_bytes(size)}  {rate:.0f}/s  {eta}".rstrip()


class Printer:
    """Rewrites one line on a terminal; prints a line every few seconds otherwise."""

    def __init__(self, out: TextIO = sys.stderr, every: float = 5.0) -> None:
        self.out = out
        self.tty = out.isatty()
        self.every = every
        self.start = time.monotonic()
        self._last = float("-inf")

    def update(self, done: int, total: int, size: int) -> None:
        now = time.monotonic()
        if not self.tty and now - self._last < self.every:
            return
        self._last = now
        text = line(done, total, size, now - self.start)
        self.out.write(f"\r{text}\x1b[K" if self.tty else f"{text}\n")
        self.out.flush()

    def finish(self) -> None:
        if self.tty:
            self.out.write("\n")
            self.out.flush()
