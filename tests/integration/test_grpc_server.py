"""A service added to a daemon's gRPC server is served through its generic handler only (the
registered methods of grpc.aio's server cost every call an O(methods) wait), and the door's
edge and guards still decide every call: a real server and channel on a free loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import grpc
import pytest

from meridian.daemon.grpc_server import GrpcServer
from meridian.pb import client_pb2_grpc
from meridian.pb import node_pb2 as pb
from meridian.wire import errors
from meridian.wire.errors import Reason, reason_of
from meridian.wire.guard import CallGuard
from tests.harness import free_address

Code = grpc.StatusCode
CLIENT = "/meridian.client.v1.Client/"
CONFLICT = pb.Conflict(table="orders")
TOKEN = "let-me-in"


class Conflicts(client_pb2_grpc.ClientServicer):
    """The one method these tests call."""

    async def ListConflicts(
        self, request: pb.ListConflictsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListConflictsResponse:
        return pb.ListConflictsResponse(conflicts=[CONFLICT] * (request.limit or 1))


def admit_token(method: str, metadata: tuple[tuple[str, str | bytes], ...]) -> None:
    if ("token", TOKEN) not in metadata:
        raise errors.Unauthenticated("no token")


def run(body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(body(), 30)

    asyncio.run(bounded())


async def serving(guards: list[grpc.aio.ServerInterceptor]) -> tuple[GrpcServer, list[str]]:
    """A started door with the client service; the names registered as methods with the
    server (the spy keeps them; the server's own registration still runs)."""
    door = GrpcServer(free_address(), "test.listen", interceptors=guards)
    registered: list[str] = []
    register = door.server.add_registered_method_handlers

    def spy(name: str, methods: dict[str, grpc.RpcMethodHandler]) -> None:
        registered.append(name)
        register(name, methods)

    door.server.add_registered_method_handlers = spy  # type: ignore[method-assign]
    door.add_service(client_pb2_grpc.add_ClientServicer_to_server, Conflicts())
    await door.start()
    return door, registered


def test_a_service_is_answered_through_its_generic_handler_only() -> None:
    async def body() -> None:
        door, registered = await serving([])
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{door.port}") as channel:
                stub = client_pb2_grpc.ClientStub(channel)
                reply = await stub.ListConflicts(pb.ListConflictsRequest(limit=3))
                assert list(reply.conflicts) == [CONFLICT] * 3
                unknown = channel.unary_unary(CLIENT + "NoSuchMethod")
                with pytest.raises(grpc.aio.AioRpcError) as failed:
                    await unknown(b"")
                assert failed.value.code() == Code.UNIMPLEMENTED
        finally:
            await door.stop(0)
        assert registered == []  # neither the client service nor the health service

    run(body)


def test_the_edge_and_the_guards_still_decide_every_call() -> None:
    async def body() -> None:
        door, _ = await serving([CallGuard(admit_token)])
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{door.port}") as channel:
                raw = channel.unary_unary(CLIENT + "ListConflicts")
                good = pb.ListConflictsRequest(limit=1).SerializeToString()
                admitted = (("token", TOKEN),)
                for _ in range(3):  # refused before and after admitted calls alike
                    with pytest.raises(grpc.aio.AioRpcError) as failed:
                        await raw(good)
                    assert failed.value.code() == Code.UNAUTHENTICATED
                    reply = await raw(good, metadata=admitted)
                    assert pb.ListConflictsResponse.FromString(reply).conflicts == [CONFLICT]
                with pytest.raises(grpc.aio.AioRpcError) as failed:
                    await raw(b"\xff\xff\xff", metadata=admitted)
                assert failed.value.code() == Code.INVALID_ARGUMENT
                assert reason_of(failed.value) == Reason.MALFORMED_REQUEST
        finally:
            await door.stop(0)

    run(body)
