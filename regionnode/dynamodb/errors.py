"""DynamoDB's error shapes, and the one mapping from the node's exceptions to them.

An error is sent as HTTP 400 (the client's fault) or 500 (the server's) with the body
``{"__type": "com.amazonaws.dynamodb.v20120810#<Code>", "message": "..."}``; SDKs read
the code after ``#`` (their retry logic and user code branch on it), never the message.
"""

from __future__ import annotations

import logging
from typing import Any

from meridian.expressions import ExpressionError
from meridian.model.items import ItemError
from meridian.pb import node_pb2 as pb
from meridian.security.access import PermissionDenied
from meridian.security.sigv4 import SignatureError
from meridian.wire.errors import (
    ConditionFailed,
    NotFound,
    NotReady,
    TransactionCanceled,
    TrimmedData,
    Unavailable,
)
from regionnode.dynamodb.convert import item_out

log = logging.getLogger(__name__)

PREFIX = "com.amazonaws.dynamodb.v20120810#"
CORAL = "com.amazon.coral.service#"  # DynamoDB's front end: serialization, routing, auth
VALIDATION = "ValidationException"
# Errors whose message member DynamoDB writes with a capital M.
_CAPITAL_MESSAGE = frozenset({"TransactionCanceledException", "SerializationException"})
INVALID = "One or more parameter values were invalid: "


class DynamoError(Exception):
    """A refusal in DynamoDB's terms: `code` (e.g. ValidationException), its message, the
    HTTP status and extra members of the error body (Item, CancellationReasons)."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 400,
        extra: dict[str, Any] | None = None,
        type_prefix: str = PREFIX,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra or {}
        self.type_prefix = type_prefix

    def body(self) -> dict[str, Any]:
        member = "Message" if self.code in _CAPITAL_MESSAGE else "message"
        return {"__type": self.type_prefix + self.code, member: self.message, **self.extra}


def serialization(message: str) -> DynamoError:
    """A body that is not what the operation's shape says (not JSON, wrong member types)."""
    return DynamoError("SerializationException", message, type_prefix=CORAL)


def validation(message: str) -> DynamoError:
    return DynamoError(VALIDATION, message)


def _condition_failed(exc: ConditionFailed) -> DynamoError:
    extra = {"Item": item_out(exc.item)} if exc.item is not None else None
    return DynamoError(
        "ConditionalCheckFailedException", "The conditional request failed", extra=extra
    )


def _reason(reason: pb.CancellationReason) -> dict[str, Any]:
    out: dict[str, Any] = {"Code": reason.code}
    if reason.code == "ConditionalCheckFailed":
        out["Message"] = "The conditional request failed"
    elif reason.message:
        out["Message"] = reason.message
    if reason.HasField("item"):
        out["Item"] = item_out(reason.item)
    return out


def _canceled(exc: TransactionCanceled) -> DynamoError:
    codes = ", ".join(reason.code for reason in exc.reasons)
    message = (
        f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]"
    )
    reasons = [_reason(reason) for reason in exc.reasons]
    return DynamoError(
        "TransactionCanceledException", message, extra={"CancellationReasons": reasons}
    )


def to_dynamo(exc: BaseException) -> DynamoError:
    """The DynamoDB error for an exception raised while serving a request. Anything not
    expected is a bug: logged, and answered with a 500 that says nothing of it."""
    if isinstance(exc, DynamoError):
        return exc
    if isinstance(exc, ExpressionError):
        return DynamoError(exc.code, exc.message)
    if isinstance(exc, ItemError):
        return validation(INVALID + str(exc))
    if isinstance(exc, ConditionFailed):
        return _condition_failed(exc)
    if isinstance(exc, TransactionCanceled):
        return _canceled(exc)
    if isinstance(exc, NotFound):
        return DynamoError("ResourceNotFoundException", f"Requested resource not found: {exc}")
    if isinstance(exc, TrimmedData):
        return DynamoError("TrimmedDataAccessException", str(exc))
    if isinstance(exc, PermissionDenied):
        return DynamoError("AccessDeniedException", str(exc))
    if isinstance(exc, SignatureError):
        return DynamoError(str(exc.code), exc.message, exc.status, type_prefix=CORAL)
    if isinstance(exc, NotReady | Unavailable | ConnectionAbortedError):
        return DynamoError("ServiceUnavailable", str(exc) or "the node is stopping", 503)
    log.error("DynamoDB API request failed", exc_info=exc)
    return DynamoError("InternalServerError", "Internal server error", 500)
