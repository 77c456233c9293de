"""Who calls the DynamoDB door, and what they may do.

With `auth` in the group file every request must carry a SigV4 signature (service
`dynamodb`, the credential scope naming this region, e.g. `us-east`) by one of the access
keys of the credentials file, the same keys as the gRPC client door; then each table the
request names is checked with `meridian.security.access.authorize`, the decision both doors
share (a read-only key writes nothing, a key limited to some tables touches no other).
Without `auth`, any credentials (or none) are accepted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from meridian.security import access, sigv4
from meridian.security.keystore import KeyStore

READ = access.Operation.READ
WRITE = access.Operation.WRITE


@dataclass(frozen=True, slots=True)
class Caller:
    """The access key of a request; None when the group has no `auth` (anything goes)."""

    key: access.AccessKey | None = None

    def may(self, operation: access.Operation, table: str | None) -> None:
        """access.PermissionDenied unless the key may do `operation` on `table`."""
        if self.key is not None:
            access.authorize(self.key, operation, table)

    def sees(self, table: str) -> bool:
        return self.key is None or self.key.covers(table)


ANYONE = Caller()


class SigV4Auth:
    """Verifies requests against the access keys (re-read when their file changes)."""

    def __init__(self, keys: KeyStore, region: str) -> None:
        self._keys = keys
        self._region = region

    def admit(self, headers: Iterable[tuple[str, str]]) -> None:
        """sigv4.SignatureError unless the headers name a known key in this region's scope,
        signed within the allowed skew: checked before the body is read."""
        sigv4.admit(headers, datetime.now(UTC), self._secret_of, self._region)

    def _secret_of(self, key_id: str) -> str | None:
        key = self._keys.key_of(key_id)
        return None if key is None else key.secret

    def caller(
        self, method: str, path: str, query: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> Caller:
        """The caller that signed this request, or sigv4.SignatureError."""
        found: list[access.AccessKey] = []

        def secret_of(key_id: str) -> str | None:
            key = self._keys.key_of(key_id)
            if key is None:
                return None
            found.append(key)
            return key.secret

        request = sigv4.Request(method, path, query, list(headers), body)
        sigv4.verify(request, datetime.now(UTC), secret_of, self._region)
        return Caller(found[-1])
