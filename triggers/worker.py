"""``python -m triggers.worker module:function``: runs one trigger function, warm.

Protocol (one JSON document per line): after loading the function the worker writes
``{"ready": true}`` (or ``{"ready": false, "error": ...}`` and exits); then for every request
``{"timeout_ms": N, "event": {...}}`` on stdin it calls the function and replies
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": ...}``. Replies go to a private
copy of stdout; the function's prints go to stderr (the runner's log). EOF on stdin ends it.

The function is called as ``function(event, context)`` when it takes two arguments (Lambda's
signature), else ``function(event)``; ``async def`` functions are awaited. ``context`` has
``function_name``, ``invocation_id`` (also as ``aws_request_id``), ``region``, ``table``,
``node`` (the region node's endpoint) and ``get_remaining_time_in_millis()``.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from typing import IO, Any

__all__ = ["Context", "load", "main"]


class Context:
    """What a function can learn about its invocation (Lambda's context object)."""

    def __init__(self, timeout_ms: int) -> None:
        self.function_name = os.environ.get("MERIDIAN_TRIGGER", "")
        self.region = os.environ.get("MERIDIAN_REGION", "")
        self.table = os.environ.get("MERIDIAN_TABLE", "")
        self.node = os.environ.get("MERIDIAN_NODE", "")
        self.invocation_id = uuid.uuid4().hex
        self.aws_request_id = self.invocation_id
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load(target: str) -> Callable[..., Any]:
    """The callable named ``module:function`` (attributes may be dotted)."""
    module_name, _, attribute = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"{target} is not callable")
    return obj


def _takes_context(function: Callable[..., Any]) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = 0
    for p in parameters:
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            return True
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= 2


def _send(out: IO[str], message: dict[str, Any]) -> None:
    out.write(json.dumps(message, default=str, ensure_ascii=False) + "\n")
    out.flush()


def _search_path() -> None:
    """Functions are found from the working directory and the group file's directory."""
    config = os.environ.get("MERIDIAN_CONFIG")
    for directory in (os.getcwd(), os.path.dirname(config) if config else ""):
        if directory and directory not in sys.path:
            sys.path.insert(0, directory)


def serve(function: Callable[..., Any], requests: IO[str], out: IO[str]) -> None:
    with_context = _takes_context(function)
    is_async = inspect.iscoroutinefunction(function)
    loop = asyncio.new_event_loop() if is_async else None
    for line in requests:
        request = json.loads(line)
        context = Context(int(request.get("timeout_ms", 0)))
        args = (request["event"], context) if with_context else (request["event"],)
        try:
            result = function(*args)
            if loop is not None:
                result = loop.run_until_complete(result)
        except BaseException as exc:  # any failure of user code is a failed call
            traceback.print_exc()
            _send(out, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
            if isinstance(exc, KeyboardInterrupt):
                raise
            continue
        _send(out, {"ok": True, "result": result})


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m triggers.worker module:function", file=sys.stderr)
        return 2
    # Keep the protocol channel private: fd 1 becomes stderr for the function's prints.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    _search_path()
    try:
        function = load(args[0])
    except BaseException as exc:  # noqa: BLE001 - report any import failure to the runner
        traceback.print_exc()
        _send(out, {"ready": False, "error": f"cannot load {args[0]}: {type(exc).__name__}: {exc}"})
        return 1
    _send(out, {"ready": True})
    with open(sys.stdin.fileno(), encoding="utf-8", closefd=False) as requests:
        serve(function, requests, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
