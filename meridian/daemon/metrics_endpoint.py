"""Serving a Prometheus registry on HOST:PORT (/metrics), in a thread of the daemon."""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server

from meridian.daemon.errors import StartupError
from meridian.daemon.listen import reason


class MetricsEndpoint:
    """/metrics of one registry; `key` names the address in the group file, for errors."""

    def __init__(self, listen: str, registry: CollectorRegistry, key: str) -> None:
        self.listen = listen
        self.registry = registry
        self.key = key
        self._server: Any = None

    def start(self) -> None:
        host, port = str(self.listen).rsplit(":", 1)
        try:
            self._server, _thread = start_http_server(
                int(port), addr=host.strip("[]"), registry=self.registry
            )
        except OSError as exc:
            raise StartupError(f"{self.key} {self.listen}: {reason(exc)}") from exc

    def stop(self) -> None:
        """Stop serving (idempotent). shutdown() waits for the serving loop, so it runs in a
        thread of its own rather than blocking the event loop."""
        server, self._server = self._server, None
        if server is not None:
            threading.Thread(target=server.shutdown, daemon=True).start()
