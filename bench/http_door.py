"""A small keep-alive HTTP/1.1 client for the DynamoDB door, so the benchmark measures the
node rather than an SDK: request bodies are DynamoDB JSON prepared before timing starts,
and each call borrows an open connection (one per caller in flight, kept alive)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from bench import workload

HEADERS = (
    "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-amz-json-1.0\r\n"
    "X-Amz-Target: DynamoDB_20120810.{operation}\r\nContent-Length: {length}\r\n\r\n"
)


class DoorClient:
    def __init__(self, address: str) -> None:
        self.host, port = address.rsplit(":", 1)
        self.port = int(port)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    def method(self, operation: str) -> Any:
        """An awaitable `call(body, timeout=...)` like bench.workload.raw_method's."""

        async def call(body: bytes, timeout: float = 30) -> bytes:
            return await asyncio.wait_for(self._call(operation, body), timeout)

        return call

    async def _call(self, operation: str, body: bytes) -> bytes:
        if self._idle:
            reader, writer = self._idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        head = HEADERS.format(host=self.host, operation=operation, length=len(body))
        writer.write(head.encode() + body)
        status = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        answer = await reader.readexactly(length)
        if not status.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"{operation}: {status.decode().strip()} {answer[:200]!r}")
        self._idle.append((reader, writer))
        return answer

    async def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


def _key_json(n: int, prefix: str) -> dict[str, Any]:
    pk, sk = workload.key_parts(n, prefix)
    return {"pk": {"S": pk}, "sk": {"N": str(sk)}}


def put_body(n: int, seq: int, prefix: str = "") -> bytes:
    item = workload.item_json(n, seq, prefix)
    return orjson.dumps({"TableName": workload.TABLE, "Item": item})


def get_body(n: int, prefix: str = "") -> bytes:
    return orjson.dumps({"TableName": workload.TABLE, "Key": _key_json(n, prefix)})
