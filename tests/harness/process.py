"""Child processes of the tests, benchmarks and chaos runs: start, wait until ready, measure,
stop.

A Process runs its command from the repository, in a session of its own (a Ctrl-C in the
terminal reaches only the caller, which stops its children in order), stdout and stderr
appended to a log file after a line marking each start. A prefix such as `ip netns exec NS`
(see `in_namespace`) execs the command, so the pid is the program's and signals reach it.
Every wait has a deadline and raises with the end of the log. Peak resident set (VmHWM)
and CPU time (utime + stime) come from /proc.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Self

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.harness.waits import RETRY, ProcessFailed, eventually, wait_until

REPO = pathlib.Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
LOG_TAIL_LINES = 60
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_HEALTH = health_pb2.HealthCheckRequest(service="")
_LIVE: list[Process] = []  # started and not yet stopped, for stop_all


def python_argv(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def daemon_argv(module: str, config: pathlib.Path, region: str) -> list[str]:
    """A node, replicator or trigger runner of one region."""
    return python_argv(module, "--config", str(config), "--region", region)


def in_namespace(namespace: str, argv: Sequence[str]) -> list[str]:
    """The command run inside a network namespace (`ip` execs it: the pid stays its own)."""
    return ["ip", "netns", "exec", namespace, *argv]


class Process:
    """One child process and its log file; it may be started again after it stopped."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: pathlib.Path,
        *,
        env: Mapping[str, str] | None = None,
        role: str = "",
        mark_starts: bool = True,
    ) -> None:
        self.name = name
        self.role = role or name  # what it is, the same across restarts (e.g. "node us-east")
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env or {})  # on top of this process's environment, from the next start
        self.mark_starts = mark_starts
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.paused = False
        self.peak_rss_kb = 0  # VmHWM, refreshed by peak_rss() and on stop
        self._exits: list[int] = []  # exit codes of earlier starts

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        if self.running:
            raise self.failure(f"already running (pid {self.pid})")
        if self.popen is not None:
            self._exits.append(self.popen.returncode)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            if self.mark_starts:
                mark = f"--- starting {self.name} (start {self.starts + 1} at {time.time():.3f})"
                log.write(f"{mark} ---\n".encode())
                log.flush()
            self.popen = subprocess.Popen(
                self.argv,
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        self.paused = False
        if self not in _LIVE:
            _LIVE.append(self)
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was never started"
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    @property
    def exit_codes(self) -> list[int]:
        """The exit code of every start that has ended, in order."""
        code = self.returncode
        return [*self._exits, *([] if code is None else [code])]

    def send_signal(self, sig: int) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def pause(self) -> None:
        self.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self.send_signal(signal.SIGCONT)
        self.paused = False

    def kill9(self) -> None:
        """SIGKILL, and wait until it is gone."""
        self.paused = False
        self.send_signal(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(STOP_TIMEOUT_S)

    def stop(
        self, timeout: float = STOP_TIMEOUT_S, sig: int = signal.SIGTERM, *, check: bool = False
    ) -> int | None:
        """`sig` (after SIGCONT when paused), then SIGKILL to its whole session after
        `timeout`; the exit code. With `check`, having to kill it raises ProcessFailed."""
        if self.popen is None:
            return None
        self.peak_rss()
        killed = False
        if self.running:
            self.resume()
            self.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill_session()
                killed = True
        self._forget()
        if killed and check:
            raise self.failure(f"ignored {signal.Signals(sig).name} for {timeout}s; killed")
        return self.popen.returncode

    def cleanup(self) -> None:
        """Make sure it is gone, with anything else left in its session (test teardown)."""
        if self.running:
            self._kill_session()
        self._forget()

    def _kill_session(self) -> None:
        assert self.popen is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(STOP_TIMEOUT_S)

    def _forget(self) -> None:
        if self in _LIVE:
            _LIVE.remove(self)

    # ---------------------------------------------------------------- waits

    def wait_ready(
        self,
        probe: Callable[[], object],
        timeout: float = READY_TIMEOUT_S,
        what: str = "ready",
        retry: tuple[type[Exception], ...] = RETRY,
    ) -> float:
        """Call `probe` until it answers truthy while the process runs; seconds waited."""
        started = time.monotonic()

        def attempt() -> object:
            self._must_run(what)
            return probe()

        wait_until(attempt, timeout, f"{self.name}: {what}", logs=[self], retry=retry)
        return time.monotonic() - started

    async def wait_ready_async(
        self,
        probe: Callable[[], Awaitable[object]],
        timeout: float = READY_TIMEOUT_S,
        what: str = "ready",
        retry: tuple[type[Exception], ...] = RETRY,
    ) -> float:
        """wait_ready with a coroutine function as the probe."""
        started = time.monotonic()

        async def attempt() -> object:
            self._must_run(what)
            return await probe()

        await eventually(attempt, timeout, f"{self.name}: {what}", logs=[self], retry=retry)
        return time.monotonic() - started

    def wait_serving(self, endpoint: str, timeout: float = READY_TIMEOUT_S) -> float:
        """Until the gRPC health service at `endpoint` says SERVING; seconds waited."""
        with grpc.insecure_channel(endpoint) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            return self.wait_ready(
                lambda: _serving(stub.Check(_HEALTH, timeout=1.0)),
                timeout,
                f"serving at {endpoint}",
            )

    async def wait_serving_async(self, endpoint: str, timeout: float = READY_TIMEOUT_S) -> float:
        async with grpc.aio.insecure_channel(endpoint) as channel:
            stub = health_pb2_grpc.HealthStub(channel)

            async def probe() -> bool:
                return _serving(await stub.Check(_HEALTH, timeout=1.0))

            return await self.wait_ready_async(probe, timeout, f"serving at {endpoint}")

    def _must_run(self, what: str) -> None:
        if not self.running:
            raise self.failure(f"exited with code {self.returncode} while waiting for {what}")

    def wait_exit(self, timeout: float = READY_TIMEOUT_S) -> int:
        """Wait for it to exit by itself; its exit code."""
        assert self.popen is not None, f"{self.name} was never started"
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise self.failure(f"still running after {timeout}s") from None

    async def wait_exit_async(self, timeout: float = READY_TIMEOUT_S) -> int:
        async def exited() -> bool:
            return not self.running

        await eventually(exited, timeout, f"{self.name} to exit", logs=[self], interval=0.05)
        assert self.popen is not None
        return self.popen.returncode

    async def finish(self, timeout: float) -> int:
        """Wait for it to exit by itself, as it must, with code 0."""
        code = await self.wait_exit_async(timeout)
        if code != 0:
            raise self.failure(f"exited with code {code}")
        return code

    # ---------------------------------------------------------------- its log

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def log_section(self, lines: int = LOG_TAIL_LINES) -> str:
        return f"--- log of {self.name} ({self.log_path}) ---\n{self.log_tail(lines)}"

    def failure(self, what: str) -> ProcessFailed:
        return ProcessFailed(f"{self.name}: {what}\n{self.log_section()}")

    # ---------------------------------------------------------------- /proc readings

    def peak_rss(self) -> int:
        """Peak resident set size (kB) so far; kept after the process stops."""
        if self.running:
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
        """User + system CPU time used so far (0 once it has stopped)."""
        try:
            fields = pathlib.Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def _status_kb(self, field: str) -> int:
        try:
            text = pathlib.Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0


def _serving(reply: health_pb2.HealthCheckResponse) -> bool:
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def live() -> list[Process]:
    """The processes started and not stopped yet, oldest first."""
    return list(_LIVE)


def stop_all(procs: Sequence[Process] | None = None, timeout: float = 5.0) -> None:
    """Stop the given processes (default: every one started and not stopped yet, newest
    first): all are signalled first, then each is waited for."""
    procs = list(reversed(_LIVE)) if procs is None else list(procs)
    for proc in procs:
        if proc.running:
            proc.peak_rss()
            proc.resume()
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.stop(timeout)
