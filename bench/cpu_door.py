"""CPU time per call of the client door's own layers, in one process, without gRPC's server
(part of bench/cpu.py).

A PutItem through the handler gRPC would call: the request decoded by `ServerEdge`'s
decoder, its wrapper, `rpc` (authorization, error mapping, request metrics), the service,
`ItemOps` and the writer (one commit each), the response encoded; against the same puts
through `ItemOps` directly (`direct`, as `local`'s put_item). The difference is what the door
adds per call besides gRPC's own work.
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import CollectorRegistry

from bench import workload
from meridian.pb import node_pb2 as pb
from meridian.wire.edge import ServerEdge
from regionnode.catalog import Catalog
from regionnode.client_service import ClientService
from regionnode.item_ops import WriteOptions
from regionnode.metrics import NodeMetrics
from regionnode.rpc import Core
from regionnode.stream import Streams


class _Context:
    """The servicer context of a call that succeeds: nothing of it is read."""

    def set_trailing_metadata(self, metadata: object) -> None:
        raise AssertionError("a successful PutItem sets no trailing metadata")


METHOD = "/meridian.client.v1.Client/PutItem"


class _Details(grpc.HandlerCallDetails):
    method = METHOD
    invocation_metadata = ()


async def _door_handler(node: Any) -> grpc.RpcMethodHandler:
    """The node's PutItem handler as the client door's server holds it (`ServerEdge`)."""
    streams = Streams(node.store)
    core = Core(
        group="bench",
        region=node.region,
        members=frozenset({node.region}),
        store=node.store,
        writer=node.writer,
        streams=streams,
        metrics=NodeMetrics(CollectorRegistry()),
        conflicts=collections.deque(),
        catalog=Catalog(node.store, node.writer, streams, node.region, frozenset({node.region})),
        max_clock_offset_ms=0,
    )
    service = ClientService(core)
    handler = grpc.unary_unary_rpc_method_handler(
        service.PutItem, pb.PutItemRequest.FromString, pb.WriteResult.SerializeToString
    )

    async def continuation(details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        return handler

    return await ServerEdge().intercept_service(continuation, _Details())


async def measure_door(
    timed: Callable[[Callable[[], Awaitable[int]]], Awaitable[dict[str, Any]]],
    node: Any,
    puts: int,
) -> dict[str, Any]:
    """`timed(step)` gives the median CPU per unit of `step` over its rounds."""
    handler = await _door_handler(node)
    decode, call, encode = (
        handler.request_deserializer,
        handler.unary_unary,
        handler.response_serializer,
    )
    context = _Context()
    seq = iter(range(1, 1 << 30))

    async def door_step() -> int:
        for raw in [workload.put_request(n, next(seq), "d") for n in range(puts)]:
            encode(await call(decode(raw), context))
        return puts

    async def direct_step() -> int:
        for raw in [workload.put_request(n, next(seq), "d") for n in range(puts)]:
            request = pb.PutItemRequest.FromString(raw)
            await node.items.put_item(node.table, request.item, WriteOptions())
        return puts

    door, direct = await timed(door_step), await timed(direct_step)
    return {"put_item": door, "direct": direct, "door_us": door["us"] - direct["us"]}
