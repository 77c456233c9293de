"""Workload clients and the history they record.

Every region runs `clients` concurrent clients (inside the region's namespace, talking to
its own node). Each client issues puts, updates, deletes, conditional puts (only if the
item does not exist) and reads, on keys shared by all regions (to force last-writer-wins
conflicts) and keys private to its region. Every write carries a unique value id in
attribute `v` (`<region>.<client>.<n>`), so a value found later names the operation that
wrote it. On a table in attribute merge mode, updates write their id to the attribute
`u_<region>` instead, so that concurrent updates from different regions touch different
attributes.

History record (one JSON object per operation):
  id, region, client, kind (put|update|delete|cput|get), key,
  invoke_ns, complete_ns (wall clock of the root namespace, nanoseconds),
  outcome: ok | failed (definitely not applied) | unknown (may or may not be applied),
  error (gRPC status and details), changed, version [hlc, origin] (writes that changed
  something), found / version / v (reads).
A timeout or an UNAVAILABLE after the request may have reached the node is `unknown`;
UNAVAILABLE from a channel that could not connect at all, and the node's own refusals
(INVALID_ARGUMENT, FAILED_PRECONDITION, ...), are `failed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc

from meridian.model.items import from_plain, to_plain
from meridian.pb import client_pb2_grpc as pb_grpc
from meridian.pb import node_pb2 as pb

KINDS = ("put", "update", "delete", "cput", "get")
WRITES = frozenset({"put", "update", "delete", "cput"})
DEFINITE_FAILURES = frozenset(
    {
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.UNAUTHENTICATED,  # refused before any handler runs
        grpc.StatusCode.PERMISSION_DENIED,
    }
)
NOT_SENT = ("failed to connect to all addresses",)


@dataclass
class Spec:
    region: str
    table: str = "chaos"
    clients: int = 3
    rate: float = 8.0  # operations per second per client
    shared_keys: int = 10
    private_keys: int = 30
    shared_fraction: float = 0.5
    timeout_s: float = 2.0
    seed: int = 0
    mix: dict[str, int] = field(
        default_factory=lambda: {"put": 35, "update": 20, "delete": 15, "cput": 5, "get": 25}
    )
    merge: str = "item"  # the table's merge mode (attribute: updates set their region's own)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Spec:
        return cls(**data)


def classify(exc: grpc.aio.AioRpcError) -> tuple[str, str]:
    """(outcome, error text) of a failed call: `failed` only when surely not applied."""
    code, details = exc.code(), exc.details() or ""
    error = f"{code.name}: {details}"[:200]
    if code in DEFINITE_FAILURES:
        return "failed", error
    if code == grpc.StatusCode.UNAVAILABLE and any(s in details for s in NOT_SENT):
        return "failed", error
    return "unknown", error


def update_attribute(region: str) -> str:
    """The attribute a region's updates set in attribute merge mode: updates made in
    different regions touch different attributes, which must all survive."""
    return f"u_{region}"


def version_of(msg: Any) -> list[Any] | None:
    if not msg.HasField("version"):
        return None
    return [msg.version.hlc, msg.version.region]


class Client:
    def __init__(
        self, stub: pb_grpc.ClientStub, spec: Spec, index: int, sink: Callable[[dict], None]
    ) -> None:
        self.stub = stub
        self.spec = spec
        self.index = index
        self.sink = sink
        self.rng = random.Random(f"{spec.seed}:{spec.region}:{index}")
        self.count = 0
        kinds = [k for k in KINDS if spec.mix.get(k)]
        self._kinds = kinds
        self._weights = [spec.mix[k] for k in kinds]

    def key(self) -> str:
        s, rng = self.spec, self.rng
        if rng.random() < s.shared_fraction:
            return f"shared-{rng.randrange(s.shared_keys):03d}"
        return f"{s.region}-{rng.randrange(s.private_keys):03d}"

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.spec.rate
        next_at = loop.time()
        while not stop.is_set():
            kind = self.rng.choices(self._kinds, self._weights)[0]
            self.sink(await self.perform(kind, self.key()))
            next_at += interval * self.rng.uniform(0.5, 1.5)
            delay = next_at - loop.time()
            if delay <= 0:
                next_at = loop.time()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def perform(self, kind: str, key: str) -> dict[str, Any]:
        self.count += 1
        s = self.spec
        op_id = f"{s.region}.{self.index}.{self.count}"
        record: dict[str, Any] = {
            "id": op_id,
            "region": s.region,
            "client": self.index,
            "kind": kind,
            "key": key,
        }
        keys = from_plain({"pk": key})
        pad = "".join(self.rng.choices(string.ascii_letters, k=self.rng.randrange(16, 200)))
        record["invoke_ns"] = time.time_ns()
        try:
            if kind in ("put", "cput"):
                item = from_plain({"pk": key, "v": op_id, "pad": pad})
                put = pb.PutItemRequest(table=s.table, item=item)
                if kind == "cput":
                    put.condition_expression = "attribute_not_exists(pk)"
                result = await self.stub.PutItem(put, timeout=s.timeout_s)
            elif kind == "update" and s.merge == "attribute":
                update = pb.UpdateItemRequest(
                    table=s.table,
                    key=keys,
                    update_expression="SET #u = :v",
                    expression_attribute_names={"#u": update_attribute(s.region)},
                    expression_attribute_values={":v": pb.AttributeValue(s=op_id)},
                )
                result = await self.stub.UpdateItem(update, timeout=s.timeout_s)
            elif kind == "update":
                update = pb.UpdateItemRequest(
                    table=s.table,
                    key=keys,
                    update_expression="SET v = :v ADD cnt :one",
                    expression_attribute_values={
                        ":v": pb.AttributeValue(s=op_id),
                        ":one": pb.AttributeValue(n="1"),
                    },
                )
                result = await self.stub.UpdateItem(update, timeout=s.timeout_s)
            elif kind == "delete":
                result = await self.stub.DeleteItem(
                    pb.DeleteItemRequest(table=s.table, key=keys), timeout=s.timeout_s
                )
            else:
                reply = await self.stub.GetItem(
                    pb.GetItemRequest(table=s.table, key=keys), timeout=s.timeout_s
                )
                record.update(outcome="ok", found=reply.found)
                if reply.found:
                    record["version"] = version_of(reply)
                    record["v"] = to_plain(reply.item).get("v")
                record["complete_ns"] = time.time_ns()
                return record
            record.update(outcome="ok", changed=result.changed, version=version_of(result))
        except grpc.aio.AioRpcError as exc:
            outcome, error = classify(exc)
            record.update(outcome=outcome, error=error)
        record["complete_ns"] = time.time_ns()
        return record


class Workload:
    """The clients of one region, writing their history to a JSON-lines file."""

    def __init__(self, stub: pb_grpc.ClientStub, spec: Spec, history_path: str) -> None:
        self.spec = spec
        self._file = open(history_path, "a")  # noqa: SIM115 - closed by stop()
        self.counts: dict[str, int] = {}
        self._clients = [Client(stub, spec, i, self._record) for i in range(spec.clients)]
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def _record(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.counts[record["outcome"]] = self.counts.get(record["outcome"], 0) + 1

    def start(self) -> None:
        self._tasks = [asyncio.ensure_future(c.run(self._stop)) for c in self._clients]

    async def stop(self) -> dict[str, int]:
        """Let every client finish its current operation, then close the history."""
        self._stop.set()
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        self._file.close()
        errors = [repr(r) for r in results if isinstance(r, BaseException)]
        if errors:
            raise RuntimeError(f"workload clients crashed: {errors}")
        return dict(self.counts)
