"""A server interceptor that refuses calls before their handler runs: no credentials for the
door, or not enough (status and reason from the one table in `errors`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import grpc

from meridian.wire import errors

HEALTH_METHODS = frozenset({"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch"})
# Decides one call from its method and metadata: returns to admit it, raises (an exception
# of the errors table, such as errors.Unauthenticated) to refuse it.
Check = Callable[[str, tuple[tuple[str, str | bytes], ...]], None]


class CallGuard(grpc.aio.ServerInterceptor):
    """Runs `check` on every call except the `public` methods (the health checks)."""

    def __init__(self, check: Check, public: Iterable[str] = HEALTH_METHODS) -> None:
        self._check = check
        self._public = frozenset(public)

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or details.method in self._public:
            return handler
        try:
            self._check(details.method, tuple(details.invocation_metadata or ()))
        except Exception as exc:  # noqa: BLE001 - every refusal gets its status from the table
            return refusing(handler, exc)
        return handler


def refusing(handler: grpc.RpcMethodHandler, exc: BaseException) -> grpc.RpcMethodHandler:
    """A handler of the same kind as `handler` that only ends the call with `exc`'s status."""

    async def refuse(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await errors.abort(context, exc)

    async def refuse_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await errors.abort(context, exc)
        yield  # never reached: makes this an async generator

    serializer = handler.response_serializer
    deserializer = handler.request_deserializer
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(refuse, deserializer, serializer)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(refuse_stream, deserializer, serializer)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(refuse, deserializer, serializer)
    return grpc.stream_stream_rpc_method_handler(refuse_stream, deserializer, serializer)
