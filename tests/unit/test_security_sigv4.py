"""SigV4 verification against botocore's own signer: valid requests pass, any tampering fails."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from meridian.security import sigv4
from meridian.security.sigv4 import ErrorCode, Request, SignatureError

KEY = "MKTESTKEY00000000001"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SECRETS = {KEY: SECRET}
URL = "http://127.0.0.1:8000/"
TARGET = "DynamoDB_20120810.ListTables"


def sign(
    body: bytes = b"{}",
    headers: dict[str, str] | None = None,
    url: str = URL,
    method: str = "POST",
    params: dict[str, str] | None = None,
    key: str = KEY,
    secret: str = SECRET,
    region: str = "us-east-1",
    service: str = "dynamodb",
    token: str | None = None,
    extra: list[tuple[str, str]] = (),  # type: ignore[assignment]
) -> Request:
    """A request signed by botocore, as an HTTP server would receive it."""
    base = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": TARGET}
    request = AWSRequest(method, url, {**base, **(headers or {})}, body, params or {})
    for name, value in extra:
        request.headers[name] = value  # botocore's headers keep repeated names
    SigV4Auth(Credentials(key, secret, token), service, region).add_auth(request)
    prepared = request.prepare()
    split = urlsplit(prepared.url)
    # The headers botocore signed (its prepared request would keep one of repeated names),
    # and the Host header urllib3 adds.
    received = [*request.headers.items(), ("Host", split.netloc)]
    return Request(method, split.path or "/", split.query, received, prepared.body or b"")


def signed_at(request: Request) -> datetime:
    headers = {n.lower(): v for n, v in header_list(request)}
    if "x-amz-date" in headers:
        return datetime.strptime(headers["x-amz-date"], sigv4.TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    return parsedate_to_datetime(headers["date"]).replace(tzinfo=UTC)


def verify(request: Request, now: datetime | None = None, **kwargs: Any) -> sigv4.Verified:
    return sigv4.verify(request, now or signed_at(request), SECRETS.get, **kwargs)


def header_list(request: Request) -> list[tuple[str, str]]:
    return list(request.headers)  # type: ignore[arg-type]


def with_headers(request: Request, change: Callable[[str, str], tuple[str, str] | None]) -> Request:
    pairs = [changed for n, v in header_list(request) if (changed := change(n, v)) is not None]
    return dataclasses.replace(request, headers=pairs)


def set_header(request: Request, name: str, value: str | None) -> Request:
    def change(n: str, v: str) -> tuple[str, str] | None:
        if n.lower() != name.lower():
            return (n, v)
        return None if value is None else (n, value)

    return with_headers(request, change)


def authorization(request: Request) -> str:
    return next(v for n, v in header_list(request) if n.lower() == "authorization")


def edit_authorization(request: Request, old: str, new: str) -> Request:
    return set_header(request, "Authorization", authorization(request).replace(old, new))


@pytest.mark.parametrize(
    "make",
    [
        lambda: sign(),
        lambda: sign(
            body=json.dumps({"TableName": "t", "Item": {"k": {"S": "é" * 5000}}}).encode()
        ),
        lambda: sign(body=b""),
        lambda: sign(headers={"amz-sdk-invocation-id": "abc", "amz-sdk-request": "attempt=1"}),
        lambda: sign(headers={"X-Custom": "  spaced    out   value  "}),
        lambda: sign(extra=[("X-Repeated", "one"), ("X-Repeated", "two  three")]),
        lambda: sign(headers={"User-Agent": "Boto3/1.0"}),
        lambda: sign(token="session-token"),
        lambda: sign(headers={"Date": "x"}),  # botocore signs with a Date header instead
        lambda: sign(params={"b": "x y", "a": "1/2", "c": "~*"}),
        lambda: sign(url="http://127.0.0.1:8000/some/./path/../x%20y"),
        lambda: sign(url="http://localhost:9000/", region="eu-west-1"),
        lambda: sign(headers={"X-Amz-Target": "DynamoDBStreams_20120810.GetRecords"}),
        lambda: sign(method="GET", body=b""),
    ],
)
def test_botocore_signatures_verify(make: Callable[[], Request]) -> None:
    request = make()
    result = verify(request)
    assert result.access_key_id == KEY
    assert result.signed_at == signed_at(request)
    # Header names in any case, an unsigned header added on the way: still the same request.
    shouted = with_headers(request, lambda n, v: (n.upper(), v))
    assert verify(shouted).access_key_id == KEY
    assert verify(set_header(shouted, "X-Forwarded-For", None)).access_key_id == KEY
    added = dataclasses.replace(request, headers=[*header_list(request), ("X-Proxy", "1")])
    assert verify(added).access_key_id == KEY


def test_region_scope() -> None:
    request = sign(region="r1")
    assert verify(request, region="r1").region == "r1"
    with pytest.raises(SignatureError, match="scoped to a valid region, not 'r1'"):
        verify(request, region="r2")


MISMATCH = "The request signature we calculated does not match the signature you provided"
INVALID = ErrorCode.INVALID_SIGNATURE
MISSING = ErrorCode.MISSING_AUTHENTICATION_TOKEN
INCOMPLETE = ErrorCode.INCOMPLETE_SIGNATURE
UNRECOGNIZED = ErrorCode.UNRECOGNIZED_CLIENT


def _next_day(request: Request) -> Request:
    moment = signed_at(request) + timedelta(days=1)
    return set_header(request, "X-Amz-Date", moment.strftime(sigv4.TIMESTAMP_FORMAT))


def _one_second_later(request: Request) -> Request:
    moment = signed_at(request) + timedelta(seconds=1)
    return set_header(request, "X-Amz-Date", moment.strftime(sigv4.TIMESTAMP_FORMAT))


def _flip_signature(request: Request) -> Request:
    auth = authorization(request)
    last = auth[-1]
    return set_header(request, "Authorization", auth[:-1] + ("0" if last != "0" else "1"))


TAMPERED: list[tuple[str, Callable[[Request], Request], ErrorCode, str]] = [
    ("method", lambda r: dataclasses.replace(r, method="PUT"), INVALID, MISMATCH),
    ("path", lambda r: dataclasses.replace(r, path="/other"), INVALID, MISMATCH),
    ("query", lambda r: dataclasses.replace(r, query="a=1"), INVALID, MISMATCH),
    ("body", lambda r: dataclasses.replace(r, body=b'{"TableName":"x"}'), INVALID, MISMATCH),
    (
        "target",
        lambda r: set_header(r, "X-Amz-Target", "DynamoDB_20120810.DeleteTable"),
        INVALID,
        MISMATCH,
    ),
    ("host", lambda r: set_header(r, "Host", "evil.example:8000"), INVALID, MISMATCH),
    ("signed header gone", lambda r: set_header(r, "Content-Type", None), INVALID, MISMATCH),
    ("signature", _flip_signature, INVALID, MISMATCH),
    ("timestamp", _one_second_later, INVALID, MISMATCH),
    ("date", _next_day, INVALID, "Date in Credential scope does not match YYYYMMDD"),
    (
        "no authorization",
        lambda r: set_header(r, "Authorization", None),
        MISSING,
        "missing Authentication",
    ),
    (
        "basic auth",
        lambda r: set_header(r, "Authorization", "Basic a2V5OnNlY3JldA=="),
        MISSING,
        "missing",
    ),
    (
        "no equal sign",
        lambda r: set_header(r, "Authorization", "AWS4-HMAC-SHA256 Credential, Signature=a"),
        INCOMPLETE,
        "'Credential' not a valid key=value pair",
    ),
    (
        "no signature",
        lambda r: set_header(r, "Authorization", authorization(r).split(", Signature=")[0]),
        INCOMPLETE,
        "Authorization header requires 'Signature' parameter. Authorization=AWS4",
    ),
    (
        "no date",
        lambda r: set_header(r, "X-Amz-Date", None),
        INCOMPLETE,
        "requires existence of either a 'X-Amz-Date' or a 'Date' header",
    ),
    (
        "bad date",
        lambda r: set_header(r, "X-Amz-Date", "2024-01-01"),
        INCOMPLETE,
        "ISO-8601 'basic format'",
    ),
    (
        "host unsigned",
        lambda r: edit_authorization(
            r, "SignedHeaders=content-type;host;", "SignedHeaders=content-type;"
        ),
        INVALID,
        "'Host' must be a 'SignedHeader'",
    ),
    (
        "target unsigned",
        lambda r: edit_authorization(r, ";x-amz-target", ""),
        INVALID,
        "'X-Amz-Target' must be a 'SignedHeader'",
    ),
    (
        "algorithm",
        lambda r: edit_authorization(r, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"),
        INCOMPLETE,
        "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'",
    ),
    (
        "short credential",
        lambda r: edit_authorization(r, "/aws4_request", ""),
        INCOMPLETE,
        "Credential must have exactly 5 slash-delimited elements",
    ),
    (
        "service",
        lambda r: edit_authorization(r, "/dynamodb/", "/streams.dynamodb/"),
        INVALID,
        "Credential should be scoped to correct service: 'dynamodb'.",
    ),
    (
        "terminator",
        lambda r: edit_authorization(r, "/aws4_request", "/aws5_request"),
        INVALID,
        "scoped with a valid terminator: 'aws4_request', not 'aws5_request'",
    ),
    ("region", lambda r: edit_authorization(r, "/us-east-1/", "/eu-west-1/"), INVALID, MISMATCH),
    (
        "unknown key",
        lambda r: edit_authorization(r, f"Credential={KEY}", "Credential=MKUNKNOWN00000000001"),
        UNRECOGNIZED,
        "The security token included in the request is invalid.",
    ),
]


@pytest.mark.parametrize(
    ("part", "tamper", "code", "message"), TAMPERED, ids=[t[0] for t in TAMPERED]
)
def test_tampering_is_refused(
    part: str, tamper: Callable[[Request], Request], code: ErrorCode, message: str
) -> None:
    request = sign()
    verify(request)
    tampered = tamper(request)
    try:
        now = signed_at(tampered)
    except (KeyError, ValueError):
        now = signed_at(request)
    with pytest.raises(SignatureError) as refused:
        verify(tampered, now=now)
    assert refused.value.code is code
    assert message in refused.value.message
    assert refused.value.error_type == f"com.amazon.coral.service#{code}"


def test_wrong_secret_and_streams_scope() -> None:
    with pytest.raises(SignatureError, match=MISMATCH) as refused:
        verify(sign(secret=SECRET + "x"))
    assert "The Canonical String for this request should have been\n'POST\n/\n" in str(
        refused.value
    )
    with pytest.raises(SignatureError, match="scoped to correct service"):
        verify(sign(service="dynamodbstreams"))


def test_clock_skew_bounds() -> None:
    request = sign()
    at = signed_at(request)
    skew = sigv4.MAX_SKEW
    for now in (at - skew, at + skew):
        verify(request, now=now)
    with pytest.raises(SignatureError) as refused:
        verify(request, now=at + skew + timedelta(seconds=1))
    stamp = at.strftime(sigv4.TIMESTAMP_FORMAT)
    assert refused.value.code is ErrorCode.INVALID_SIGNATURE
    assert refused.value.message.startswith(f"Signature expired: {stamp} is now earlier than ")
    assert refused.value.message.endswith(" - 15 min.)")
    with pytest.raises(SignatureError, match=f"Signature not yet current: {stamp} is still later"):
        verify(request, now=at - skew - timedelta(seconds=1))
    with pytest.raises(ValueError, match="time zone"):
        verify(request, now=at.replace(tzinfo=None))


def test_admission_checks_everything_but_the_body() -> None:
    """What a door checks before it reads a body: a known key, the scope, the clock."""
    request = sign(body=b'{"TableName": "t"}')
    now = signed_at(request)

    def admit(headers: list[tuple[str, str]], at: datetime = now) -> None:
        sigv4.admit(headers, at, SECRETS.get, "us-east-1")

    admit(header_list(request))  # the body does not matter here
    refusals = [
        (header_list(set_header(request, "Authorization", None)), now, MISSING),
        (header_list(sign(key="MKUNKNOWN")), now, UNRECOGNIZED),
        (header_list(sign(region="eu-west-1")), now, INVALID),
        (header_list(request), now + sigv4.MAX_SKEW + timedelta(seconds=1), INVALID),
    ]
    for headers, at, code in refusals:
        with pytest.raises(SignatureError) as refused:
            admit(headers, at)
        assert refused.value.code is code


def test_signature_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = sigv4.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(sigv4.hmac, "compare_digest", spy)
    request = sign()
    verify(request)
    with pytest.raises(SignatureError):
        verify(_flip_signature(request))
    assert len(compared) == 2
    non_ascii = edit_authorization(request, "Signature=", "Signature=é")
    with pytest.raises(SignatureError, match=MISMATCH):
        verify(non_ascii)


# --------------------------------------------------------------------------- real boto3 clients


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        split = urlsplit(self.path)
        request = Request("POST", split.path, split.query, list(self.headers.items()), body)
        try:
            sigv4.verify(request, datetime.now(UTC), SECRETS.get)
        except SignatureError as exc:
            self._reply(exc.status, {"__type": exc.error_type, "message": exc.message})
        else:
            self._reply(200, {"TableNames": [], "Streams": []})

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def client(service: str, endpoint: str, key: str = KEY, secret: str = SECRET) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="r1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": 1}),
    )


def test_boto3_clients_over_http(endpoint: str) -> None:
    assert client("dynamodb", endpoint).list_tables()["TableNames"] == []
    assert client("dynamodbstreams", endpoint).list_streams()["Streams"] == []
    with pytest.raises(ClientError) as refused:
        client("dynamodb", endpoint, secret="not-the-secret").list_tables()
    assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
    with pytest.raises(ClientError) as refused:
        client("dynamodb", endpoint, key="MKUNKNOWN00000000001").list_tables()
    assert refused.value.response["Error"]["Code"] == "UnrecognizedClientException"
