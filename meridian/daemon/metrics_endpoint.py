"""Serving a Prometheus registry on HOST:PORT (/metrics), and any further pages the daemon
mounts (the replicator's /status), in a thread of the daemon: over HTTPS with the region's
certificate (re-read when its files change) and behind HTTP basic auth when the group file
asks for them."""

from __future__ import annotations

import base64
import hmac
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from meridian.config.security import BasicAuth, CertPair
from meridian.daemon.errors import StartupError
from meridian.daemon.listen import reason
from meridian.security.tls import stamp

App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


class MetricsEndpoint:
    """/metrics of one registry, and `pages` (path -> app); `key` names the address in the
    group file, for errors."""

    def __init__(
        self,
        listen: str,
        registry: CollectorRegistry,
        key: str,
        tls: CertPair | None = None,
        auth: BasicAuth | None = None,
        pages: Mapping[str, App] | None = None,
    ) -> None:
        self.listen = listen
        self.pages = dict(pages or {})
        self.registry = registry
        self.key = key
        self.tls = tls
        self.auth = auth
        self._server: WSGIServer | None = None

    def start(self) -> None:
        host, port = str(self.listen).rsplit(":", 1)
        host = host.strip("[]")
        app: App = with_pages(make_wsgi_app(self.registry), self.pages)
        if self.auth is not None:
            app = basic_auth(app, self.auth.username, _password(self.auth, self.key))
        server_class = _Server6 if _is_ipv6(host) else _Server
        try:
            server = make_server(host, int(port), app, server_class, _Quiet)
        except OSError as exc:
            raise StartupError(f"{self.key} {self.listen}: {reason(exc)}") from exc
        if self.tls is not None:
            server.socket = ReloadingSslContext(self.tls, self.key).wrap(server.socket)
        self._server = server
        threading.Thread(
            target=server.serve_forever, name=f"metrics {self.listen}", daemon=True
        ).start()

    def stop(self) -> None:
        """Stop serving (idempotent). shutdown() waits for the serving loop, so it runs in a
        thread of its own rather than blocking the event loop."""
        server, self._server = self._server, None
        if server is not None:
            threading.Thread(target=_close, args=(server,), daemon=True).start()


def _close(server: WSGIServer) -> None:
    server.shutdown()
    server.server_close()


def with_pages(metrics: App, pages: dict[str, App]) -> App:
    """Each page at its path (a trailing slash allowed), everything else to `metrics`."""
    if not pages:
        return metrics

    def route(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        page = pages.get(environ.get("PATH_INFO", "").rstrip("/"))
        return (page or metrics)(environ, start_response)

    return route


def basic_auth(app: App, username: str, password: str) -> App:
    """`app` behind HTTP basic auth (401 with a challenge otherwise)."""
    expected = base64.b64encode(f"{username}:{password}".encode()).decode()

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        given = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() == "basic" and hmac.compare_digest(token.strip(), expected):
            return app(environ, start_response)
        start_response(
            "401 Unauthorized",
            [("WWW-Authenticate", 'Basic realm="meridian"'), ("Content-Type", "text/plain")],
        )
        return [b"credentials required\n"]

    return guarded


def _password(auth: BasicAuth, key: str) -> str:
    try:
        password = auth.password_file.read_text().strip()
    except OSError as exc:
        raise StartupError(f"{key}: basic auth password file: {exc}") from exc
    if not password:
        raise StartupError(f"{key}: basic auth password file {auth.password_file} is empty")
    return password


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False


class ReloadingSslContext:
    """A TLS context whose certificate follows its files: each handshake's SNI callback
    swaps in a fresh context when the files changed since the last one. With `client_cas`,
    clients must present a certificate from one of them."""

    def __init__(self, pair: CertPair, key: str, client_cas: tuple[Path, ...] = ()) -> None:
        self._pair = pair
        self._client_cas = client_cas
        self._lock = threading.Lock()
        try:
            self._stamp = stamp(self._paths())
            self._current = self._load()
        except (OSError, ssl.SSLError) as exc:
            raise StartupError(f"{key}: TLS files: {exc}") from exc
        self._outer = self._load()
        self._outer.sni_callback = self._select

    @property
    def context(self) -> ssl.SSLContext:
        """The context to serve with (its handshakes pick the current certificate)."""
        return self._outer

    def wrap(self, sock: socket.socket) -> ssl.SSLSocket:
        return self._outer.wrap_socket(sock, server_side=True)

    def _paths(self) -> tuple[Path, ...]:
        return (self._pair.cert, self._pair.key, *self._client_cas)

    def _load(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self._pair.cert, self._pair.key)
        if self._client_cas:
            context.verify_mode = ssl.CERT_REQUIRED
            for ca in self._client_cas:
                context.load_verify_locations(ca)
        return context

    def _select(self, sock: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
        with self._lock:
            try:
                now = stamp(self._paths())
                if now != self._stamp:
                    self._current, self._stamp = self._load(), now
            except (OSError, ssl.SSLError):
                pass  # a rotation caught halfway: keep the certificate in use
        sock.context = self._current
