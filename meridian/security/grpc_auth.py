"""Access keys on gRPC calls: a signed ``authorization`` header, checked by the server.

Every call carries::

    authorization: MERIDIAN-HMAC-SHA256 Credential=<key id>, Timestamp=<unix ms>,
                   Nonce=<24 hex>, Signature=<hex HMAC-SHA256(secret, string to sign)>

with the string to sign ``MERIDIAN-HMAC-SHA256\\n<full method>\\n<timestamp>\\n<nonce>``.
The server accepts a timestamp within ``MAX_SKEW_MS`` of its clock and each nonce once.

Why a signature rather than the secret as a bearer token: plaintext is allowed on loopback
(and with ``insecure: true``). A bearer secret would hand the key, for good, to anyone who
can read that traffic; a signature exposes only one call of one method, for a few minutes,
and the nonce makes even that single-use. Under TLS the two are equivalent; the signature
costs one HMAC per call and a bounded nonce cache. What it does not do: gRPC metadata cannot
cover the message body, so over plaintext an active man in the middle can change a request.
Integrity and confidentiality come from TLS; the access key says who calls.

The nonce cache is bounded: when full, it forgets the oldest nonces and from then on refuses
timestamps as old as those, so no replay is ever accepted; under extreme call rates the
accepted clock skew shrinks instead.
"""

from __future__ import annotations

import contextvars
import enum
import hashlib
import heapq
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import grpc
import grpc.aio

from meridian.security.access import AccessKey
from meridian.wire import errors
from meridian.wire.call_metadata import metadata_interceptors
from meridian.wire.guard import HEALTH_METHODS, CallGuard

SCHEME = "MERIDIAN-HMAC-SHA256"
HEADER = "authorization"
MAX_SKEW_MS = 5 * 60 * 1000
REPLAY_CACHE_ENTRIES = 200_000
ERROR_DOMAIN = "meridian"

_HEADER_RE = re.compile(
    rf"{SCHEME} Credential=([A-Za-z0-9]{{1,128}}), Timestamp=([0-9]{{1,16}}), "
    r"Nonce=([0-9a-f]{16,64}), Signature=([0-9a-f]{64})"
)


class Refusal(enum.StrEnum):
    """Machine-readable reasons for Unauthenticated."""

    MISSING = "MISSING"
    MALFORMED = "MALFORMED"
    CLOCK_SKEW = "CLOCK_SKEW"
    UNKNOWN_KEY = "UNKNOWN_KEY"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    REPLAYED = "REPLAYED"


class Unauthenticated(Exception):
    """A call without valid access-key credentials; ``reason`` is for machines."""

    def __init__(self, reason: Refusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Signed:
    """A verified header: the key, and the nonce and timestamp to admit once."""

    key: AccessKey
    nonce: str
    timestamp_ms: int


def string_to_sign(method: str, timestamp_ms: int, nonce: str) -> str:
    return f"{SCHEME}\n{method}\n{timestamp_ms}\n{nonce}"


def signature(secret: str, method: str, timestamp_ms: int, nonce: str) -> str:
    text = string_to_sign(method, timestamp_ms, nonce)
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def sign(key_id: str, secret: str, method: str, timestamp_ms: int, nonce: str) -> str:
    """The ``authorization`` value for one call of ``method``."""
    mac = signature(secret, method, timestamp_ms, nonce)
    return f"{SCHEME} Credential={key_id}, Timestamp={timestamp_ms}, Nonce={nonce}, Signature={mac}"


def verify(
    header: str | None,
    method: str,
    now_ms: int,
    key_of: Callable[[str], AccessKey | None],
    max_skew_ms: int = MAX_SKEW_MS,
) -> Signed:
    """The key that signed this call of ``method``, or Unauthenticated (pure; no replay check)."""
    if not header:
        raise Unauthenticated(
            Refusal.MISSING, f"this call needs an access key: no {HEADER} metadata"
        )
    match = _HEADER_RE.fullmatch(header)
    if match is None:
        raise Unauthenticated(
            Refusal.MALFORMED,
            f"{HEADER} metadata is not '{SCHEME} Credential=<id>, Timestamp=<ms>, "
            f"Nonce=<hex>, Signature=<hex>'",
        )
    key_id, timestamp_text, nonce, given = match.groups()
    timestamp_ms = int(timestamp_text)
    if abs(now_ms - timestamp_ms) > max_skew_ms:
        raise Unauthenticated(
            Refusal.CLOCK_SKEW,
            f"the call was signed {(now_ms - timestamp_ms) / 1000:+.1f} s from the server's "
            f"clock; at most {max_skew_ms / 1000:.0f} s are accepted (check the client's clock)",
        )
    key = key_of(key_id)
    if key is None:
        raise Unauthenticated(Refusal.UNKNOWN_KEY, f"unknown access key {key_id}")
    expected = signature(key.secret, method, timestamp_ms, nonce)
    if not hmac.compare_digest(expected.encode(), given.encode()):
        raise Unauthenticated(
            Refusal.BAD_SIGNATURE,
            f"the signature does not match access key {key_id}: check the secret",
        )
    return Signed(key, nonce, timestamp_ms)


class ReplayCache:
    """Admits each (key, nonce) once within the skew window, in bounded memory."""

    def __init__(
        self, max_skew_ms: int = MAX_SKEW_MS, max_entries: int = REPLAY_CACHE_ENTRIES
    ) -> None:
        self.max_skew_ms = max_skew_ms
        self.max_entries = max_entries
        self._seen: set[tuple[str, str]] = set()
        self._by_age: list[tuple[int, str, str]] = []
        # Every admitted timestamp above the floor is remembered; at or below it, refused.
        self._floor_ms = 0
        self._lock = threading.Lock()

    def admit(self, signed: Signed, now_ms: int) -> None:
        entry = (signed.key.key_id, signed.nonce)
        with self._lock:
            self._forget(now_ms - self.max_skew_ms)
            if entry in self._seen:
                raise Unauthenticated(Refusal.REPLAYED, "this signed call was seen already")
            if signed.timestamp_ms <= self._floor_ms:
                raise Unauthenticated(
                    Refusal.REPLAYED,
                    "the call is older than the calls this server still remembers; sign it again",
                )
            self._seen.add(entry)
            heapq.heappush(self._by_age, (signed.timestamp_ms, *entry))
            while len(self._by_age) > self.max_entries:
                self._drop_oldest()

    def __len__(self) -> int:
        return len(self._seen)

    def _forget(self, older_than_ms: int) -> None:
        """Drop entries the skew check refuses anyway (the floor still holds them off if the
        clock steps back)."""
        while self._by_age and self._by_age[0][0] < older_than_ms:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        timestamp_ms, key_id, nonce = heapq.heappop(self._by_age)
        self._seen.discard((key_id, nonce))
        self._floor_ms = max(self._floor_ms, timestamp_ms)


# --------------------------------------------------------------------------- client side


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def signed_header(
    key_id: str, secret: str, method: str, clock_ms: Callable[[], int] = _now_ms
) -> tuple[str, str]:
    """The metadata entry that signs one call of `method` with an access key."""
    return HEADER, sign(key_id, secret, method, clock_ms(), secrets.token_hex(12))


def access_key_interceptors(
    key_id: str, secret: str, clock_ms: Callable[[], int] = _now_ms
) -> list[grpc.aio.ClientInterceptor]:
    """Interceptors that sign every call of a grpc.aio channel (plaintext or TLS)."""
    return metadata_interceptors(lambda method: [signed_header(key_id, secret, method, clock_ms)])


# --------------------------------------------------------------------------- server side

_current_key: contextvars.ContextVar[AccessKey | None] = contextvars.ContextVar(
    "meridian_access_key", default=None
)


def current_access_key() -> AccessKey | None:
    """The access key of the call being handled (set by AccessKeyServerInterceptor)."""
    return _current_key.get()


def authenticate(
    metadata: Iterable[tuple[str, str | bytes]],
    method: str,
    now_ms: int,
    key_of: Callable[[str], AccessKey | None],
    replay: ReplayCache,
) -> AccessKey:
    """The key of a call from its invocation metadata, or Unauthenticated."""
    values = [v for k, v in metadata if k == HEADER]
    header = values[0] if len(values) == 1 and isinstance(values[0], str) else None
    if len(values) > 1:
        raise Unauthenticated(Refusal.MALFORMED, f"more than one {HEADER} metadata entry")
    signed = verify(header, method, now_ms, key_of, replay.max_skew_ms)
    replay.admit(signed, now_ms)
    return signed.key


def admitted_key(
    metadata: Iterable[tuple[str, str | bytes]],
    method: str,
    now_ms: int,
    key_of: Callable[[str], AccessKey | None],
    replay: ReplayCache,
) -> AccessKey:
    """`authenticate`, refusing with the wire's Unauthenticated (reason UNAUTHENTICATED, and
    the Refusal as ErrorInfo metadata `refusal`)."""
    try:
        return authenticate(metadata, method, now_ms, key_of, replay)
    except Unauthenticated as exc:
        raise errors.Unauthenticated(str(exc), refusal=str(exc.reason)) from exc


def access_key_guard(
    key_of: Callable[[str], AccessKey | None],
    replay: ReplayCache | None = None,
    public: Iterable[str] = HEALTH_METHODS,
    clock_ms: Callable[[], int] = _now_ms,
) -> CallGuard:
    """Refuses calls without a valid access key before any handler runs; handlers read the
    caller's key with ``current_access_key()`` (the check runs in the handler's context)."""
    cache = replay or ReplayCache()

    def check(method: str, metadata: tuple[tuple[str, str | bytes], ...]) -> None:
        _current_key.set(admitted_key(metadata, method, clock_ms(), key_of, cache))

    return CallGuard(check, public)
