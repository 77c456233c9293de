"""Node and replicator processes inside region namespaces: start, stop, kill -9, pause.

Each process runs as `ip netns exec <namespace> python -m regionnode|replicator --config
FILE --region NAME` (ip execs the command, so the pid we hold is Python's and signals reach
it directly), in its own session, with stdout and stderr appended to a log file under the
run's output directory. Restarts append to the same log after a marker line. Every wait has
a deadline and raises ProcessFailed with the log tail.

Clock skew: `env` may set MERIDIAN_TEST_CLOCK_OFFSET_MS, the test-only offset that
meridian.model.hlc adds to the wall clock of the process (read once at start; see README,
"Clock skew"); changing it takes a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

REPO = pathlib.Path(__file__).resolve().parent.parent
CLOCK_OFFSET_ENV = "MERIDIAN_TEST_CLOCK_OFFSET_MS"


class ProcessFailed(RuntimeError):
    """A process exited or did not become ready in time; the message ends with its log."""


class Proc:
    """One long-lived child process (a node or a replicator of one region)."""

    def __init__(
        self,
        name: str,
        ns: str,
        argv: list[str],
        log_path: pathlib.Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.ns = ns
        self.argv = argv
        self.log_path = log_path
        self.env = env or {}
        self.popen: subprocess.Popen[bytes] | None = None
        self.paused = False
        self.starts = 0
        self.exit_codes: list[int] = []
        self._collected = True

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was never started"
        return self.popen.pid

    def start(self) -> None:
        if self.alive():
            raise ProcessFailed(f"{self.name} is already running (pid {self.pid})")
        self._collect()
        env = dict(os.environ, PYTHONUNBUFFERED="1", **self.env)
        env.setdefault("LOG_LEVEL", "INFO")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"---- chaos: start #{self.starts + 1} at {time.time():.3f}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                ["ip", "netns", "exec", self.ns, *self.argv],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        self.paused = False
        self._collected = False

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def _collect(self) -> None:
        """Remember the exit code of the last incarnation once it has exited."""
        if not self._collected and self.popen is not None and self.popen.poll() is not None:
            self.exit_codes.append(self.popen.returncode)
            self._collected = True

    def signal(self, sig: int) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, sig)

    def kill9(self) -> None:
        """SIGKILL and wait for the process to be gone."""
        if self.paused:
            self.paused = False
        self.signal(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(10)
            self._collect()

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self.signal(signal.SIGCONT)
        self.paused = False

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (after SIGCONT if paused), then SIGKILL after `timeout`; the exit code."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.resume()
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait(10)
        self._collect()
        return self.popen.returncode

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def failure(self, what: str) -> ProcessFailed:
        return ProcessFailed(f"{self.name}: {what}; log {self.log_path}:\n{self.log_tail()}")

    async def wait_ready(
        self, probe: Callable[[], Awaitable[bool]], timeout: float = 30.0, what: str = "ready"
    ) -> float:
        """Poll `probe` until it returns True; seconds waited. Raises with the log tail."""
        start = time.monotonic()
        while True:
            if not self.alive():
                code = self.popen.returncode if self.popen is not None else None
                raise self.failure(f"exited with code {code} before it was {what}")
            with contextlib.suppress(Exception):
                if await probe():
                    return time.monotonic() - start
            if time.monotonic() - start > timeout:
                raise self.failure(f"not {what} after {timeout:.0f} s")
            await asyncio.sleep(0.1)


def meridian(module: str, config: pathlib.Path, region: str) -> list[str]:
    return [sys.executable, "-m", module, "--config", str(config), "--region", region]
