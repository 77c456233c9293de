"""Errors as one line of text, for table cells, status fields and log lines.

A gRPC error's ``str()`` spans several lines (status, details, debug_error_string); a
traceback spans many. Whatever an operator reads in a table or a log line is one line:
the status code and details of a gRPC error, the message of anything else.
"""

from __future__ import annotations

import grpc

LIMIT = 400  # characters; longer text is cut (the full text is in the process's log)


def one_line(text: str, limit: int = LIMIT) -> str:
    """Every run of whitespace (newlines and tabs included) as one space, at most `limit`
    characters (cut text ends with "...")."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def describe(exc: BaseException, limit: int = LIMIT) -> str:
    """An exception in one line: ``CODE: details`` for a gRPC error, else its message
    (its type name when it has none)."""
    if isinstance(exc, grpc.aio.AioRpcError | grpc.Call):
        code = exc.code()
        name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        return one_line(f"{name}: {exc.details() or 'no details'}", limit)
    return one_line(str(exc) or type(exc).__name__, limit)
