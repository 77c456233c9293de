"""A gRPC server as every Meridian daemon runs one: no port sharing, the server edge
(undecodable requests, error statuses with reasons), and the standard health service.

Health names: "" is liveness (SERVING from start to stop); READINESS is SERVING only while
the process can do its work (the daemon says when, with `set_ready`).

Services are added with `add_service`, which gives the server a service's generic handler
only, never its registered methods. grpc.aio's server keeps one pending request per
registered method and, after every call it takes, waits on all of them again
(`asyncio.wait`, which checks and hooks each one): with the client door's 21 methods that
cost about a fifth of the instructions of a cheap call (docs/performance.md, "The gRPC door
at saturation"). The generic handler finds the same handlers with one dict lookup."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from meridian.daemon.listen import SERVER_OPTIONS, listen_failed
from meridian.wire.edge import ServerEdge

READINESS = "meridian.readiness"
S = TypeVar("S")


class _GenericOnly:
    """The server as a generated `add_*Servicer_to_server` sees it: the generic handler goes
    to the server, the registered methods (the same handlers again) nowhere."""

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, name: str, methods: dict[str, Any]) -> None:
        """Not registered: see the module's docstring."""


class GrpcServer:
    """Add services to `server`, then start(); `health_names` report SERVING once started
    (the empty name, the process as a whole, is always among them). `interceptors` are a
    door's guards."""

    def __init__(
        self,
        listen: str,
        key: str,
        health_names: Sequence[str] = (),
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
        credentials: grpc.ServerCredentials | None = None,
    ) -> None:
        self.listen = listen
        self.key = key
        self.edge = ServerEdge()
        # The guards first, outermost: they decide every call anew, while the edge below
        # them keeps the handlers it wraps per method (a guard after it would run only for
        # the first call of each method). A refused call still has the edge's decoder.
        self.server = grpc.aio.server(
            options=SERVER_OPTIONS, interceptors=[*interceptors, self.edge]
        )
        self.health = health.aio.HealthServicer()
        self.add_service(health_pb2_grpc.add_HealthServicer_to_server, self.health)
        self._health_names = ("", *health_names)
        self._credentials = credentials  # TLS; None: plaintext
        self.port = 0
        self._started = False

    def add_service(self, add_to_server: Callable[[S, Any], None], servicer: S) -> None:
        """Serve `servicer` (added as the generated `add_to_server` adds it) through its
        generic handler only."""
        add_to_server(servicer, _GenericOnly(self.server))

    async def start(self) -> int:
        """Bind and serve; the bound port. StartupError naming `key` when it cannot bind."""
        try:
            if self._credentials is None:
                self.port = self.server.add_insecure_port(self.listen)
            else:
                self.port = self.server.add_secure_port(self.listen, self._credentials)
        except RuntimeError:
            raise listen_failed(self.key, self.listen) from None
        await self.server.start()
        self._started = True
        for name in self._health_names:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        await self.set_ready(False)
        return self.port

    async def set_ready(self, ready: bool) -> None:
        """READINESS SERVING or NOT_SERVING; ignored once the server is stopping."""
        status = health_pb2.HealthCheckResponse
        await self.health.set(READINESS, status.SERVING if ready else status.NOT_SERVING)

    async def stop(self, grace: float, closing: str = "") -> None:
        """Health NOT_SERVING, end open streams with UNAVAILABLE (`closing`) when given, then
        stop accepting and let unary calls finish within `grace`. Idempotent."""
        if not self._started:
            return
        self._started = False
        await self.health.enter_graceful_shutdown()
        if closing:
            await self.edge.close(closing)
        await self.server.stop(grace)
