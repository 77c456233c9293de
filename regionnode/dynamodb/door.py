"""The DynamoDB door's listener: uvicorn (httptools) serving the ASGI app on the node's
event loop, owned by the node like its gRPC doors (started and stopped with it).

Only uvicorn's server is used, not its runner: the node binds the socket itself (an
address in use is the same startup error as for the other listeners), and no signal
handler is installed (the daemon owns its signals). With TLS, the context follows the
region's certificate files (re-read at the next handshake after they change).
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import ssl

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from meridian.daemon.listen import listen_failed
from regionnode.dynamodb.app import DynamoApp

log = logging.getLogger(__name__)

KEEP_ALIVE_S = 75  # idle keep-alive connections; SDKs reuse theirs
# A request's headers must arrive within this long of its first byte (or of the connection).
HEADERS_TIMEOUT_S = 10.0
# Connections and requests in flight at once; beyond, uvicorn answers 503 (SDKs retry).
MAX_CONCURRENCY = 1000
# uvicorn logs every request it cannot parse as a warning, and its own shutdown steps: a
# caller could fill the log with garbage, and the node logs its own start and stop.
logging.getLogger("uvicorn.error").setLevel(logging.ERROR)


class _HeadersDeadline(HttpToolsProtocol):
    """uvicorn's protocol with a deadline on each request's headers.

    uvicorn holds a connection that never finishes its headers for ever, and every held
    connection counts towards MAX_CONCURRENCY: without a deadline, anyone who reaches the
    port could fill it with silent connections and the door would answer 503 to everyone.
    """

    headers_timeout = HEADERS_TIMEOUT_S
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.headers_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


class ApiDoor:
    def __init__(
        self, listen: str, key: str, app: DynamoApp, tls: ssl.SSLContext | None = None
    ) -> None:
        self.listen = listen
        self.key = key
        self.port = 0
        self._app = app
        self._tls = tls
        self._server: uvicorn.Server | None = None
        self._socket: socket.socket | None = None

    async def start(self) -> int:
        """Bind and serve; the bound port. StartupError naming `key` when it cannot bind."""
        sock = self._bind()
        config = uvicorn.Config(
            self._app,
            http=_HeadersDeadline,
            ws="none",
            lifespan="off",
            interface="asgi3",
            proxy_headers=False,  # the caller is who connected, whatever a header claims
            log_config=None,
            access_log=False,
            server_header=False,
            date_header=False,
            timeout_keep_alive=KEEP_ALIVE_S,
            limit_concurrency=MAX_CONCURRENCY,
        )
        config.load()
        config.ssl = self._tls
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        self._server, self._socket = server, sock
        self.port = sock.getsockname()[1]
        return self.port

    def _bind(self) -> socket.socket:
        host, _, port = self.listen.rpartition(":")
        try:
            family, kind, proto, _, where = socket.getaddrinfo(
                host.strip("[]"), int(port), type=socket.SOCK_STREAM
            )[0]
            sock = socket.socket(family, kind, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(where)
            except OSError:
                sock.close()
                raise
        except (OSError, ValueError):
            raise listen_failed(self.key, self.listen) from None
        return sock

    async def stop(self, grace: float) -> None:
        """Stop accepting, close idle connections, let requests in flight finish within
        `grace`. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.config.timeout_graceful_shutdown = max(math.ceil(grace), 1)
        await server.shutdown(sockets=[self._socket] if self._socket else None)
