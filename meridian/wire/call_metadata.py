"""Client interceptors that add metadata to every call of a grpc.aio channel (a token, an
access-key signature). Four objects, one per call kind: a grpc.aio channel files each
interceptor under the first call kind it implements only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import grpc

# The metadata to add to a call of `method` (fully qualified, such as
# /meridian.client.v1.Client/GetItem); existing entries with the same keys are replaced.
Adder = Callable[[str], Sequence[tuple[str, str]]]


class _Details:
    def __init__(self, adder: Adder) -> None:
        self._adder = adder

    def __call__(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        method = details.method
        added = self._adder(method.decode() if isinstance(method, bytes) else method)
        keys = {key for key, _ in added}
        metadata = grpc.aio.Metadata(
            *[(k, v) for k, v in (details.metadata or ()) if k not in keys], *added
        )
        return grpc.aio.ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials, details.wait_for_ready
        )


class _UnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, details: _Details) -> None:
        self._details = details

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _UnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, details: _Details) -> None:
        self._details = details

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _StreamUnary(grpc.aio.StreamUnaryClientInterceptor):
    def __init__(self, details: _Details) -> None:
        self._details = details

    async def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


class _StreamStream(grpc.aio.StreamStreamClientInterceptor):
    def __init__(self, details: _Details) -> None:
        self._details = details

    async def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return await continuation(self._details(details), requests)


def metadata_interceptors(adder: Adder) -> list[grpc.aio.ClientInterceptor]:
    details = _Details(adder)
    return [
        _UnaryUnary(details),
        _UnaryStream(details),
        _StreamUnary(details),
        _StreamStream(details),
    ]


class _SyncDetails(grpc.ClientCallDetails):
    def __init__(self, base: grpc.ClientCallDetails, metadata: Sequence[tuple[str, str]]) -> None:
        self.method = base.method
        self.timeout = base.timeout
        self.metadata = metadata
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)


class _SyncInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """The same for a blocking channel (`grpc.intercept_channel`), one object for every kind."""

    def __init__(self, adder: Adder) -> None:
        self._adder = adder

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        added = self._adder(details.method)
        keys = {key for key, _ in added}
        kept = [(k, v) for k, v in (details.metadata or ()) if k not in keys]
        return _SyncDetails(details, [*kept, *added])

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)


def with_metadata(channel: grpc.Channel, adder: Adder) -> grpc.Channel:
    """A blocking channel that adds metadata to every call."""
    return grpc.intercept_channel(channel, _SyncInterceptor(adder))
