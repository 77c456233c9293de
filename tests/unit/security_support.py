"""A real gRPC echo server and raw TLS probes on loopback, for the security tests."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509

from meridian.security import certs
from tests.harness import free_ports

DEADLINE_S = 30.0
SERVICE = "meridian.test.Echo"
UNARY = f"/{SERVICE}/Unary"
SERVER_STREAM = f"/{SERVICE}/ServerStream"
CLIENT_STREAM = f"/{SERVICE}/ClientStream"
BIDI = f"/{SERVICE}/Bidi"


def run(body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(body(), DEADLINE_S)

    asyncio.run(bounded())


@dataclass
class Seen:
    """What the echo handlers saw of each call: auth contexts and invocation metadata."""

    auth: list[dict[str, list[bytes]]] = field(default_factory=list)
    metadata: list[dict[str, str | bytes]] = field(default_factory=list)
    hook: Callable[[grpc.aio.ServicerContext], None] | None = None

    def record(self, context: grpc.aio.ServicerContext) -> None:
        self.auth.append({k: list(v) for k, v in context.auth_context().items()})
        self.metadata.append({k: v for k, v in context.invocation_metadata() or ()})
        if self.hook is not None:
            self.hook(context)


def echo_handler(seen: Seen) -> grpc.GenericRpcHandler:
    """Four raw-bytes methods, one per call kind, each echoing what it got."""

    async def unary(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        seen.record(context)
        return request

    async def server_stream(
        request: bytes, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        seen.record(context)
        yield request
        yield request

    async def client_stream(
        requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> bytes:
        seen.record(context)
        return b"".join([r async for r in requests])

    async def bidi(
        requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        seen.record(context)
        async for r in requests:
            yield r

    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Unary": grpc.unary_unary_rpc_method_handler(unary),
            "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
            "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream),
            "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
        },
    )


@contextlib.asynccontextmanager
async def echo_server(
    credentials: grpc.ServerCredentials | None,
    seen: Seen | None = None,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> AsyncIterator[int]:
    """An echo server on a free loopback port (plaintext when ``credentials`` is None)."""
    server = grpc.aio.server(interceptors=interceptors)
    server.add_generic_rpc_handlers([echo_handler(seen or Seen())])
    (port,) = free_ports(1)
    address = f"127.0.0.1:{port}"
    if credentials is None:
        server.add_insecure_port(address)
    else:
        server.add_secure_port(address, credentials)
    await server.start()
    try:
        yield port
    finally:
        await server.stop(None)


async def unary(channel: grpc.aio.Channel, payload: bytes = b"ping") -> bytes:
    result: bytes = await channel.unary_unary(UNARY)(payload, timeout=5)
    return result


def tls_channel(
    port: int,
    ca: certs.Issued,
    client: certs.Issued | None = None,
    options: Sequence[tuple[str, str]] = (),
    host: str = "127.0.0.1",
) -> grpc.aio.Channel:
    credentials = grpc.ssl_channel_credentials(
        ca.cert_pem(),
        client.key_pem() if client else None,
        client.cert_pem() if client else None,
    )
    return grpc.aio.secure_channel(f"{host}:{port}", credentials, options=list(options))


def write_pair(directory: Path, stem: str, issued: certs.Issued) -> tuple[Path, Path]:
    cert, key = directory / f"{stem}.pem", directory / f"{stem}-key.pem"
    certs.write_issued(cert, key, issued, force=True)
    return cert, key


def server_certificate(
    port: int, ca_file: Path, cert_file: Path, key_file: Path
) -> x509.Certificate:
    """The certificate a TLS server on loopback presents to a new connection (ALPN h2)."""
    context = ssl.create_default_context(cafile=str(ca_file))
    context.check_hostname = False
    context.load_cert_chain(str(cert_file), str(key_file))
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)
