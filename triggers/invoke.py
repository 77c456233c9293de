"""Running user functions, always outside the runner's process.

- ``python: module:function``: a long-lived worker subprocess (``python -m triggers.worker``)
  per lane, reused between invocations like a warm Lambda container. Requests and replies
  are JSON lines on its stdin and a private copy of its stdout (the function's own prints
  go to the runner's log).
- ``command: [argv...]``: a new process per invocation, the event as JSON on stdin; exit
  code 0 is success, and stdout, when it holds JSON, is the response.
- ``url: http://...``: an HTTP POST of the event; a 2xx status is success, and a JSON body
  is the response.

A timeout kills the worker or command (its whole process group); a crash, a non-zero exit
or an HTTP error is a failed invocation. Nothing a function does can stop the runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol

from meridian.config import FunctionConfig
from triggers.delivery import Result

MAX_LINE = 256 * 1024 * 1024  # longest reply line from a worker
ERROR_TAIL = 2000  # characters of stderr or an HTTP body kept in an error message
WORKER_START_S = 30.0  # importing the function may take a while (not part of the timeout)


class Invoker(Protocol):
    async def invoke(self, payload: str, timeout_s: float) -> Result: ...

    async def close(self) -> None: ...


def make_invoker(function: FunctionConfig, env: Mapping[str, str]) -> Invoker:
    if function.kind == "python":
        return PythonInvoker(function.target[0], env)
    if function.kind == "command":
        return CommandInvoker(function.target, env)
    return UrlInvoker(function.target[0])


def _kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL the process's group (it was started in a session of its own).

    Not ``process.kill()``: it polls, reaping the child behind asyncio's back (whose watcher
    then reports exit code 255 instead of the real one).
    """
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def exit_text(code: int | None) -> str:
    if code is None:
        return "is still running"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _tail(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace").strip()
    return text[-ERROR_TAIL:]


def _json_or_none(data: bytes) -> Any:
    text = data.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _seconds(timeout_s: float) -> str:
    return f"{timeout_s:g}s"


class PythonInvoker:
    """A worker subprocess calling ``module:function``; restarted after a crash or timeout."""

    def __init__(self, target: str, env: Mapping[str, str]) -> None:
        self.target = target
        self.env = dict(env)
        self.process: asyncio.subprocess.Process | None = None

    async def _start(self) -> str | None:
        """Start the worker and wait until it has loaded the function; an error or None."""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "triggers.worker",
            self.target,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=self.env,
            start_new_session=True,
            limit=MAX_LINE,
        )
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), WORKER_START_S)
        except TimeoutError:
            await self.close()
            return f"the worker did not load {self.target} within {WORKER_START_S:g}s"
        hello = _json_or_none(line)
        if not isinstance(hello, dict) or not hello.get("ready"):
            await self.close()
            if isinstance(hello, dict) and hello.get("error"):
                return str(hello["error"])
            return f"the worker for {self.target} exited while starting"
        return None

    async def invoke(self, payload: str, timeout_s: float) -> Result:
        if self.process is None or self.process.returncode is not None:
            error = await self._start()
            if error is not None:
                return Result(False, error=error)
        process = self.process
        assert process is not None and process.stdin is not None and process.stdout is not None
        request = f'{{"timeout_ms":{int(timeout_s * 1000)},"event":{payload}}}\n'.encode()
        try:
            process.stdin.write(request)
            line = await asyncio.wait_for(self._reply(process), timeout_s)
        except TimeoutError:
            await self.close()
            return Result(False, error=f"timed out after {_seconds(timeout_s)} (worker killed)")
        except (BrokenPipeError, ConnectionResetError):
            line = b""
        except asyncio.CancelledError:
            _kill(process)  # in the middle of a call: the worker's state is unknown
            raise
        if not line:
            await self.close()
            return Result(False, error=f"the worker {exit_text(process.returncode)}")
        reply = _json_or_none(line)
        if not isinstance(reply, dict):
            await self.close()
            return Result(False, error="the worker sent a malformed reply")
        if reply.get("ok"):
            return Result(True, response=reply.get("result"))
        return Result(False, error=str(reply.get("error") or "the function failed"))

    @staticmethod
    async def _reply(process: asyncio.subprocess.Process) -> bytes:
        assert process.stdin is not None and process.stdout is not None
        await process.stdin.drain()
        return await process.stdout.readline()

    async def close(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        _kill(process)
        await process.wait()


class CommandInvoker:
    """A new process per invocation with the event on stdin."""

    def __init__(self, argv: tuple[str, ...], env: Mapping[str, str]) -> None:
        self.argv = argv
        self.env = dict(env)

    async def invoke(self, payload: str, timeout_s: float) -> Result:
        try:
            process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self.env,
                start_new_session=True,
            )
        except OSError as exc:
            return Result(False, error=f"cannot run {self.argv[0]}: {exc.strerror or exc}")
        try:
            out, err = await asyncio.wait_for(process.communicate(payload.encode()), timeout_s)
        except TimeoutError:
            _kill(process)
            await process.wait()
            return Result(False, error=f"timed out after {_seconds(timeout_s)} (command killed)")
        except asyncio.CancelledError:
            _kill(process)
            raise
        if err:
            sys.stderr.buffer.write(err if err.endswith(b"\n") else err + b"\n")
            sys.stderr.flush()
        if process.returncode != 0:
            detail = _tail(err)
            return Result(
                False,
                error=f"{self.argv[0]} {exit_text(process.returncode)}"
                + (f": {detail}" if detail else ""),
            )
        return Result(True, response=_json_or_none(out))

    async def close(self) -> None:
        return None


def _post(url: str, body: bytes, timeout_s: float) -> Result:
    request = urllib.request.Request(  # noqa: S310 - the URL is checked to be http(s) by config
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "meridian-triggers"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return Result(True, response=_json_or_none(response.read()))
    except urllib.error.HTTPError as exc:
        detail = _tail(exc.read())
        return Result(
            False, error=f"HTTP {exc.code} from {url}" + (f": {detail}" if detail else "")
        )
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Result(False, error=f"POST {url} failed: {reason}")


class UrlInvoker:
    """An HTTP POST per invocation (in a thread; the socket timeout bounds it)."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def invoke(self, payload: str, timeout_s: float) -> Result:
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(_post, self.url, payload.encode(), timeout_s), timeout_s + 1
            )
        except TimeoutError:
            return Result(False, error=f"timed out after {_seconds(timeout_s)}")

    async def close(self) -> None:
        return None
