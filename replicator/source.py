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
from collections.abc import AsyncIterator, Iterable
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
) -> None:
    try:
        async for batch in node.Subscribe(req):
            position.head = max(position.head, batch.head_sequence_number)
            await queue.put((req.table, batch))
    except Exception as exc:  # noqa: BLE001 - handed to the serving loop, which ends the pull
        await queue.put(exc)


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
    positions: dict[str, Position] = {}
    tasks = TaskGroup(f"pull to {req.hello.region}")
    heartbeat = req.heartbeat_seconds or 1.0
    joined: list[tuple[Key, Sink]] = []

    def alone(table: str, after: int) -> None:
        sub = pb.SubscribeRequest(
            table=table,
            after_sequence_number=after,
            origin=region,
            max_batch=req.max_batch or 500,
            stored=True,  # relayed as the node stored them: only the target parses them
        )
        tasks.spawn(table, _feed(node, sub, queue, positions[table]))

    def failed(exc: BaseException) -> None:
        tasks.spawn("failed", queue.put(exc))

    for pos in req.positions:
        table, after = pos.table, pos.after_sequence_number
        positions[table] = Position(scanned=after)
        key = (table, me.tables.get(table, ""), req.max_batch or 500)
        sink = Sink(table, queue, positions[table], functools.partial(alone, table), failed)
        if feeds is not None and feeds.join(key, after, sink):
            joined.append((key, sink))
        else:
            alone(table, after)
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
        for key, sink in joined:
            feeds.leave(key, sink)  # type: ignore[union-attr]
        with contextlib.suppress(Exception):
            await tasks.cancel_all()


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
