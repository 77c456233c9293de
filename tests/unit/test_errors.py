"""The one exception-to-status table, and the reason that travels in the status trailer."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from meridian.expressions import ExpressionError
from meridian.model.items import ItemError
from meridian.pb import node_pb2 as pb
from meridian.wire import errors
from meridian.wire.errors import ConditionFailed, Reason, TransactionCanceled, reason_of
from replicator.handshake import Refused

Code = grpc.StatusCode

CASES: list[tuple[BaseException, Code, Reason, str]] = [
    (ItemError("pk: missing"), Code.INVALID_ARGUMENT, Reason.INVALID_ARGUMENT, "pk: missing"),
    (
        ExpressionError("Invalid ConditionExpression: Syntax error"),
        Code.INVALID_ARGUMENT,
        Reason.INVALID_ARGUMENT,
        "Invalid ConditionExpression: Syntax error",
    ),
    (
        errors.MalformedRequest("not protobuf"),
        Code.INVALID_ARGUMENT,
        Reason.MALFORMED_REQUEST,
        "not protobuf",
    ),
    (
        ConditionFailed("condition failed: x"),
        Code.FAILED_PRECONDITION,
        Reason.CONDITION_FAILED,
        "condition failed: x",
    ),
    (
        TransactionCanceled(
            [pb.CancellationReason(code="None"), pb.CancellationReason(code="ValidationError")]
        ),
        Code.FAILED_PRECONDITION,
        Reason.TRANSACTION_CANCELED,
        "transaction canceled: [None, ValidationError]",
    ),
    (
        errors.TrimmedData("seq 3"),
        Code.FAILED_PRECONDITION,
        Reason.TRIMMED_DATA,
        "trimmed data: seq 3",
    ),
    (
        errors.ResyncNeeded("new node"),
        Code.FAILED_PRECONDITION,
        Reason.RESYNC_NEEDED,
        "resync needed: new node",
    ),
    (errors.NotReady("copying"), Code.FAILED_PRECONDITION, Reason.NOT_READY, "copying"),
    (
        errors.HandshakeRefused("other group"),
        Code.FAILED_PRECONDITION,
        Reason.HANDSHAKE_REFUSED,
        "handshake refused: other group",
    ),
    (
        errors.TableChanged("table 'orders': re-created"),
        Code.FAILED_PRECONDITION,
        Reason.TABLE_CHANGED,
        "table 'orders': re-created",
    ),
    (errors.Unauthenticated("no token"), Code.UNAUTHENTICATED, Reason.UNAUTHENTICATED, "no token"),
    (
        errors.PermissionDenied("read-only"),
        Code.PERMISSION_DENIED,
        Reason.PERMISSION_DENIED,
        "read-only",
    ),
    (errors.NotFound("table 'x'"), Code.NOT_FOUND, Reason.NOT_FOUND, "table 'x'"),
    (errors.AlreadyExists("t"), Code.ALREADY_EXISTS, Reason.ALREADY_EXISTS, "t"),
    (errors.Unavailable("stopping"), Code.UNAVAILABLE, Reason.UNAVAILABLE, "stopping"),
    (ConnectionAbortedError("closing"), Code.UNAVAILABLE, Reason.UNAVAILABLE, "closing"),
]


@pytest.mark.parametrize(
    ("exc", "code", "reason", "message"), CASES, ids=[type(c[0]).__name__ for c in CASES]
)
def test_each_expected_error_has_its_code_reason_and_message(
    exc: BaseException, code: Code, reason: Reason, message: str
) -> None:
    assert errors.status_of(exc) == (code, reason)
    assert errors.message_of(exc) == message


def test_the_cases_cover_the_whole_table() -> None:
    assert {type(c[0]) for c in CASES} == set(errors.STATUS)


def test_the_replicators_refusal_is_a_handshake_refusal() -> None:
    refused = Refused("region 'eu' is already linked from node a")
    assert errors.status_of(refused) == (Code.FAILED_PRECONDITION, Reason.HANDSHAKE_REFUSED)
    assert errors.message_of(refused).startswith("handshake refused: region 'eu'")


@pytest.mark.parametrize("exc", [RuntimeError("bug"), KeyError("k"), ValueError("v")])
def test_anything_else_is_a_bug(exc: BaseException) -> None:
    assert errors.status_of(exc) is None
    assert errors.INTERNAL == (Code.INTERNAL, Reason.INTERNAL)


def failed_call(
    code: Code, details: str, trailer: tuple[tuple[str, bytes], ...] = ()
) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailer), details=details
    )


def test_the_reason_travels_in_the_status_trailer() -> None:
    status = errors.rich_status(
        Code.FAILED_PRECONDITION, Reason.RESYNC_NEEDED, "resync needed: x", {"table": "t"}
    )
    assert status.code == Code.FAILED_PRECONDITION
    assert status.details == "resync needed: x"
    ((key, raw),) = status.trailing_metadata
    assert key == "grpc-status-details-bin"
    info = error_details_pb2.ErrorInfo()
    assert status_pb2.Status.FromString(raw).details[0].Unpack(info)
    assert (info.reason, info.domain, dict(info.metadata)) == (
        "RESYNC_NEEDED",
        "meridian",
        {"table": "t"},
    )
    call = failed_call(status.code, status.details, status.trailing_metadata)
    assert reason_of(call) == Reason.RESYNC_NEEDED


@pytest.mark.parametrize(
    "detail",
    [
        pb.ConditionCheckFailure(item=pb.Item(attributes={"pk": pb.AttributeValue(s="a")})),
        pb.TransactionCancellation(
            reasons=[pb.CancellationReason(code="ConditionalCheckFailed", message="m")]
        ),
    ],
)
def test_details_travel_after_the_reason(detail: pb.ConditionCheckFailure) -> None:
    status = errors.rich_status(
        Code.FAILED_PRECONDITION, Reason.CONDITION_FAILED, "x", details=[detail]
    )
    call = failed_call(status.code, status.details, status.trailing_metadata)
    assert reason_of(call) == Reason.CONDITION_FAILED
    assert errors.detail_of(call, type(detail)) == detail
    other = (
        pb.TransactionCancellation
        if isinstance(detail, pb.ConditionCheckFailure)
        else pb.ConditionCheckFailure
    )
    assert errors.detail_of(call, other) is None
    assert errors.detail_of(failed_call(Code.FAILED_PRECONDITION, "x"), type(detail)) is None


def _trailer(code: Code, message: str, domain: str = "meridian") -> tuple[tuple[str, bytes]]:
    status = status_pb2.Status(code=code.value[0], message=message)
    status.details.add().Pack(error_details_pb2.ErrorInfo(reason="RESYNC_NEEDED", domain=domain))
    return (("grpc-status-details-bin", status.SerializeToString()),)


@pytest.mark.parametrize(
    "call",
    [
        failed_call(Code.FAILED_PRECONDITION, "resync needed: but no trailer"),
        failed_call(Code.UNAVAILABLE, "failed to connect to all addresses"),
        failed_call(
            Code.FAILED_PRECONDITION, "x", _trailer(Code.FAILED_PRECONDITION, "x", "other")
        ),
        failed_call(Code.FAILED_PRECONDITION, "x", _trailer(Code.UNAVAILABLE, "x")),
        failed_call(Code.FAILED_PRECONDITION, "x", _trailer(Code.FAILED_PRECONDITION, "y")),
        grpc.RpcError("not a call"),
    ],
    ids=["no-trailer", "grpc-own", "other-domain", "code-mismatch", "message-mismatch", "bare"],
)
def test_no_reason_unless_a_meridian_server_gave_one(call: grpc.RpcError) -> None:
    assert reason_of(call) is None
