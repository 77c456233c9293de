"""The DynamoDB door as a bare ASGI callable: one `POST /` per operation (and `GET /`, a
health check that needs no credentials, as DynamoDB's).

Per request, in this order: when the group has `auth`, check everything of the signature
that needs no body (a known key, the scope, the clock skew); read the body (at most MAX_BODY
bytes: 413 beyond; within BODY_TIMEOUT_S); check the signature, the content type
(application/x-amz-json-1.0, or application/json), the operation named by `X-Amz-Target`,
and the body (a JSON object of at most MAX_NESTING levels); then the operation's handler
runs. Every answer is JSON with DynamoDB's headers (`x-amzn-RequestId`, `x-amz-crc32`,
which botocore checks); every refusal is DynamoDB's error shape, and changes nothing.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from meridian.wire.errors import NotReady
from regionnode.dynamodb import unsupported
from regionnode.dynamodb.auth import ANYONE, Caller, SigV4Auth
from regionnode.dynamodb.errors import CORAL, DynamoError, serialization, to_dynamo
from regionnode.dynamodb.items import DataPlane
from regionnode.dynamodb.iterators import IteratorSigner
from regionnode.dynamodb.streams import StreamsApi
from regionnode.dynamodb.tables import CONTROL_PLANE, ControlPlane, Tables
from regionnode.rpc import READS, STATE_METADATA, Core

DYNAMODB = "DynamoDB_20120810."
STREAMS = "DynamoDBStreams_20120810."
CONTENT_TYPES = (b"application/x-amz-json-1.0", b"application/json")
MAX_BODY = 16 * 1024 * 1024
BODY_TIMEOUT_S = 30.0  # a body that trickles in slower than this is refused
# On reads while the region bootstraps (replication.reads_while_bootstrapping: serve), as the
# gRPC door's trailing metadata.
BOOTSTRAPPING = (STATE_METADATA.encode(), b"BOOTSTRAPPING")
MAX_NESTING = 100  # an item nests 32 levels, 64 in JSON, inside a request of a few more

Body = dict[str, Any]
Handler = Callable[[Body, Caller], Awaitable[Body]]
Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]


class DynamoApp:
    def __init__(
        self,
        core: Core,
        auth: SigV4Auth | None,
        control: ControlPlane,
        signer: IteratorSigner,
    ) -> None:
        self.core = core
        self.auth = auth
        tables = Tables(core, control)
        self.routes: dict[str, tuple[str, Handler]] = {}
        for operation, handler in {**DataPlane(core).handlers, **tables.handlers}.items():
            self.routes[DYNAMODB + operation] = (operation, handler)
        for operation, handler in unsupported.handlers().items():
            self.routes[DYNAMODB + operation] = (operation, handler)
        for operation in CONTROL_PLANE:
            self.routes[DYNAMODB + operation] = (
                operation,
                functools.partial(control.call, operation),
            )
        for operation, handler in StreamsApi(core, signer).handlers.items():
            self.routes[STREAMS + operation] = (operation, handler)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "GET" and scope["path"] == "/":
            await _health(send, self.core.region)
            return
        start = time.perf_counter()
        operation = "unknown"
        try:
            if self.auth is not None:
                self.auth.admit(_text_headers(scope))  # nobody without a key sends a body
            body = await _read_body(scope, receive)
            if body is None:
                return  # the client went away
            operation, status, answer = await self._serve(scope, body)
            code = "OK"
        except Exception as exc:  # noqa: BLE001 - every failure is answered; to_dynamo logs bugs
            error = to_dynamo(exc)
            status, answer, code = error.status, error.body(), error.code
        extra = []
        if operation in READS and self.core.store.bootstrap.state == "BOOTSTRAPPING":
            extra.append(BOOTSTRAPPING)  # a half-copied region says so
        await _respond(send, status, answer, extra)
        self.core.metrics.request_done(f"DynamoDB.{operation}", code, time.perf_counter() - start)

    async def _serve(self, scope: Scope, raw: bytes) -> tuple[str, int, Body]:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        caller = ANYONE
        if self.auth is not None:
            caller = self.auth.caller(
                scope["method"],
                scope.get("raw_path", b"/").decode("latin-1").split("?", 1)[0],
                scope.get("query_string", b"").decode("latin-1"),
                _text_headers(scope),
                raw,
            )
        if scope["method"] != "POST" or scope["path"] != "/":
            raise serialization("only POST / is served (DynamoDB's JSON 1.0 protocol)")
        target = content_type = b""
        for name, value in headers:
            if name == b"x-amz-target":
                target = value
            elif name == b"content-type":
                content_type = value
        route = self.routes.get(target.decode("latin-1"))
        if route is None:
            shown = target.decode("latin-1")[:100] or "none"
            raise DynamoError(
                "UnknownOperationException",
                f"unknown operation (X-Amz-Target: {shown}): expected "
                f"{DYNAMODB}<Operation> or {STREAMS}<Operation>",
                type_prefix=CORAL,
            )
        if content_type.split(b";")[0].strip().lower() not in CONTENT_TYPES:
            raise serialization(
                "Content-Type must be application/x-amz-json-1.0 (or application/json)"
            )
        operation, handler = route
        body = _parse(raw)
        if operation in READS and self.core.store.bootstrap.state == "BOOTSTRAPPING":
            self._bootstrapping_read()
        return operation, 200, await handler(body, caller)

    def _bootstrapping_read(self) -> None:
        if self.core.refuse_bootstrapping_reads:
            raise NotReady(
                f"region {self.core.region} is bootstrapping; reads are refused until it is "
                "ACTIVE (replication.reads_while_bootstrapping)"
            )


def _text_headers(scope: Scope) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]


def _parse(raw: bytes) -> Body:
    if not raw:
        raise serialization("the request body is empty: expected a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise serialization(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise serialization("the request body must be a JSON object")
    # Each level takes at least two bytes: a shorter body cannot nest too deeply.
    if len(raw) > 2 * MAX_NESTING and _depth(body) > MAX_NESTING:
        raise serialization(f"the request body nests deeper than {MAX_NESTING} levels")
    return body


def _depth(value: Any, level: int = 1) -> int:
    """How deeply `value` nests, counting no further than MAX_NESTING + 1."""
    if level > MAX_NESTING:
        return level
    children = (
        value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    )
    return max(
        (_depth(child, level + 1) for child in children if isinstance(child, dict | list)),
        default=level,
    )


async def _read_body(scope: Scope, receive: Receive) -> bytes | None:
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            return await _receive_body(scope, receive)
    except TimeoutError:
        raise DynamoError(
            "RequestTimeoutException",
            f"the request body did not arrive within {BODY_TIMEOUT_S:.0f} s",
            408,
        ) from None


async def _receive_body(scope: Scope, receive: Receive) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > MAX_BODY:
            raise _too_large()
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise _too_large()
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _too_large() -> DynamoError:
    return DynamoError(
        "RequestEntityTooLarge", f"Request must be smaller than {MAX_BODY} bytes", 413
    )


async def _health(send: Send, region: str) -> None:
    """`GET /`, as DynamoDB answers it (load balancers' health checks; no credentials)."""
    text = f"healthy: meridian {region} ".encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(text)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": text})


async def _respond(send: Send, status: int, answer: Body, extra: list[tuple[bytes, bytes]]) -> None:
    payload = orjson.dumps(answer)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/x-amz-json-1.0"),
                (b"content-length", str(len(payload)).encode()),
                (b"x-amzn-requestid", uuid.uuid4().hex.upper().encode()),
                (b"x-amz-crc32", str(zlib.crc32(payload)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
