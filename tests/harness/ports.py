"""Free loopback ports for the servers the tests, benchmarks and chaos runs start."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_ports(count: int) -> list[int]:
    """Distinct loopback ports that were free a moment ago (all bound to port 0 at once, so
    none repeats, then released)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((LOOPBACK, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def free_port() -> int:
    return free_ports(1)[0]


def free_address() -> str:
    """HOST:PORT of a free loopback port."""
    return f"{LOOPBACK}:{free_port()}"
