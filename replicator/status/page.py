"""Serving the status page: GET /status (HTML, or JSON with ?format=json or an Accept header
that asks for application/json and not text/html). Read-only: any other method is refused.

Its cost does not grow with its viewers: one collection at a time, and its result (both
renderings) is reused for `ttl_s`; every request in between is answered from it. The
endpoint's threads wait for the collection, which runs on the replicator's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from meridian.model.render import to_json
from meridian.wire.oneline import describe
from replicator.status import html
from replicator.status.collect import Collected
from replicator.status.view import view

log = logging.getLogger(__name__)

PATH = "/status"
TTL_S = 1.0
WAIT_S = 15.0  # a request gives up on a collection after this long


@dataclass(frozen=True)
class Rendered:
    html: bytes
    json: bytes
    at: float  # loop time of the collection


def rendered(collected: Collected, at: float) -> Rendered:
    model = view(collected)
    return Rendered(html.render(model).encode(), to_json(model).encode(), at)


class StatusCache:
    """The latest rendering; a request after it aged `ttl_s` starts the next collection,
    and concurrent requests share it."""

    def __init__(self, collect: Callable[[], Awaitable[Collected]], ttl_s: float = TTL_S) -> None:
        self._collect = collect
        self._ttl_s = ttl_s
        self._latest: Rendered | None = None
        self._running: asyncio.Future[Rendered] | None = None

    async def get(self) -> Rendered:
        loop = asyncio.get_running_loop()
        latest = self._latest
        if latest is not None and loop.time() - latest.at < self._ttl_s:
            return latest
        if self._running is None:
            self._running = asyncio.ensure_future(self._refresh())
        return await asyncio.shield(self._running)

    async def close(self) -> None:
        """Cancel a collection in flight (the replicator is stopping)."""
        running, self._running = self._running, None
        if running is not None:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)

    async def _refresh(self) -> Rendered:
        try:
            started = asyncio.get_running_loop().time()
            self._latest = rendered(await self._collect(), started)
            return self._latest
        finally:
            self._running = None


App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def wants_json(query: str, accept: str) -> bool:
    """?format=json (or html) decides; otherwise an Accept header naming application/json
    and not text/html (browsers name text/html)."""
    formats = urllib.parse.parse_qs(query).get("format")
    if formats:
        return formats[-1] == "json"
    return "application/json" in accept and "text/html" not in accept


def status_app(cache: StatusCache, loop: asyncio.AbstractEventLoop) -> App:
    """The WSGI app of the page, for the endpoint's threads; `loop` runs the collection."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            start_response(
                "405 Method Not Allowed",
                [("Allow", "GET, HEAD"), ("Content-Type", "text/plain; charset=utf-8")],
            )
            return [b"the status page is read-only: GET or HEAD\n"]
        try:
            page = asyncio.run_coroutine_threadsafe(cache.get(), loop).result(WAIT_S)
        except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 - reported, not raised
            log.warning("status page: collection failed: %s", describe(exc))
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"status not available; see the replicator's log\n"]
        as_json = wants_json(environ.get("QUERY_STRING", ""), environ.get("HTTP_ACCEPT", ""))
        body = page.json if as_json else page.html
        kind = "application/json" if as_json else "text/html; charset=utf-8"
        start_response("200 OK", [*_headers(kind), ("Content-Length", str(len(body)))])
        return [] if method == "HEAD" else [body]

    return app


def _headers(kind: str) -> list[tuple[str, str]]:
    return [
        ("Content-Type", kind),
        ("Cache-Control", "no-store"),
        ("Vary", "Accept"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Content-Security-Policy", html.CSP),
    ]
