"""What both doors of the node share: the `Core` their services stand on, and the wrappers
that time, count and map the errors of every call (status and reason from `errors`)."""

from __future__ import annotations

import collections
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import grpc

from meridian.pb import node_pb2 as pb
from meridian.wire import errors
from regionnode.catalog import Catalog
from regionnode.client_auth import authorize
from regionnode.metrics import NodeMetrics
from regionnode.store import Store, Table
from regionnode.stream import Streams
from regionnode.writer import Writer

log = logging.getLogger(__name__)

READS = frozenset({"GetItem", "BatchGetItem", "TransactGetItems", "Query", "Scan"})
# Calls whose items each name a table: the handler authorizes every table it touches.
PER_ITEM_TABLES = frozenset({"TransactWriteItems", "TransactGetItems"})
STATE_METADATA = "meridian-region-state"
Req = TypeVar("Req")
Resp = TypeVar("Resp")
Out = TypeVar("Out")


@dataclass
class Core:
    """The node's parts and own settings, as the services see them."""

    group: str
    region: str
    members: frozenset[str]  # every region of the group, this one included
    store: Store
    writer: Writer
    streams: Streams
    metrics: NodeMetrics
    conflicts: collections.deque[pb.Conflict]  # recent last-writer-wins losses, newest last
    catalog: Catalog  # the group-wide table catalog: tables come and go through it
    max_clock_offset_ms: int  # the node's own limit for replicated clocks (0: none)
    refuse_bootstrapping_reads: bool = False

    def table(self, name: str) -> Table:
        return self.streams.table(name)

    def recent_conflicts(self, limit: int) -> pb.ListConflictsResponse:
        """The newest `limit` conflicts (100 when 0), oldest first: both doors answer this."""
        return pb.ListConflictsResponse(conflicts=list(self.conflicts)[-(limit or 100) :])

    def bootstrapping_read(self, context: grpc.aio.ServicerContext) -> None:
        """A half-copied region must not pass for the truth: refuse, or say so in metadata."""
        state = self.store.bootstrap
        if self.refuse_bootstrapping_reads:
            done = f"{state.entries} of about {state.entries_estimate} entries copied"
            raise errors.NotReady(
                f"region {self.region} is bootstrapping from {state.source} ({done}); reads "
                "are refused until it is ACTIVE (replication.reads_while_bootstrapping)"
            )
        context.set_trailing_metadata(((STATE_METADATA, "BOOTSTRAPPING"),))


class Service(Protocol):
    core: Core


S = TypeVar("S", bound=Service)


def rpc(
    method: Callable[[S, Req], Awaitable[Resp]],
) -> Callable[[S, Req, grpc.aio.ServicerContext], Awaitable[Resp]]:
    """Time and count a unary handler, and map its errors to gRPC statuses."""
    name = method.__name__

    @functools.wraps(method)
    async def handler(self: S, request: Req, context: grpc.aio.ServicerContext) -> Resp:
        core = self.core
        start = time.perf_counter()
        code = "OK"
        try:
            if name not in PER_ITEM_TABLES:
                authorize(name, getattr(request, "table", None))
            if name in READS and core.store.bootstrap.state == "BOOTSTRAPPING":
                core.bootstrapping_read(context)
            return await method(self, request)
        except Exception as exc:
            status = errors.status_of(exc)
            if status is None:
                log.exception("%s failed", name)
            code = (status or errors.INTERNAL)[0].name
            await errors.abort(context, exc)
        finally:
            core.metrics.request_done(name, code, time.perf_counter() - start)

    return handler


async def streaming(
    name: str, source: AsyncIterator[Out], core: Core, context: grpc.aio.ServicerContext
) -> AsyncIterator[Out]:
    """Count a server-streaming call and map its errors, as `rpc` does for unary ones."""
    core.metrics.requests.labels(name, "OK").inc()
    try:
        async for item in source:
            yield item
    except Exception as exc:
        if errors.status_of(exc) is None:
            log.exception("%s failed", name)
        await errors.abort(context, exc)
