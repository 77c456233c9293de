"""Errors the node and the replicator report, and their one mapping to gRPC statuses.

Every error that crosses the wire carries a machine-readable reason: a google.rpc ErrorInfo
(domain ``meridian``) in the call's rich status (the ``grpc-status-details-bin`` trailer).
Clients branch on ``reason_of(exc)``, never on the message, which is for people.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import NoReturn, TypeVar

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from meridian.expressions import ExpressionError
from meridian.model.items import ItemError
from meridian.pb import node_pb2 as pb

DOMAIN = "meridian"


class ConditionFailed(Exception):
    """A write's condition (its ConditionExpression, or the expected version) does not hold;
    nothing was written. `item` is the current item when the request asked for it
    (ReturnValuesOnConditionCheckFailure ALL_OLD) and there is one; the status details
    carry it in a ConditionCheckFailure."""

    def __init__(self, message: str, item: pb.Item | None = None) -> None:
        super().__init__(message)
        self.item = item

    @property
    def status_details(self) -> list[Message]:
        return [pb.ConditionCheckFailure(item=self.item)]


class TransactionCanceled(Exception):
    """A transaction of which some action failed: nothing was written. One reason per
    action, in order (code ``None`` for the actions that would have succeeded); the codes
    go into the ErrorInfo metadata, the reasons into the status details."""

    def __init__(self, reasons: list[pb.CancellationReason]) -> None:
        codes = [reason.code for reason in reasons]
        super().__init__(f"transaction canceled: [{', '.join(codes)}]")
        self.reasons = reasons
        self.metadata = {"cancellation_reasons": ",".join(codes)}

    @property
    def status_details(self) -> list[Message]:
        return [pb.TransactionCancellation(reasons=self.reasons)]


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


class MalformedRequest(Exception):
    """A request that cannot be decoded: not protobuf, invalid UTF-8, or nested too deeply."""


class HandshakeRefused(Exception):
    """A peer that may not replicate with this region (the replicator's handshake guards)."""


class TableChanged(Exception):
    """Replicated records of another incarnation of a table (deleted, or created anew)."""


class Unauthenticated(Exception):
    """A call without valid credentials for its door (token, certificate or access key);
    `metadata` goes into the ErrorInfo (why, for machines)."""

    def __init__(self, message: str, **metadata: str) -> None:
        super().__init__(message)
        self.metadata = metadata


class PermissionDenied(Exception):
    """A caller whose credentials do not allow this call (a read-only key writing, say);
    `metadata` goes into the ErrorInfo."""

    def __init__(self, message: str, **metadata: str) -> None:
        super().__init__(message)
        self.metadata = metadata


class Reason(enum.StrEnum):
    """The ErrorInfo reasons of domain ``meridian`` (listed in docs/architecture.md)."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    MALFORMED_REQUEST = "MALFORMED_REQUEST"
    CONDITION_FAILED = "CONDITION_FAILED"
    TRANSACTION_CANCELED = "TRANSACTION_CANCELED"
    TRIMMED_DATA = "TRIMMED_DATA"
    RESYNC_NEEDED = "RESYNC_NEEDED"
    NOT_READY = "NOT_READY"
    HANDSHAKE_REFUSED = "HANDSHAKE_REFUSED"
    TABLE_CHANGED = "TABLE_CHANGED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"


Code = grpc.StatusCode
D = TypeVar("D", bound=Message)

# The one table: expected exception -> (status code, reason). First match wins.
STATUS: dict[type[BaseException], tuple[grpc.StatusCode, Reason]] = {
    ItemError: (Code.INVALID_ARGUMENT, Reason.INVALID_ARGUMENT),
    ExpressionError: (Code.INVALID_ARGUMENT, Reason.INVALID_ARGUMENT),
    MalformedRequest: (Code.INVALID_ARGUMENT, Reason.MALFORMED_REQUEST),
    ConditionFailed: (Code.FAILED_PRECONDITION, Reason.CONDITION_FAILED),
    TransactionCanceled: (Code.FAILED_PRECONDITION, Reason.TRANSACTION_CANCELED),
    TrimmedData: (Code.FAILED_PRECONDITION, Reason.TRIMMED_DATA),
    ResyncNeeded: (Code.FAILED_PRECONDITION, Reason.RESYNC_NEEDED),
    NotReady: (Code.FAILED_PRECONDITION, Reason.NOT_READY),
    HandshakeRefused: (Code.FAILED_PRECONDITION, Reason.HANDSHAKE_REFUSED),
    TableChanged: (Code.FAILED_PRECONDITION, Reason.TABLE_CHANGED),
    Unauthenticated: (Code.UNAUTHENTICATED, Reason.UNAUTHENTICATED),
    PermissionDenied: (Code.PERMISSION_DENIED, Reason.PERMISSION_DENIED),
    NotFound: (Code.NOT_FOUND, Reason.NOT_FOUND),
    AlreadyExists: (Code.ALREADY_EXISTS, Reason.ALREADY_EXISTS),
    Unavailable: (Code.UNAVAILABLE, Reason.UNAVAILABLE),
    ConnectionAbortedError: (Code.UNAVAILABLE, Reason.UNAVAILABLE),
}
INTERNAL = (Code.INTERNAL, Reason.INTERNAL)  # anything else: a bug


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, Reason] | None:
    """The status code and reason of an expected error; None for a bug (sent as INTERNAL)."""
    for kind, status in STATUS.items():
        if isinstance(exc, kind):
            return status
    return None


def message_of(exc: BaseException) -> str:
    if isinstance(exc, TrimmedData):
        return f"trimmed data: {exc}"
    if isinstance(exc, ResyncNeeded):
        return f"resync needed: {exc}"
    if isinstance(exc, HandshakeRefused):
        return f"handshake refused: {exc}"
    return str(exc)


# --------------------------------------------------------------------------- server side


def rich_status(
    code: grpc.StatusCode,
    reason: str,
    message: str,
    metadata: Mapping[str, str] | None = None,
    details: Sequence[Message] = (),
) -> grpc.Status:
    """A status whose trailer carries the ErrorInfo with `reason` (and `metadata`), then
    `details`."""
    info = error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata=metadata or {})
    status = status_pb2.Status(code=code.value[0], message=message)
    status.details.add().Pack(info)
    for detail in details:
        status.details.add().Pack(detail)
    return rpc_status.to_status(status)


async def abort_with(
    context: grpc.aio.ServicerContext,
    code: grpc.StatusCode,
    reason: str,
    message: str,
    metadata: Mapping[str, str] | None = None,
    details: Sequence[Message] = (),
) -> NoReturn:
    status = rich_status(code, reason, message, metadata, details)
    await context.abort(status.code, status.details, status.trailing_metadata)
    raise AssertionError("abort returned")  # abort raises; this keeps type checkers informed


async def abort(context: grpc.aio.ServicerContext, exc: BaseException, **metadata: str) -> NoReturn:
    """End the call with the status of `exc` from the table (INTERNAL when it is not there),
    with the exception's own ErrorInfo metadata and status details, if any, and `metadata`."""
    code, reason = status_of(exc) or INTERNAL
    details = {**getattr(exc, "metadata", {}), **metadata}
    extra = getattr(exc, "status_details", ())
    await abort_with(context, code, reason, message_of(exc), details, extra)


async def forward(
    context: grpc.aio.ServicerContext, exc: grpc.aio.AioRpcError, message: str = ""
) -> NoReturn:
    """End the call with the status of a failed call to another server, reason included.

    A failure that carries no reason (raised by gRPC itself: unreachable, deadline...) is
    given its status code's name as reason.
    """
    info = error_info_of(exc)
    reason = info.reason if info is not None else exc.code().name
    metadata = dict(info.metadata) if info is not None else {}
    text = message or exc.details() or exc.code().name
    await abort_with(context, exc.code(), reason, text, metadata)


# --------------------------------------------------------------------------- client side


def error_info_of(exc: grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The ErrorInfo of domain ``meridian`` that a failed call carries, if any."""
    if not callable(getattr(exc, "trailing_metadata", None)):
        return None
    try:
        status = rpc_status.from_call(exc)
    except ValueError:  # a trailer that does not match the call's status: not ours
        return None
    if status is None:
        return None
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info) and info.domain == DOMAIN:
            return info
    return None


def detail_of(exc: grpc.RpcError, kind: type[D]) -> D | None:
    """The status detail of type `kind` (a ConditionCheckFailure, a TransactionCancellation)
    that a failed call carries, if any."""
    if not callable(getattr(exc, "trailing_metadata", None)):
        return None
    try:
        status = rpc_status.from_call(exc)
    except ValueError:
        return None
    for detail in status.details if status is not None else ():
        found = kind()
        if detail.Unpack(found):
            return found
    return None


def reason_of(exc: grpc.RpcError) -> str | None:
    """The machine-readable reason of a failed call (a ``Reason`` value), or None when the
    failure did not come from a Meridian server (unreachable, deadline, cancelled...)."""
    info = error_info_of(exc)
    return info.reason if info is not None else None
