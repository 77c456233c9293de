"""The link's channel into the local node: one ApplyReplicatedStream call per session.

Batches are written to the open call in order and their results read back in the same
order; the link may write the next batch before the previous result is back (it keeps a
few in flight, `replicator/link.py`), and the node applies them strictly in order, each
only if the one before it was applied (`after_checkpoint`). A message on an open call costs
both sides well under half the CPU of one unary call per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import grpc

from meridian.pb import node_pb2 as pb
from meridian.pb import replication_pb2_grpc as pb_grpc

APPLY_STREAM = "/meridian.replication.v1.Replication/ApplyReplicatedStream"


class NodeStub(pb_grpc.ReplicationStub):
    """The node's peer door as the replicator calls it. ApplyReplicatedStream sends each
    batch as an ApplyReplicatedRelay: the records are relayed as the bytes the origin stored,
    never parsed here, and the node reads the same bytes as an ApplyReplicatedRequest."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        super().__init__(channel)
        self.ApplyReplicatedStream = channel.stream_stream(
            APPLY_STREAM,
            request_serializer=pb.ApplyReplicatedRelay.SerializeToString,
            response_deserializer=pb.ApplyReplicatedResponse.FromString,
        )


ENDED = "the node ended the apply stream"


def _failure(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    """A call failure the link handles like any other gRPC error."""
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)


class Applier:
    def __init__(self, node: pb_grpc.ReplicationStub, timeout_s: float = 30.0) -> None:
        self._node = node
        self._timeout_s = timeout_s
        self._call: grpc.aio.StreamStreamCall | None = None

    async def apply(self, request: pb.ApplyReplicatedRelay) -> pb.ApplyReplicatedResponse:
        """Apply one batch; AioRpcError when the node refuses it or the call breaks."""
        await self.send(request)
        return await self.receive()

    async def send(self, request: pb.ApplyReplicatedRelay) -> None:
        """Write one batch to the call (opened when needed); its result comes from receive."""
        if self._call is None:
            self._call = self._node.ApplyReplicatedStream()
        with self._forgotten_on_failure():
            await self._call.write(request)

    async def receive(self) -> pb.ApplyReplicatedResponse:
        """The result of the oldest batch sent and not yet answered."""
        call = self._call
        if call is None:
            raise _failure(grpc.StatusCode.UNAVAILABLE, "the apply stream is closed")
        with self._forgotten_on_failure():
            try:
                response = await asyncio.wait_for(call.read(), self._timeout_s)
            except TimeoutError:
                self.close()
                raise _failure(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    f"the node did not apply a batch within {self._timeout_s:.0f} s",
                ) from None
        if response is grpc.aio.EOF:
            self._call = None
            raise _failure(grpc.StatusCode.UNAVAILABLE, ENDED)
        return response

    @contextlib.contextmanager
    def _forgotten_on_failure(self) -> Iterator[None]:
        """A failed call is dropped (the next batch opens a new one) and its failure raised
        as an AioRpcError, also when it finished without an error status."""
        try:
            yield
        except grpc.aio.AioRpcError:
            self._call = None
            raise
        except asyncio.InvalidStateError:  # the call finished without an error status
            self._call = None
            raise _failure(grpc.StatusCode.UNAVAILABLE, ENDED) from None

    def close(self) -> None:
        if self._call is not None:
            self._call.cancel()
            self._call = None
