"""A plaintext listener that serves only a daemon's gRPC health service (liveness "" and
readiness), for probes that cannot speak TLS or carry credentials, such as Kubernetes'
native gRPC probes. It shares the main server's health servicer, so both answer alike."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2_grpc

from meridian.daemon.listen import SERVER_OPTIONS, listen_failed


class HealthDoor:
    def __init__(self, listen: str, key: str, servicer: health.aio.HealthServicer) -> None:
        self.listen = listen
        self.key = key
        self.server = grpc.aio.server(options=SERVER_OPTIONS)
        health_pb2_grpc.add_HealthServicer_to_server(servicer, self.server)
        self.port = 0
        self._started = False

    async def start(self) -> int:
        """Bind and serve; the bound port. StartupError naming `key` when it cannot bind."""
        try:
            self.port = self.server.add_insecure_port(self.listen)
        except RuntimeError:
            raise listen_failed(self.key, self.listen) from None
        await self.server.start()
        self._started = True
        return self.port

    async def stop(self) -> None:
        """Idempotent. The servicer already answers NOT_SERVING (the main server stops
        first); Watch streams end here."""
        if self._started:
            self._started = False
            await self.server.stop(0.5)
