"""The region's token: what admits the region's own processes to its node's peer door.

A random secret the node writes to `<data_dir>/peer.token` (mode 0600) at its first start.
The replicator, on the same machine or in the same pod (the data directory is shared),
reads it and sends it as metadata `x-meridian-token` with every call; the peer door refuses
a call without it. Why not a Unix socket: a socket path is limited to 107 bytes, and
abstract sockets have no permissions; a loopback listener and a secret that only the node's
user can read work the same everywhere gRPC runs, containers sharing a volume included.
"""

from __future__ import annotations

import hmac
import os
import pathlib
import secrets

import grpc

from meridian.wire import errors
from meridian.wire.call_metadata import metadata_interceptors
from meridian.wire.guard import CallGuard

TOKEN_FILE = "peer.token"  # noqa: S105 - a file name, not a secret
METADATA_KEY = "x-meridian-token"


def path_of(data_dir: pathlib.Path) -> pathlib.Path:
    return data_dir / TOKEN_FILE


def load_or_create(data_dir: pathlib.Path) -> str:
    """The data directory's token, created (0600, written atomically) at the first start."""
    path = path_of(data_dir)
    existing = read(data_dir)
    if existing is not None:
        return existing
    token = secrets.token_hex(32)
    partial = path.with_suffix(".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(token + "\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)
    return token


def read(data_dir: pathlib.Path) -> str | None:
    """The token, or None while the node has not written it yet."""
    try:
        text = path_of(data_dir).read_text().strip()
    except FileNotFoundError:
        return None
    return text or None


def interceptors(token: str) -> list[grpc.aio.ClientInterceptor]:
    """Send the token with every call of a channel."""
    return metadata_interceptors(lambda method: [(METADATA_KEY, token)])


def presented(metadata: tuple[tuple[str, str | bytes], ...], token: str) -> bool:
    """Whether the call's metadata carries `token` (compared in constant time)."""
    for key, value in metadata:
        if key == METADATA_KEY:
            given = value.encode() if isinstance(value, str) else value
            return hmac.compare_digest(given, token.encode())
    return False


def guard(token: str, door: str) -> CallGuard:
    """A peer door's interceptor: every call but the health checks carries the token."""

    def check(method: str, metadata: tuple[tuple[str, str | bytes], ...]) -> None:
        if not presented(metadata, token):
            raise errors.Unauthenticated(
                f"{door} admits only this region's own processes: call {method} without the "
                f"region's token ({TOKEN_FILE} in the node's data directory)"
            )

    return CallGuard(check)
