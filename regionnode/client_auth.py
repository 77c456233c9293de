"""Who calls the client door, and what they may do (when the group file has `auth`).

A call is admitted with the region's token (the region's own processes: full access) or
with a valid access-key signature; anything else is refused with UNAUTHENTICATED before a
handler runs. Each handler then asks `authorize` whether the caller's key may read or
write the table it names: a read-only key writes nothing, a key limited to some tables
touches no other (PERMISSION_DENIED, nothing changes).
"""

from __future__ import annotations

import contextvars
import time

from meridian.security import access, grpc_auth
from meridian.security.keystore import KeyStore
from meridian.wire import errors, peer_token
from meridian.wire.guard import CallGuard

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
ADMIN = frozenset({"CreateTable", "DeleteTable"})  # table administration
# The caller of the current call: an access key, or None for the region's own processes.
_caller: contextvars.ContextVar[access.AccessKey | None] = contextvars.ContextVar(
    "meridian_caller", default=None
)


class ClientAuth:
    def __init__(self, token: str, keys: KeyStore) -> None:
        self._token = token
        self._keys = keys
        self._replay = grpc_auth.ReplayCache()

    def guard(self) -> CallGuard:
        def check(method: str, metadata: tuple[tuple[str, str | bytes], ...]) -> None:
            if peer_token.presented(metadata, self._token):
                _caller.set(None)
                return
            now = time.time_ns() // 1_000_000
            key = grpc_auth.admitted_key(metadata, method, now, self._keys.key_of, self._replay)
            _caller.set(key)

        return CallGuard(check)


def authorize(method: str, table: str | None) -> None:
    """Whether the current caller may make this call; errors.PermissionDenied if not. A call
    admitted without an access key (auth off, or the region's token) may do anything."""
    key = _caller.get()
    if key is None:
        return
    operation = access.Operation.READ
    if method in ADMIN:
        operation = access.Operation.ADMIN
    elif method in WRITES:
        operation = access.Operation.WRITE
    try:
        access.authorize(key, operation, table)
    except access.PermissionDenied as exc:
        raise errors.PermissionDenied(str(exc), denial=str(exc.reason)) from exc


def may_see(table: str) -> bool:
    """Whether the current caller's key covers `table` (listing tables shows only those)."""
    key = _caller.get()
    return key is None or key.covers(table)
