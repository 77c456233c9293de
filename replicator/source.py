"""The serving side of a link: stream this region's own-origin records to one peer.

Each table's records come from the node's subscription shared by every peer pulling here
(`replicator/feeds.py`), or from a subscription of this pull's own when it asks for another
position than the shared one has reached; both feed a small queue (its size is the
back-pressure: when the peer reads slowly, gRPC flow control stalls the yield, the queue
fills, a shared feed lets this pull go on alone and its own subscription stops reading).
When nothing arrives for a heartbeat interval, an empty batch per table tells the peer where
the stream stands, so its lag figure stays fresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Iterable
from typing import cast

from meridian.daemon.tasks import TaskGroup
from meridian.model import hlc
from meridian.pb import node_pb2 as pb
from meridian.pb import replication_pb2_grpc as pb_grpc
from meridian.pb import replicator_pb2 as rpb
from replicator.feeds import Feeds, Key, Position, Sink
from replicator.handshake import Identity

QUEUE_BATCHES = 8


async def _feed(
    node: pb_grpc.ReplicationStub,
    req: pb.SubscribeRequest,
    queue: asyncio.Queue[object],
    position: Position,
    rejoin: Callable[[int], bool] | None = None,
) -> None:
    """A pull's own subscription to one table, until `rejoin(position)` says the shared
    feed goes on from the position just queued."""
    call = None
    try:
        call = node.Subscribe(req)
        async for batch in call:
            position.head = max(position.head, batch.head_sequence_number)
            await queue.put((req.table, batch))
            if rejoin is not None and rejoin(batch.scanned_through):
                return
    except Exception as exc:  # noqa: BLE001 - handed to the serving loop, which ends the pull
        await queue.put(exc)
    finally:
        if call is not None:
            call.cancel()  # at once, also when the shared feed goes on from here


class _Tables:
    """Where one pull's batches of each table come from: the node subscription shared with
    the other peers' pulls (`feeds`) when the pull asks for the position it has reached, a
    subscription of the pull's own otherwise. A pull on its own joins the shared one again
    once it reaches the same position (after a reconnect from behind, or once a slow peer
    caught up)."""

    def __init__(
        self,
        node: pb_grpc.ReplicationStub,
        region: str,
        me: Identity,
        req: rpb.PullRequest,
        feeds: Feeds | None,
        queue: asyncio.Queue[object],
    ) -> None:
        self.node, self.region, self.me, self.req = node, region, me, req
        self.feeds, self.queue = feeds, queue
        self.positions: dict[str, Position] = {}
        self.tasks = TaskGroup(f"pull to {req.hello.region}")
        self._joined: dict[str, tuple[Key, Sink]] = {}

    def start(self) -> None:
        for pos in self.req.positions:
            table, after = pos.table, pos.after_sequence_number
            self.positions[table] = Position(scanned=after)
            if not self._join(table, after):
                self._alone(table, after)

    def _join(self, table: str, after: int) -> bool:
        if self.feeds is None:
            return False
        key = (table, self.me.tables.get(table, ""), self.req.max_batch or 500)
        detach = functools.partial(self._alone, table)
        sink = Sink(table, self.queue, self.positions[table], detach, self._failed)
        if not self.feeds.join(key, after, sink):
            return False
        self._joined[table] = (key, sink)
        return True

    def _alone(self, table: str, after: int) -> None:
        sub = pb.SubscribeRequest(
            table=table,
            after_sequence_number=after,
            origin=self.region,
            max_batch=self.req.max_batch or 500,
            stored=True,  # relayed as the node stored them: only the target parses them
        )
        rejoin = None if self.feeds is None else functools.partial(self._join, table)
        self.tasks.spawn(table, _feed(self.node, sub, self.queue, self.positions[table], rejoin))

    def _failed(self, exc: BaseException) -> None:
        self.tasks.spawn("failed", self.queue.put(exc))

    async def close(self) -> None:
        if self.feeds is not None:
            for key, sink in self._joined.values():
                self.feeds.leave(key, sink)
        with contextlib.suppress(Exception):
            await self.tasks.cancel_all()


async def serve_pull(
    node: pb_grpc.ReplicationStub,
    region: str,
    me: Identity,
    req: rpb.PullRequest,
    feeds: Feeds | None = None,
) -> AsyncIterator[rpb.PullBatch]:
    """Batches of own-origin records after the requested positions, plus heartbeats; each
    tagged with the table's incarnation here (a subscription ends when the table is deleted
    or created anew, so no record of another incarnation carries it). With `feeds`, a table
    is read through the subscription shared with the other peers' pulls when it can be."""
    node_id = me.node_id
    queue: asyncio.Queue[object] = asyncio.Queue(QUEUE_BATCHES)
    tables = _Tables(node, region, me, req, feeds, queue)
    positions = tables.positions
    heartbeat = req.heartbeat_seconds or 1.0
    tables.start()
    limit = req.max_batch or 500
    held: object = None
    try:
        while True:
            try:
                item = held if held is not None else await asyncio.wait_for(queue.get(), heartbeat)
            except TimeoutError:
                for table, position in positions.items():
                    yield _batch(table, [], position, node_id, me.tables.get(table, ""))
                continue
            if isinstance(item, BaseException):
                raise item
            table, batch = cast(tuple[str, pb.SubscribeBatch], item)
            records = list(batch.stored)
            held = None
            # Merge what is already queued for the same table: fewer, fuller messages.
            while len(records) < limit and not queue.empty():
                held = queue.get_nowait()
                if isinstance(held, BaseException) or held[0] != table:  # type: ignore[index]
                    break
                batch = cast(tuple[str, pb.SubscribeBatch], held)[1]
                records.extend(batch.stored)
                held = None
            position = positions[table]
            position.scanned = batch.scanned_through
            yield _batch(table, records, position, node_id, me.tables.get(table, ""))
    finally:
        await tables.close()


def _batch(
    table: str,
    records: Iterable[bytes],
    position: Position,
    node_id: str,
    incarnation: str,
) -> rpb.PullBatch:
    return rpb.PullBatch(
        table=table,
        records=records,
        head_sequence_number=max(position.head, position.scanned),
        scanned_through=position.scanned,
        sent_ms=hlc.wall_ms(),
        source_node_id=node_id,
        incarnation=incarnation,
    )
