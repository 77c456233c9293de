"""Errors the node reports, and their one mapping to gRPC status codes."""

from __future__ import annotations

import grpc

from regionnode.items import ItemError
from regionnode.updates import ConditionFailed


class StartupError(Exception):
    """A process cannot start; the message says what to fix (exit code 3)."""


class NotFound(Exception):
    """An unknown table (or other named resource)."""


class AlreadyExists(Exception):
    """A table that exists already with another schema."""


class TrimmedData(Exception):
    """A stream position older than the retention window: the reader must resync."""


class ResyncNeeded(Exception):
    """Stream positions no longer line up (the origin's node changed): resync from a snapshot."""


class NotReady(Exception):
    """The region is bootstrapping and configured to refuse reads until it is ACTIVE."""


class Unavailable(Exception):
    """Retry later: shutting down, or a dependency is not reachable."""


STATUS: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    (ItemError, grpc.StatusCode.INVALID_ARGUMENT),
    (ConditionFailed, grpc.StatusCode.FAILED_PRECONDITION),
    (TrimmedData, grpc.StatusCode.FAILED_PRECONDITION),
    (ResyncNeeded, grpc.StatusCode.FAILED_PRECONDITION),
    (NotReady, grpc.StatusCode.FAILED_PRECONDITION),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (Unavailable, grpc.StatusCode.UNAVAILABLE),
    (ConnectionAbortedError, grpc.StatusCode.UNAVAILABLE),
)


def status_of(exc: BaseException) -> grpc.StatusCode | None:
    """The status code for an expected error; None for a bug (reported as INTERNAL)."""
    for kind, code in STATUS:
        if isinstance(exc, kind):
            return code
    return None


def message_of(exc: BaseException) -> str:
    if isinstance(exc, TrimmedData):
        return f"trimmed data: {exc}"
    if isinstance(exc, ResyncNeeded):
        return f"resync needed: {exc}"
    return str(exc)
