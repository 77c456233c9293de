"""`python -m bench.rawserver --port P`: the gRPC half of the raw limits, in its own process.

Generic (byte-level) handlers, so only gRPC itself is measured: `Echo` answers a unary call
with its request, `Stream` sends the requested number of pre-serialized SubscribeBatch
messages of `--records` stream records each, `Bidi` answers each message of an open
bidirectional stream with itself. The standard health service says when it is up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from bench.samples import subscribe_batch
from meridian.daemon.listen import NO_PORT_REUSE

SERVICE = "bench.Raw"


def _identity(data: bytes) -> bytes:
    return data


async def serve(port: int, records: int) -> None:
    message = subscribe_batch(records).SerializeToString()

    async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return request

    async def stream(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        for _ in range(int(request)):
            yield message

    async def bidi(
        requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        async for request in requests:
            yield request

    handlers = {
        "Echo": grpc.unary_unary_rpc_method_handler(echo, _identity, _identity),
        "Stream": grpc.unary_stream_rpc_method_handler(stream, _identity, _identity),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi, _identity, _identity),
    }
    server = grpc.aio.server(options=[NO_PORT_REUSE])  # never shares its port
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, handlers)])
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rawserver")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--records", type=int, default=100)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.records))


if __name__ == "__main__":
    main()
