"""AWS Signature Version 4 verification for the DynamoDB-compatible HTTP API.

Verifies the ``Authorization`` header the way AWS SDKs sign (botocore's ``SigV4Auth``):

    canonical request = METHOD \\n path \\n query \\n headers \\n signed-names \\n sha256(body)
    string to sign    = AWS4-HMAC-SHA256 \\n timestamp \\n date/region/service/aws4_request
                        \\n sha256(canonical request)
    signing key       = HMAC chain of "AWS4"+secret over date, region, service, "aws4_request"

The service is ``dynamodb`` for DynamoDB and DynamoDB Streams alike. The checks run in
DynamoDB's order and fail with its error codes and messages (``SignatureError``); a
request more than 15 minutes off ``now`` is refused, which bounds replays. The payload hash
is always computed from the body received, never taken from a header, and the signature is
compared in constant time. ``X-Amz-Security-Token`` plays no part: there are no temporary
credentials, and the signature alone proves the secret.

Pure: the caller passes the request as received, ``now`` and a secret lookup.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote_plus

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "dynamodb"
TERMINATOR = "aws4_request"
MAX_SKEW = timedelta(minutes=15)
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
# Signed headers a request must have: the endpoint it was meant for, and the operation (an
# unsigned X-Amz-Target would let a captured request be replayed as another operation).
REQUIRED_SIGNED = ("host", "x-amz-target")

_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


class ErrorCode(enum.StrEnum):
    MISSING_AUTHENTICATION_TOKEN = "MissingAuthenticationTokenException"  # noqa: S105
    INCOMPLETE_SIGNATURE = "IncompleteSignatureException"
    INVALID_SIGNATURE = "InvalidSignatureException"
    UNRECOGNIZED_CLIENT = "UnrecognizedClientException"


class SignatureError(Exception):
    """A refused request: ``code`` is DynamoDB's error name, sent with HTTP status 400."""

    status = 400

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def error_type(self) -> str:
        """The ``__type`` of DynamoDB's JSON error body."""
        return f"com.amazon.coral.service#{self.code}"


@dataclass(frozen=True)
class Request:
    """An HTTP request as received: raw path and query, headers in any case, body bytes."""

    method: str
    path: str
    query: str
    headers: Iterable[tuple[str, str]] | Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class Verified:
    access_key_id: str
    region: str
    signed_at: datetime


@dataclass(frozen=True)
class _Authorization:
    algorithm: str
    credential: str
    signed_headers: tuple[str, ...]
    signature: str


def verify(
    request: Request,
    now: datetime,
    secret_of: Callable[[str], str | None],
    region: str | None = None,
    required_signed: Collection[str] = REQUIRED_SIGNED,
) -> Verified:
    """The access key that signed ``request``, or SignatureError.

    ``secret_of`` returns the secret of an access key id, or None for an unknown id.
    ``region`` limits the credential scope to one region name; None takes any.
    """
    headers = _header_lists(request.headers)
    envelope = _envelope(headers, now, region, required_signed)
    secret = _secret(envelope.key_id, secret_of)
    date, scope_region = envelope.date, envelope.region
    canonical = canonical_request(request, headers, envelope.auth.signed_headers)
    scope = f"{date}/{scope_region}/{SERVICE}/{TERMINATOR}"
    to_sign = string_to_sign(envelope.timestamp, scope, canonical)
    expected = signature(secret, date, scope_region, SERVICE, to_sign)
    if not hmac.compare_digest(expected.encode(), envelope.auth.signature.encode()):
        raise SignatureError(
            ErrorCode.INVALID_SIGNATURE,
            f"{_MISMATCH}\n\nThe Canonical String for this request should have been\n"
            f"'{canonical}'\n\nThe String-to-Sign should have been\n'{to_sign}'\n",
        )
    return Verified(envelope.key_id, scope_region, envelope.signed_at)


def admit(
    headers: Iterable[tuple[str, str]],
    now: datetime,
    secret_of: Callable[[str], str | None],
    region: str | None = None,
    required_signed: Collection[str] = REQUIRED_SIGNED,
) -> None:
    """Everything `verify` checks that needs no body: the Authorization header, the clock
    skew, the credential scope and that the key exists (SignatureError otherwise). A door
    calls it before reading a body, so that nobody without a key makes it buffer one."""
    _secret(_envelope(_header_lists(headers), now, region, required_signed).key_id, secret_of)


@dataclass(frozen=True)
class _Envelope:
    auth: _Authorization
    signed_at: datetime
    timestamp: str
    key_id: str
    date: str
    region: str


def _envelope(
    headers: Mapping[str, list[str]],
    now: datetime,
    region: str | None,
    required_signed: Collection[str],
) -> _Envelope:
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    raw = headers.get("authorization", [])
    if not raw or not raw[0].strip().startswith("AWS4-"):
        raise SignatureError(
            ErrorCode.MISSING_AUTHENTICATION_TOKEN, "Request is missing Authentication Token"
        )
    auth = _parse_authorization(raw[0], headers)
    signed_at, timestamp = _timestamp(headers)
    _check_skew(signed_at, now)
    for name in required_signed:
        if name not in auth.signed_headers:
            title = "-".join(part.capitalize() for part in name.split("-"))
            raise SignatureError(
                ErrorCode.INVALID_SIGNATURE,
                f"'{title}' must be a 'SignedHeader' in the AWS Authorization.",
            )
    if auth.algorithm != ALGORITHM:
        raise SignatureError(
            ErrorCode.INCOMPLETE_SIGNATURE,
            f"Unsupported AWS 'algorithm': '{auth.algorithm}' (only {ALGORITHM} for now). ",
        )
    key_id, date, scope_region = _check_scope(auth.credential, timestamp, region)
    return _Envelope(auth, signed_at, timestamp, key_id, date, scope_region)


def _secret(key_id: str, secret_of: Callable[[str], str | None]) -> str:
    secret = secret_of(key_id)
    if secret is None:
        raise SignatureError(
            ErrorCode.UNRECOGNIZED_CLIENT, "The security token included in the request is invalid."
        )
    return secret


# --------------------------------------------------------------------------- the signature


def canonical_request(
    request: Request, headers: Mapping[str, list[str]], signed: Iterable[str]
) -> str:
    names = list(signed)
    lines = [f"{n}:{','.join(' '.join(v.split()) for v in headers.get(n, []))}" for n in names]
    return "\n".join(
        [
            request.method.upper(),
            canonical_path(request.path),
            canonical_query(request.query),
            "\n".join(lines) + "\n",
            ";".join(names),
            hashlib.sha256(request.body).hexdigest(),
        ]
    )


def canonical_path(path: str) -> str:
    """The path without dot segments or empty segments, URI-encoded again (as botocore)."""
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    text = "/" + "/".join(kept)
    if kept and path.endswith("/"):
        text += "/"
    return quote(text, safe="/~")


def canonical_query(query: str) -> str:
    """Parameters decoded (``+`` is a space, as botocore sends it), strictly re-encoded and
    sorted by name, then value."""
    if not query:
        return ""
    pairs = []
    for item in query.split("&"):
        name, _, value = item.partition("=")
        pairs.append((_encode(name), _encode(value)))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def _encode(text: str) -> str:
    return quote(unquote_plus(text), safe="-_.~")


def string_to_sign(timestamp: str, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"


def signature(secret: str, date: str, region: str, service: str, to_sign: str) -> str:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------- the checks


def _header_lists(headers: Iterable[tuple[str, str]] | Mapping[str, str]) -> dict[str, list[str]]:
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    found: dict[str, list[str]] = {}
    for name, value in pairs:
        found.setdefault(name.strip().lower(), []).append(value)
    return found


def _parse_authorization(value: str, headers: Mapping[str, list[str]]) -> _Authorization:
    algorithm, _, rest = value.strip().partition(" ")
    params: dict[str, str] = {}
    for item in rest.split(","):
        if not item.strip():
            continue
        name, equals, text = item.strip().partition("=")
        if not equals:
            raise SignatureError(
                ErrorCode.INCOMPLETE_SIGNATURE,
                f"'{item.strip()}' not a valid key=value pair (missing equal-sign) in "
                f"Authorization header: '{value}'.",
            )
        params[name.strip()] = text.strip()
    missing = "".join(
        f"Authorization header requires '{name}' parameter. "
        for name in ("Credential", "Signature", "SignedHeaders")
        if not params.get(name)
    )
    if "x-amz-date" not in headers and "date" not in headers:
        missing += (
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        )
    if missing:
        raise SignatureError(ErrorCode.INCOMPLETE_SIGNATURE, f"{missing}Authorization={value}")
    names = tuple(n.strip().lower() for n in params["SignedHeaders"].split(";") if n.strip())
    return _Authorization(algorithm, params["Credential"], names, params["Signature"])


def _timestamp(headers: Mapping[str, list[str]]) -> tuple[datetime, str]:
    """When the request was signed, and that moment as the string to sign writes it."""
    if "x-amz-date" in headers:
        text = headers["x-amz-date"][0].strip()
        try:
            moment = datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            moment = None
    else:
        text = headers["date"][0].strip()
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            moment = None
        else:  # "-0000" (what botocore writes) parses without a time zone: it means UTC
            moment = parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if moment is None:
        raise SignatureError(
            ErrorCode.INCOMPLETE_SIGNATURE,
            f"Date must be in ISO-8601 'basic format'. Got '{text}'. "
            f"See http://en.wikipedia.org/wiki/ISO_8601",
        )
    return moment, moment.strftime(TIMESTAMP_FORMAT)


def _check_skew(signed_at: datetime, now: datetime) -> None:
    def show(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)

    if signed_at < now - MAX_SKEW:
        raise SignatureError(
            ErrorCode.INVALID_SIGNATURE,
            f"Signature expired: {show(signed_at)} is now earlier than "
            f"{show(now - MAX_SKEW)} ({show(now)} - 15 min.)",
        )
    if signed_at > now + MAX_SKEW:
        raise SignatureError(
            ErrorCode.INVALID_SIGNATURE,
            f"Signature not yet current: {show(signed_at)} is still later than "
            f"{show(now + MAX_SKEW)} ({show(now)} + 15 min.)",
        )


def _check_scope(credential: str, timestamp: str, region: str | None) -> tuple[str, str, str]:
    """The key id, date and region of a credential scoped to this service and moment."""
    parts = credential.rstrip("/").split("/")
    if len(parts) != 5:
        raise SignatureError(
            ErrorCode.INCOMPLETE_SIGNATURE,
            "Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/term, got '{credential}'",
        )
    key_id, date, scope_region, service, terminator = parts
    problems = ""
    if not scope_region or (region is not None and scope_region != region):
        problems += f"Credential should be scoped to a valid region, not '{scope_region}'. "
    if service != SERVICE:
        problems += f"Credential should be scoped to correct service: '{SERVICE}'. "
    if terminator != TERMINATOR:
        problems += (
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', "
            f"not '{terminator}'. "
        )
    if date != timestamp[:8]:
        problems += (
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{date}' != '{timestamp[:8]}', from '{timestamp}'."
        )
    if problems:
        raise SignatureError(ErrorCode.INVALID_SIGNATURE, problems.rstrip())
    return key_id, date, scope_region
