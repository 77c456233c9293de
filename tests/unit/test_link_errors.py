"""How a link classifies a failed call: by the reason in its status, never by its text."""

from __future__ import annotations

import grpc
import pytest
from prometheus_client import CollectorRegistry

from meridian.wire import errors
from meridian.wire.errors import Reason
from replicator.link import Link, LinkSettings, state_after
from replicator.metrics import ReplicatorMetrics
from replicator.pins import Pins


class PlainDialer:
    """Plaintext channels, as a group without a tls section dials."""

    def channel(self, address: str, region: str) -> grpc.aio.Channel:
        return grpc.aio.insecure_channel(address)


Code = grpc.StatusCode


@pytest.mark.parametrize(
    ("reason", "state"),
    [
        (Reason.RESYNC_NEEDED, "RESYNC_NEEDED"),
        (Reason.TRIMMED_DATA, "RESYNC_NEEDED"),
        (Reason.HANDSHAKE_REFUSED, "REFUSED"),
        (Reason.CONDITION_FAILED, "DOWN"),
        (Reason.NOT_READY, "DOWN"),
        (Reason.INVALID_ARGUMENT, "DOWN"),
        (Reason.MALFORMED_REQUEST, "DOWN"),
        (Reason.NOT_FOUND, "DOWN"),
        (Reason.UNAVAILABLE, "DOWN"),
        (Reason.INTERNAL, "DOWN"),
        ("SOMETHING_NEW", "DOWN"),
        (None, "DOWN"),
    ],
)
def test_only_resync_reasons_start_a_resync(reason: str | None, state: str) -> None:
    assert state_after(reason) == state


def link() -> Link:
    return Link(
        peer="eu",
        address="127.0.0.1:1",
        node=None,  # type: ignore[arg-type]
        region="us",
        members=["us", "eu"],
        settings=LinkSettings(),
        metrics=ReplicatorMetrics(CollectorRegistry()),
        pins=Pins(None, "us"),  # type: ignore[arg-type]
        dialer=PlainDialer(),  # type: ignore[arg-type]
    )


def failed(code: Code, details: str, reason: Reason | None = None) -> grpc.aio.AioRpcError:
    trailer: tuple = ()
    if reason is not None:
        trailer = errors.rich_status(code, reason, details).trailing_metadata
    return grpc.aio.AioRpcError(
        code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailer), details=details
    )


@pytest.mark.parametrize(
    ("exc", "state", "resyncs"),
    [
        (failed(Code.FAILED_PRECONDITION, "x", Reason.RESYNC_NEEDED), "RESYNC_NEEDED", True),
        (failed(Code.FAILED_PRECONDITION, "x", Reason.TRIMMED_DATA), "RESYNC_NEEDED", True),
        (failed(Code.FAILED_PRECONDITION, "x", Reason.HANDSHAKE_REFUSED), "REFUSED", False),
        # The words alone decide nothing: no reason, no resync.
        (failed(Code.FAILED_PRECONDITION, "resync needed: trimmed data"), "DOWN", False),
        (failed(Code.FAILED_PRECONDITION, "handshake refused: x"), "DOWN", False),
        (
            failed(Code.FAILED_PRECONDITION, "region is bootstrapping", Reason.NOT_READY),
            "DOWN",
            False,
        ),
        (failed(Code.UNKNOWN, "Unexpected <class 'KeyError'>"), "DOWN", False),
        (failed(Code.UNAVAILABLE, "failed to connect to all addresses"), "DOWN", False),
    ],
)
def test_a_failed_call_sets_the_link_state_by_its_reason(
    exc: grpc.aio.AioRpcError, state: str, resyncs: bool
) -> None:
    target = link()
    target._on_rpc_error(exc)
    assert target.status.state == state
    assert target.status.error == exc.details()
    assert bool(target._resync_reason) is resyncs
