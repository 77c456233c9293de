"""How the applier turns a broken apply call into a gRPC error the link handles, and drops
the call so that the next batch opens a new one (fake calls: pure logic)."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from meridian.pb import node_pb2 as pb
from replicator.applier import ENDED, Applier


class FakeCall:
    def __init__(self, write_error: BaseException | None, read: Any) -> None:
        self.write_error, self.read_result, self.cancelled = write_error, read, False

    async def write(self, request: pb.ApplyReplicatedRelay) -> None:
        if self.write_error is not None:
            raise self.write_error

    async def read(self) -> Any:
        if self.read_result == "hang":
            await asyncio.sleep(3600)
        return self.read_result

    def cancel(self) -> None:
        self.cancelled = True


class FakeNode:
    def __init__(self, *calls: FakeCall) -> None:
        self.calls, self.opened = list(calls), 0

    def ApplyReplicatedStream(self) -> FakeCall:  # the stub's method name
        self.opened += 1
        return self.calls.pop(0)


DONE = pb.ApplyReplicatedResponse()
REFUSED = grpc.aio.AioRpcError(
    grpc.StatusCode.FAILED_PRECONDITION, grpc.aio.Metadata(), grpc.aio.Metadata(), "refused"
)


@pytest.mark.parametrize(
    ("write_error", "read", "code", "details"),
    [
        (asyncio.InvalidStateError(), DONE, grpc.StatusCode.UNAVAILABLE, ENDED),
        (REFUSED, DONE, grpc.StatusCode.FAILED_PRECONDITION, "refused"),
        (None, grpc.aio.EOF, grpc.StatusCode.UNAVAILABLE, ENDED),
        (None, "hang", grpc.StatusCode.DEADLINE_EXCEEDED, "did not apply a batch"),
    ],
)
def test_a_broken_call_fails_the_batch_and_the_next_opens_a_new_one(
    write_error: BaseException | None, read: Any, code: grpc.StatusCode, details: str
) -> None:
    broken, fresh = FakeCall(write_error, read), FakeCall(None, DONE)
    node = FakeNode(broken, fresh)
    applier = Applier(node, timeout_s=0.01)  # type: ignore[arg-type]

    async def body() -> None:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await applier.apply(pb.ApplyReplicatedRelay())
        assert failed.value.code() == code
        assert details in (failed.value.details() or "")
        assert await applier.apply(pb.ApplyReplicatedRelay()) == DONE
        assert node.opened == 2

    asyncio.run(body())
    assert broken.cancelled is (read == "hang")  # a timed-out call is cancelled, not left open
