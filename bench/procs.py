"""Child processes of a benchmark run: start, wait until serving, measure, stop.

Every process is started in its own session (so a Ctrl-C in the terminal reaches only the
harness, which then stops its children in order) and registered; `stop_all` (also run at
exit) sends SIGTERM, waits, then SIGKILLs whatever is left. Memory and CPU figures come from
/proc: VmHWM (peak resident set) and utime + stime.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import pathlib
import signal
import subprocess
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

REPO = pathlib.Path(__file__).resolve().parent.parent
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_LIVE: list[Proc] = []


class ProcessFailed(RuntimeError):
    """A child exited or did not become ready; the message ends with its log tail."""


class Proc:
    """One child process with its log file."""

    def __init__(self, name: str, argv: list[str], log_dir: pathlib.Path, role: str = "") -> None:
        self.name = name
        self.role = role or name  # what it is, e.g. "node us-east" (the same across restarts)
        self.argv = argv
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self.peak_rss_kb = 0  # VmHWM, refreshed by peak_rss() and on stop

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} not started"
        return self.popen.pid

    def start(self) -> Proc:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.setdefault("LOG_LEVEL", "WARNING")
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        _LIVE.append(self)
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def _status_kb(self, field: str) -> int:
        try:
            text = pathlib.Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def peak_rss(self) -> int:
        """Peak resident set size (kB) so far; kept after the process stops."""
        if self.alive():
            self.peak_rss_kb = max(self.peak_rss_kb, self._status_kb("VmHWM"))
        return self.peak_rss_kb

    def reset_peak_rss(self) -> bool:
        """Start a new peak (VmHWM := current RSS, through /proc/PID/clear_refs), so the next
        peak_rss() covers only what follows; False when the kernel refused."""
        try:
            pathlib.Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        self.peak_rss_kb = 0
        return True

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far (0 once stopped)."""
        try:
            fields = pathlib.Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def finish(self, timeout: float) -> int:
        """Wait for the process to exit by itself; ProcessFailed on timeout or failure."""
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() > deadline:
                self.stop()
                raise ProcessFailed(
                    f"{self.name} still running after {timeout}s:\n{self.log_tail()}"
                )
            await asyncio.sleep(0.05)
        code = self.popen.returncode  # type: ignore[union-attr]
        self.stop()
        if code != 0:
            raise ProcessFailed(f"{self.name} exited with {code}:\n{self.log_tail()}")
        return code

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        if self.popen is None:
            return None
        self.peak_rss()
        if self.popen.poll() is None:
            _signal(self.popen, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal(self.popen, signal.SIGKILL)
                self.popen.wait(5)
        if self in _LIVE:
            _LIVE.remove(self)
        return self.popen.returncode


def _signal(popen: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(popen.pid, sig)


def python(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def stop_all() -> None:
    """Stop every child still running: all get SIGTERM first, then each is waited for."""
    procs = list(reversed(_LIVE))
    for proc in procs:
        if proc.alive():
            proc.peak_rss()
            _signal(proc.popen, signal.SIGTERM)  # type: ignore[arg-type]
    for proc in procs:
        proc.stop(timeout=5)


atexit.register(stop_all)


async def wait_serving(address: str, proc: Proc, timeout: float = 30.0) -> float:
    """Wait until the gRPC health service at `address` says SERVING; returns seconds waited."""
    start = time.monotonic()
    async with grpc.aio.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            if not proc.alive():
                code = proc.popen.returncode if proc.popen is not None else None
                raise ProcessFailed(f"{proc.name} exited ({code}):\n{proc.log_tail()}")
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return time.monotonic() - start
            except grpc.aio.AioRpcError:
                pass
            if time.monotonic() - start > timeout:
                raise ProcessFailed(f"{proc.name} not serving after {timeout}s:\n{proc.log_tail()}")
            await asyncio.sleep(0.05)
