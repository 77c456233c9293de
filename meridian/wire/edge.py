"""The edge of every gRPC server of the project: one interceptor before all handlers.

- A request that cannot be decoded (garbage bytes, a string that is not UTF-8, attribute
  values nested too deeply) gets INVALID_ARGUMENT, reason MALFORMED_REQUEST, with a message
  naming the problem, and at most a rate-limited warning in the log. The generated handlers
  decode with ``FromString`` before any handler runs, and gRPC answers a decoding exception
  with UNKNOWN and an ERROR traceback per request; so the decoding is wrapped here.
- An exception a handler lets out gets its status and reason from ``errors.STATUS``; a
  failed call to another server is forwarded with its reason; anything else is a bug,
  logged and sent as INTERNAL.
- At stop, `close` ends the streams still open (a peer's pull never ends on its own) with
  UNAVAILABLE and waits for their handlers. Left to the server's grace period, they were
  cancelled underneath the server and outlived it, and the end of the process logged a
  CancelledError traceback for each.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn

import grpc
from google.protobuf.message import DecodeError

from meridian.model.items import MAX_DEPTH
from meridian.wire import errors

log = logging.getLogger(__name__)

WARN_INTERVAL_S = 10.0

# upb names the cause of a decoding failure only in its message.
_DECODE_PROBLEMS = (
    ("MaxDepth", f"attribute values nest deeper than {MAX_DEPTH} levels (DynamoDB's limit)"),
    ("UTF-8", "a string field is not valid UTF-8"),
)


def decode_problem(exc: DecodeError) -> str:
    """What is wrong with a request that protobuf cannot decode, in a user's terms."""
    text = str(exc)
    for marker, problem in _DECODE_PROBLEMS:
        if marker in text:
            return problem
    return f"not a protobuf message of the request's type ({text.rsplit(': ', 1)[-1]})"


class Throttled:
    """Log at most one warning per interval; the next one says how many were left out."""

    def __init__(
        self, logger: logging.Logger, interval_s: float, clock: Callable[[], float]
    ) -> None:
        self._log = logger
        self._interval_s = interval_s
        self._clock = clock
        self._next = float("-inf")
        self._skipped = 0

    def warning(self, message: str) -> None:
        now = self._clock()
        if now < self._next:
            self._skipped += 1
            return
        if self._skipped:
            message += f" ({self._skipped} more like it not logged)"
        self._next, self._skipped = now + self._interval_s, 0
        self._log.warning("%s", message)


class _Undecodable:
    """What a unary request that cannot be decoded is handed to its handler as."""

    __slots__ = ("error",)

    def __init__(self, error: errors.MalformedRequest) -> None:
        self.error = error


def _decoder(method: str, inner: Callable[[bytes], Any], streaming: bool) -> Callable[..., Any]:
    """`inner` (a FromString) that never raises into gRPC: a unary request that cannot be
    decoded becomes an _Undecodable; in a request stream, MalformedRequest is raised to the
    handler's loop, where the edge catches it."""

    def decode(data: bytes) -> Any:
        try:
            return inner(data)
        except DecodeError as exc:
            problem = decode_problem(exc)
            error = errors.MalformedRequest(f"{method}: request cannot be decoded: {problem}")
            if streaming:
                raise error from None
            return _Undecodable(error)

    return decode


Behavior = Callable[[Any, grpc.aio.ServicerContext], Any]


class ServerEdge(grpc.aio.ServerInterceptor):
    """Pass to ``grpc.aio.server(interceptors=[ServerEdge()])``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}
        self._warnings = Throttled(log, WARN_INTERVAL_S, clock)
        self._streams: set[asyncio.Task[Any]] = set()  # the handlers of open streams
        self._closing = ""  # why new streams are refused, once `close` was called

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method: str = details.method
        guarded = self._handlers.get(method)
        if guarded is None:
            handler = await continuation(details)
            if handler is None:  # unknown method: gRPC answers UNIMPLEMENTED
                return None
            guarded = self._handlers[method] = self._guard(method, handler)
        return guarded

    def _guard(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        decode = handler.request_deserializer
        if decode is not None:
            decode = _decoder(method, decode, handler.request_streaming)
        make = {
            (False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler,
        }[(handler.request_streaming, handler.response_streaming)]
        behavior = (
            handler.unary_unary
            or handler.unary_stream
            or handler.stream_unary
            or handler.stream_stream
        )
        return make(self._wrap(method, behavior), decode, handler.response_serializer)

    def _wrap(self, method: str, behavior: Behavior) -> Behavior:
        if inspect.isasyncgenfunction(behavior):

            async def streaming(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator:
                await self._check(method, request, context)
                await self._open(context)
                responses = behavior(request, context)
                try:
                    async for response in responses:
                        yield response
                except Exception as exc:  # noqa: BLE001 - every error gets a status in _fail
                    await self._fail(method, exc, context)
                except asyncio.CancelledError:
                    if not self._closing:
                        raise  # the caller went away
                    await errors.abort(context, errors.Unavailable(self._closing))
                finally:
                    await responses.aclose()  # at once, should the call end early

            return streaming

        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if isinstance(request, _Undecodable):  # inline: a unary call's every await counts
                await self._refuse(method, request.error, context)
            try:
                return await behavior(request, context)
            except Exception as exc:  # noqa: BLE001 - every error gets a status in _fail
                await self._fail(method, exc, context)

        return call

    async def _open(self, context: grpc.aio.ServicerContext) -> None:
        """Count a stream as open until its handler's task ends; refused once closing."""
        if self._closing:
            await errors.abort(context, errors.Unavailable(self._closing))
        task = asyncio.current_task()
        if task is not None:
            self._streams.add(task)
            task.add_done_callback(self._streams.discard)

    async def close(self, reason: str, timeout: float = 5.0) -> None:
        """End every open stream with UNAVAILABLE (`reason`) and wait, at most `timeout`,
        until their handlers have finished; refuse new streams the same way. Idempotent."""
        self._closing = reason
        handlers = list(self._streams)
        for task in handlers:
            task.cancel()
        if handlers:
            await asyncio.wait(handlers, timeout=timeout)

    async def _check(self, method: str, request: Any, context: grpc.aio.ServicerContext) -> None:
        if isinstance(request, _Undecodable):
            await self._refuse(method, request.error, context)

    async def _refuse(
        self, method: str, error: errors.MalformedRequest, context: grpc.aio.ServicerContext
    ) -> NoReturn:
        self._warnings.warning(f"refused a request from {context.peer()}: {error}")
        await errors.abort(context, error, method=method)

    async def _fail(
        self, method: str, exc: Exception, context: grpc.aio.ServicerContext
    ) -> NoReturn:
        if isinstance(exc, grpc.aio.AbortError):  # the handler ended the call itself
            raise exc
        if isinstance(exc, errors.MalformedRequest):
            await self._refuse(method, exc, context)
        if isinstance(exc, grpc.aio.AioRpcError):
            await errors.forward(context, exc)
        if errors.status_of(exc) is None:
            log.error("%s failed", method, exc_info=exc)
        await errors.abort(context, exc)
