"""Invoking functions in other processes: workers, commands and URLs, with timeouts."""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import pathlib
import sys
import textwrap
import threading
from collections.abc import Iterator

import pytest

from meridian.config import FunctionConfig
from triggers.delivery import Result
from triggers.invoke import CommandInvoker, Invoker, PythonInvoker, UrlInvoker, make_invoker

HANDLERS = """
import asyncio, json, os, sys, time

calls = 0

def count(event):
    global calls
    calls += 1
    print("a print goes to the log, not to the protocol")
    return {"calls": calls, "records": len(event["Records"]), "pid": os.getpid()}

def fail(event, context):
    raise ValueError("bad record")

def hang(event):
    time.sleep(60)

def crash(event):
    os._exit(3)

def exits(event):
    sys.exit(5)

def remaining(event, context):
    return {"left": context.get_remaining_time_in_millis(), "name": context.function_name}

async def coroutine(event):
    await asyncio.sleep(0)
    return "async ok"
"""

EVENT = json.dumps({"Records": [{"eventID": "1"}, {"eventID": "2"}]})


@pytest.fixture
def env(tmp_path: pathlib.Path) -> dict[str, str]:
    (tmp_path / "handlers_for_test.py").write_text(HANDLERS)
    environment = dict(os.environ)
    environment["MERIDIAN_CONFIG"] = str(tmp_path / "group.yaml")
    environment["MERIDIAN_TRIGGER"] = "t1"
    return environment


def call(invoker: Invoker, payload: str = EVENT, timeout: float = 10.0) -> Result:
    return asyncio.run(invoker.invoke(payload, timeout))


def test_python_worker_stays_warm_between_calls(env: dict[str, str]) -> None:
    async def go() -> None:
        invoker = PythonInvoker("handlers_for_test:count", env)
        try:
            first = await invoker.invoke(EVENT, 10)
            second = await invoker.invoke(EVENT, 10)
        finally:
            await invoker.close()
        assert first.ok and second.ok
        assert first.response["records"] == 2
        assert second.response["calls"] == 2
        assert first.response["pid"] == second.response["pid"]

    asyncio.run(go())


def test_python_errors_timeouts_and_crashes_are_failed_calls(env: dict[str, str]) -> None:
    async def go() -> None:
        failing = PythonInvoker("handlers_for_test:fail", env)
        hanging = PythonInvoker("handlers_for_test:hang", env)
        crashing = PythonInvoker("handlers_for_test:crash", env)
        exiting = PythonInvoker("handlers_for_test:exits", env)
        try:
            results = await asyncio.gather(
                failing.invoke(EVENT, 10),
                hanging.invoke(EVENT, 0.5),
                crashing.invoke(EVENT, 10),
                exiting.invoke(EVENT, 10),
            )
            assert [r.ok for r in results] == [False] * 4
            assert results[0].error == "ValueError: bad record"
            assert results[1].error == "timed out after 0.5s (worker killed)"
            assert hanging.process is None  # killed; the next call starts a new worker
            assert results[2].error == "the worker exited with code 3"
            assert results[3].error == "SystemExit: 5"
            again = await failing.invoke(EVENT, 10)  # the same worker keeps serving
            assert again.error == "ValueError: bad record"
        finally:
            for invoker in (failing, hanging, crashing, exiting):
                await invoker.close()

    asyncio.run(go())


def test_python_context_and_async_functions(env: dict[str, str]) -> None:
    async def go() -> None:
        timed = PythonInvoker("handlers_for_test:remaining", env)
        awaited = PythonInvoker("handlers_for_test:coroutine", env)
        try:
            result, async_result = await asyncio.gather(
                timed.invoke(EVENT, 5), awaited.invoke(EVENT, 5)
            )
        finally:
            await timed.close()
            await awaited.close()
        assert result.ok and 4000 < result.response["left"] <= 5000
        assert result.response["name"] == "t1"
        assert async_result.response == "async ok"

    asyncio.run(go())


def test_python_function_that_cannot_be_loaded(env: dict[str, str]) -> None:
    async def go() -> None:
        for target, message in [
            ("no_such_module_here:f", "cannot load no_such_module_here:f: ModuleNotFoundError"),
            ("handlers_for_test:missing", "cannot load handlers_for_test:missing: AttributeError"),
        ]:
            invoker = PythonInvoker(target, env)
            result = await invoker.invoke(EVENT, 5)
            assert not result.ok
            assert result.error.startswith(message), result.error

    asyncio.run(go())


def script(tmp_path: pathlib.Path, body: str) -> list[str]:
    path = tmp_path / "cmd.py"
    path.write_text(textwrap.dedent(body))
    return [sys.executable, str(path)]


def test_command_gets_the_event_on_stdin(tmp_path: pathlib.Path) -> None:
    argv = script(
        tmp_path,
        """
        import json, sys
        event = json.load(sys.stdin)
        print(json.dumps({"batchItemFailures": [], "n": len(event["Records"])}))
        """,
    )
    result = call(CommandInvoker(tuple(argv), dict(os.environ)))
    assert result.ok and result.response == {"batchItemFailures": [], "n": 2}


def test_command_failures(tmp_path: pathlib.Path) -> None:
    failing = script(tmp_path, "import sys\nprint('no such list', file=sys.stderr)\nsys.exit(4)\n")
    result = call(CommandInvoker(tuple(failing), dict(os.environ)))
    assert not result.ok
    assert result.error == f"{sys.executable} exited with code 4: no such list"
    (tmp_path / "slow.py").write_text("import time\ntime.sleep(30)\n")
    slow = (sys.executable, str(tmp_path / "slow.py"))
    result = call(CommandInvoker(slow, dict(os.environ)), timeout=0.5)
    assert result.error == "timed out after 0.5s (command killed)"
    result = call(CommandInvoker(("/nonexistent/handler",), dict(os.environ)))
    assert result.error.startswith("cannot run /nonexistent/handler")


def test_command_that_ignores_stdin_and_prints_no_json(tmp_path: pathlib.Path) -> None:
    argv = script(tmp_path, "print('processed')\n")
    result = call(CommandInvoker(tuple(argv), dict(os.environ)), payload="x" * 1_000_000)
    assert result.ok and result.response is None


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/fail":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"database down")
            return
        reply = json.dumps({"seen": len(body["Records"])}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_url_posts_the_event(server: str) -> None:
    result = call(UrlInvoker(server + "/ok"))
    assert result.ok and result.response == {"seen": 2}
    result = call(UrlInvoker(server + "/fail"))
    assert result.error == f"HTTP 500 from {server}/fail: database down"
    result = call(UrlInvoker("http://127.0.0.1:9/"))
    assert not result.ok and "failed" in result.error


def test_make_invoker_by_kind(env: dict[str, str]) -> None:
    assert isinstance(make_invoker(FunctionConfig("python", ("m:f",)), env), PythonInvoker)
    assert isinstance(make_invoker(FunctionConfig("command", ("true",)), env), CommandInvoker)
    assert isinstance(make_invoker(FunctionConfig("url", ("http://x",)), env), UrlInvoker)
