"""Listening on a configured address: one process per port, and a clear reason otherwise.

gRPC servers set SO_REUSEPORT by default, so a second process on the same port would start
and the kernel would split the clients between the two; every server turns that off. A bind
that fails is a startup failure whose message names the config key and the reason.
"""

from __future__ import annotations

import errno
import socket

from meridian.daemon.errors import StartupError
from meridian.wire.channels import GRPC_OPTIONS

NO_PORT_REUSE = ("grpc.so_reuseport", 0)
SERVER_OPTIONS = [*GRPC_OPTIONS, NO_PORT_REUSE]


def reason(exc: OSError) -> str:
    """A bind error in a few words: 'address in use', or what the OS says."""
    if exc.errno == errno.EADDRINUSE:
        return "address in use"
    return (exc.strerror or str(exc)).lower()


def bind_problem(address: str) -> str:
    """Why `address` cannot be listened on, found by binding it the way servers do (gRPC
    reports only that the bind failed)."""
    host, _, port = address.rpartition(":")
    try:
        family, kind, proto, _, where = socket.getaddrinfo(
            host.strip("[]"), int(port), type=socket.SOCK_STREAM
        )[0]
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(where)
    except OSError as exc:
        return reason(exc)
    except ValueError as exc:
        return str(exc)
    return "cannot listen there"


def listen_failed(key: str, address: str) -> StartupError:
    """The startup error for a server that could not bind `address` (config key `key`)."""
    return StartupError(f"{key} {address}: {bind_problem(address)}")


def config_key(region_names: list[str], region: str, field: str) -> str:
    """The YAML path of a region's address, e.g. regions[0].node.listen."""
    return f"regions[{region_names.index(region)}].{field}"
