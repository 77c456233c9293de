"""A real node serving the DynamoDB door, for tests that drive it with blocking clients
(boto3, raw HTTP): the node runs on an event loop of its own thread."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import pathlib
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from prometheus_client import CollectorRegistry

from meridian.pb import node_pb2 as pb
from meridian.security.tls import ServerTlsFiles
from regionnode.node import Node, NodeSettings
from tests.integration.test_node import TABLES, spec

START_S = 20.0
REGION = "us-east"
# Tables of the door's tests: a sort key of each type, and one of each stream view type.
DOOR_TABLES = [
    *TABLES,
    spec("things", pk="id"),
    spec("events", pk="pk", sk=("sk", pb.KEY_TYPE_S)),
]


@dataclass
class ServedNode:
    node: Node
    endpoint: str
    loop: asyncio.AbstractEventLoop
    clients: list[Any] = field(default_factory=list)  # closed before the node stops

    def client(self, service: str = "dynamodb", **kwargs: Any) -> Any:
        client = boto3.client(service, **client_kwargs(self.endpoint, **kwargs))
        self.clients.append(client)
        return client

    def resource(self, **kwargs: Any) -> Any:
        resource = boto3.resource("dynamodb", **client_kwargs(self.endpoint, **kwargs))
        self.clients.append(resource.meta.client)
        return resource

    def close_clients(self) -> None:
        for client in self.clients:
            client.close()
        self.clients.clear()

    def call(self, coroutine: Any) -> Any:
        """Run a coroutine on the node's loop (e.g. a gRPC-free look at its store)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(START_S)


def client_kwargs(
    endpoint: str,
    key: str = "anything",
    secret: str = "anything",
    region: str = REGION,
    verify: Any = None,
    client_cert: tuple[str, str] | None = None,
) -> dict[str, Any]:
    config = Config(
        retries={"max_attempts": 1}, connect_timeout=5, read_timeout=20, client_cert=client_cert
    )
    return {
        "endpoint_url": endpoint,
        "region_name": region,
        "aws_access_key_id": key,
        "aws_secret_access_key": secret,
        "verify": verify,
        "config": config,
    }


@contextlib.contextmanager
def serving_node(
    data_dir: pathlib.Path,
    *,
    tables: Sequence[pb.TableSpec] = DOOR_TABLES,
    credentials: pathlib.Path | None = None,
    tls: ServerTlsFiles | None = None,
    region: str = REGION,
) -> Iterator[ServedNode]:
    """A node with the DynamoDB door on a free port, in a thread; stopped on the way out."""
    settings = NodeSettings(
        group="it",
        region=region,
        data_dir=data_dir,
        listen="127.0.0.1:0",
        peer_listen="127.0.0.1:0",
        sync=False,
        tables=list(tables),
        peers=[],
        api_listen="127.0.0.1:0",
        credentials=credentials,
        client_tls=tls,
    )
    node = Node(settings, CollectorRegistry())
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="door node", daemon=True)
    thread.start()
    served = None
    try:
        asyncio.run_coroutine_threadsafe(node.start(), loop).result(START_S)
        scheme = "http" if tls is None else "https"
        served = ServedNode(node, f"{scheme}://127.0.0.1:{node.api_port}", loop)
        yield served
    finally:
        if served is not None:
            served.close_clients()  # TLS connections close only once their peer answers
        asyncio.run_coroutine_threadsafe(node.stop(grace=0.5), loop).result(START_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(START_S)
        loop.close()


def post(
    endpoint: str,
    target: str | None,
    body: bytes | Any,
    content_type: str = "application/x-amz-json-1.0",
    method: str = "POST",
    path: str = "/",
) -> tuple[int, dict[str, str], Any]:
    """One raw HTTP request (unsigned): status, headers (lower-case names), JSON answer."""
    host, port = endpoint.split("//", 1)[1].rsplit(":", 1)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": content_type}
    if target is not None:
        headers["X-Amz-Target"] = target
    connection = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        connection.request(method, path, raw, headers)
        response = connection.getresponse()
        data = response.read()
        answer_headers = {k.lower(): v for k, v in response.getheaders()}
        return response.status, answer_headers, json.loads(data) if data else None
    finally:
        connection.close()
