"""Free loopback ports for the servers the tests, benchmarks and chaos runs start."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


_GIVEN: set[int] = set()  # every port handed out in this process


def free_ports(count: int) -> list[int]:
    """Distinct loopback ports that were free a moment ago (all bound to port 0 at once, so
    none repeats, then released), and none handed out before in this process: the kernel may
    offer a released port again, and a group file built from two calls must not name one
    port twice."""
    sockets = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((LOOPBACK, 0))
            sockets.append(s)
            port = s.getsockname()[1]
            if port not in _GIVEN:
                ports.append(port)
        _GIVEN.update(ports)
        return ports
    finally:
        for s in sockets:
            s.close()


def free_port() -> int:
    return free_ports(1)[0]


def free_address() -> str:
    """HOST:PORT of a free loopback port."""
    return f"{LOOPBACK}:{free_port()}"
