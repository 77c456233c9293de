"""The DynamoDB door's guards on a real node: bad input refused clearly with nothing
changed, SigV4 refusals (no or a bad signature, an unknown key, a read-only key writing, a
key limited to other tables), and HTTPS with the region's certificate."""

from __future__ import annotations

import http.client
import pathlib
import socket
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, SSLError
from cryptography import x509

from meridian.security import access, certs
from meridian.security.keystore import write_keys
from meridian.security.tls import ServerTlsFiles
from regionnode.dynamodb import app, door
from regionnode.dynamodb.app import MAX_BODY
from tests.integration.dynamodb_support import ServedNode, post, serving_node

PUT = "DynamoDB_20120810.PutItem"
ITEM = {"TableName": "things", "Item": {"id": {"S": "guarded"}}}
READ_WRITE = access.generate(access.Permission.READ_WRITE)
READ_ONLY = access.generate(access.Permission.READ_ONLY)
USERS_ONLY = access.generate(access.Permission.READ_WRITE, ["users"])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNode]:
    with serving_node(tmp_path_factory.mktemp("guards")) as node:
        yield node


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"S": "deep"}
    for _ in range(levels):
        value = {"M": {"a": value}}
    return value


BAD_INPUT = [
    # (what, target, body, content type, status, __type suffix)
    (
        "unknown operation",
        "DynamoDB_20120810.Explode",
        ITEM,
        None,
        400,
        "UnknownOperationException",
    ),
    ("no target", None, ITEM, None, 400, "UnknownOperationException"),
    ("bad json", PUT, b"{not json", None, 400, "SerializationException"),
    ("empty body", PUT, b"", None, 400, "SerializationException"),
    ("a list body", PUT, b"[]", None, 400, "SerializationException"),
    ("wrong content type", PUT, ITEM, "text/plain", 400, "SerializationException"),
    ("too large", PUT, b" " * (MAX_BODY + 1), None, 413, "RequestEntityTooLarge"),
    (
        "nested too deeply",
        PUT,
        {**ITEM, "Item": {"id": nested(100)}},
        None,
        400,
        "SerializationException",
    ),
    (
        "item nested past 32",
        PUT,
        {**ITEM, "Item": {"id": {"S": "x"}, "d": nested(40)}},
        None,
        400,
        "ValidationException",
    ),
    (
        "table name of the wrong type",
        PUT,
        {**ITEM, "TableName": 7},
        None,
        400,
        "SerializationException",
    ),
    ("no table name", PUT, {"Item": ITEM["Item"]}, None, 400, "ValidationException"),
    (
        "bad attribute value",
        PUT,
        {**ITEM, "Item": {"id": {"X": "1"}}},
        None,
        400,
        "ValidationException",
    ),
    (
        "key of the wrong type",
        PUT,
        {**ITEM, "Item": {"id": {"N": "1"}}},
        None,
        400,
        "ValidationException",
    ),
    ("bad ReturnValues", PUT, {**ITEM, "ReturnValues": "SOME"}, None, 400, "ValidationException"),
]


@pytest.mark.parametrize(("what", "target", "body", "content_type", "status", "kind"), BAD_INPUT)
def test_bad_input_is_refused_and_changes_nothing(
    served: ServedNode,
    what: str,
    target: str | None,
    body: Any,
    content_type: str | None,
    status: int,
    kind: str,
) -> None:
    got, headers, answer = post(
        served.endpoint, target, body, content_type or "application/x-amz-json-1.0"
    )
    assert (got, answer["__type"].rsplit("#", 1)[1]) == (status, kind), answer
    assert headers["content-type"] == "application/x-amz-json-1.0" and headers["x-amzn-requestid"]
    assert served.client().scan(TableName="things")["Count"] == 0


def test_an_item_nested_as_deep_as_dynamodb_allows_is_accepted(served: ServedNode) -> None:
    client = served.client()
    item = {"id": {"S": "deep"}, "d": nested(31)}
    client.put_item(TableName="things", Item=item)
    assert client.get_item(TableName="things", Key={"id": {"S": "deep"}})["Item"] == item
    client.delete_item(TableName="things", Key={"id": {"S": "deep"}})


def test_garbage_on_the_wire_is_dropped_and_the_door_keeps_serving(served: ServedNode) -> None:
    host, port = served.endpoint.split("//")[1].rsplit(":", 1)
    for garbage in (b"\x16\x03\x01\x02\x00\x01" * 50, b"NOT HTTP AT ALL\r\n\r\n"):
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            raw.sendall(garbage)
            answer = raw.recv(4096)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 400")
    assert served.client().scan(TableName="things")["Count"] == 0


def test_other_methods_and_paths_are_refused(served: ServedNode) -> None:
    host, port = served.endpoint.split("//")[1].rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=20)
    connection.request("GET", "/")
    health = connection.getresponse()
    assert (health.status, health.read()) == (200, b"healthy: meridian us-east ")
    connection.close()
    for method, path in (("PUT", "/"), ("GET", "/other"), ("POST", "/other")):
        status, _, answer = post(served.endpoint, PUT, ITEM, method=method, path=path)
        assert status == 400 and answer["__type"].endswith("#SerializationException")
    assert served.client().scan(TableName="things")["Count"] == 0


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedNode]:
    directory = tmp_path_factory.mktemp("sigv4")
    credentials = directory / "credentials.yaml"
    keys = (READ_WRITE, READ_ONLY, USERS_ONLY)
    write_keys(credentials, {key.key_id: key for key in keys})
    with serving_node(directory / "data", credentials=credentials) as node:
        yield node


def as_key(served: ServedNode, key: access.AccessKey, **kwargs: Any) -> Any:
    return served.client(key=key.key_id, secret=key.secret, **kwargs)


def refused_code(call: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    return str(refused.value.response["Error"]["Code"])


def test_sigv4_refusals(secured: ServedNode) -> None:
    status, _, answer = post(secured.endpoint, PUT, ITEM)
    assert status == 400 and answer["__type"].endswith("#MissingAuthenticationTokenException")
    bad_secret = access.AccessKey(READ_WRITE.key_id, "x" * 40, READ_WRITE.permission)
    unknown = access.generate(access.Permission.READ_WRITE)
    other_region = {"region": "eu-west"}
    cases = [
        (as_key(secured, bad_secret), "InvalidSignatureException"),
        (as_key(secured, unknown), "UnrecognizedClientException"),
        (as_key(secured, READ_WRITE, **other_region), "InvalidSignatureException"),
        (as_key(secured, READ_ONLY), "AccessDeniedException"),
        (as_key(secured, USERS_ONLY), "AccessDeniedException"),
    ]
    for client, expected in cases:
        assert refused_code(lambda c=client: c.put_item(**ITEM)) == expected
    reader = as_key(secured, READ_WRITE)
    assert reader.scan(TableName="things")["Count"] == 0
    assert as_key(secured, READ_ONLY).scan(TableName="things")["Count"] == 0
    limited = as_key(secured, USERS_ONLY)
    assert limited.list_tables()["TableNames"] == ["users"]
    limited.put_item(TableName="users", Item={"id": {"S": "u"}})
    assert refused_code(lambda: limited.get_item(TableName="things", Key={"id": {"S": "x"}})) == (
        "AccessDeniedException"
    )
    transaction = {
        "TransactItems": [
            {"Put": {"TableName": "users", "Item": {"id": {"S": "v"}}}},
            {"Put": {"TableName": "things", "Item": {"id": {"S": "v"}}}},
        ]
    }
    assert refused_code(lambda: limited.transact_write_items(**transaction)) == (
        "AccessDeniedException"
    )
    assert reader.get_item(TableName="users", Key={"id": {"S": "v"}}).get("Item") is None
    reader.put_item(**ITEM)
    assert reader.scan(TableName="things")["Count"] == 1


def test_https_with_the_region_certificate(tmp_path: pathlib.Path) -> None:
    layout = certs.Layout(tmp_path / "certs")
    certs.write_group_layout(layout.directory, "it", {"us-east": ["127.0.0.1"]})
    cert, key = layout.region("us-east")
    ca, _ = layout.ca
    with serving_node(tmp_path / "data", tls=ServerTlsFiles(cert, key)) as node:
        assert node.endpoint.startswith("https://")
        client = node.client(verify=str(ca))
        client.put_item(**ITEM)
        assert client.get_item(TableName="things", Key={"id": {"S": "guarded"}})["Item"]
        untrusted = node.client(verify=True)  # the system's CAs do not know the group's
        with pytest.raises(SSLError):
            untrusted.list_tables()
        # a certificate rotated on disk is served from the next handshake on
        before = served_serial(node.node.api_port, ca)
        renewed = certs.issue_region(
            certs.load_issued(*layout.ca), "it", "us-east", ["127.0.0.1"], loopback=True
        )
        certs.write_issued(cert, key, renewed, force=True)
        assert served_serial(node.node.api_port, ca) == renewed.cert.serial_number != before
        assert node.client(verify=str(ca)).list_tables()["TableNames"]


def served_serial(port: int, ca: pathlib.Path) -> int:
    context = ssl.create_default_context(cafile=str(ca))
    context.check_hostname = False
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return int(x509.load_der_x509_certificate(der).serial_number)


def test_client_certificates_when_the_group_asks_for_them(tmp_path: pathlib.Path) -> None:
    layout = certs.Layout(tmp_path / "certs")
    certs.write_group_layout(layout.directory, "it", {"us-east": ["127.0.0.1"]})
    cert, key = layout.region("us-east")
    ca, _ = layout.ca
    operator = layout.operator  # a certificate of the group's CA
    files = ServerTlsFiles(cert, key, (ca,), require_client_auth=True)
    with serving_node(tmp_path / "data", tls=files) as node:
        # TLS 1.3: the server refuses the missing certificate after the client's handshake,
        # so the client sees the alert or, if it reads too late, the connection closed
        with pytest.raises((SSLError, ConnectionClosedError)):
            node.client(verify=str(ca)).list_tables()
        with_cert = node.client(verify=str(ca), client_cert=tuple(str(p) for p in operator))
        assert "things" in with_cert.list_tables()["TableNames"]


def raw_exchange(endpoint: str, request: bytes, timeout: float = 20) -> tuple[bytes, float]:
    """Send `request` on a fresh connection; what comes back before the server closes it or
    answers, and how long that took."""
    host, port = endpoint.split("//")[1].rsplit(":", 1)
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=timeout) as raw:
        if request:
            raw.sendall(request)
        answer = b""
        while not _whole(answer):
            chunk = raw.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer, time.monotonic() - started


def _whole(answer: bytes) -> bool:
    head, found, body = answer.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return True


def test_a_connection_that_never_finishes_its_headers_is_closed(
    served: ServedNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(door._HeadersDeadline, "headers_timeout", 0.5)
    for partial in (b"", b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Dynamo"):
        answer, took = raw_exchange(served.endpoint, partial)
        assert answer == b"" and took < 15, (partial, answer, took)
    status, _, _ = post(served.endpoint, PUT, ITEM)  # whole requests are still served
    assert status == 200


def test_a_body_that_trickles_in_is_refused(
    served: ServedNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app, "BODY_TIMEOUT_S", 0.5)
    head = (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.0\r\n"
        b"X-Amz-Target: " + PUT.encode() + b"\r\nContent-Length: 100\r\n\r\n{"
    )
    answer, _ = raw_exchange(served.endpoint, head)
    assert answer.startswith(b"HTTP/1.1 408") and b"RequestTimeoutException" in answer


def test_without_a_key_no_body_is_read(secured: ServedNode) -> None:
    """The refusal comes before the body: the server does not wait for 16 MB that never
    come from a caller it does not know."""
    head = (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.0\r\n"
        b"X-Amz-Target: " + PUT.encode() + b"\r\nContent-Length: 16000000\r\n\r\n"
    )
    answer, _ = raw_exchange(secured.endpoint, head)
    assert answer.startswith(b"HTTP/1.1 400") and b"MissingAuthenticationToken" in answer
    unknown = access.generate(access.Permission.READ_WRITE).key_id
    now = datetime.now(UTC)  # signed now: only the key is wrong
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    signed = head.replace(
        b"Content-Length",
        f"X-Amz-Date: {stamp}\r\nAuthorization: AWS4-HMAC-SHA256 Credential={unknown}/"
        f"{day}/us-east/dynamodb/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, "
        "Signature=00\r\n"
        "Content-Length".encode(),
    )
    answer, _ = raw_exchange(secured.endpoint, signed)
    assert answer.startswith(b"HTTP/1.1 400") and b"UnrecognizedClientException" in answer
