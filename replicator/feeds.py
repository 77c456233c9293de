"""One node subscription per table, shared by every peer pulling from this replicator.

Each peer's Pull used to open its own own-origin subscription on the node, so with three
regions every commit was read, sent to the replicator and parsed twice. A `Feed` reads the
node's stream once and hands each batch to every pull that joined it (a `Sink`: the pull's
queue and its position in that table). A pull joins only at the feed's exact position (what
the feed has received so far), so it gets the same records a subscription of its own would;
otherwise it opens one of its own (`Feeds.join` says no).

Back-pressure stays per peer: a feed never waits for a pull. When a pull's queue is full
(its peer reads slowly), the feed lets it go, and the pull continues on a subscription of
its own from the last batch it queued, which stalls as before. A failed node subscription
(node down, table deleted or re-created) fails every pull that joined it, as it failed
each of them alone; a feed ends when its last pull leaves. A pull on its own joins the feed
again when it reaches the feed's position (`replicator/source.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from meridian.daemon.tasks import TaskGroup
from meridian.pb import node_pb2 as pb
from meridian.pb import replication_pb2_grpc as pb_grpc


@dataclass
class Position:
    head: int = 0
    scanned: int = 0


@dataclass(eq=False)
class Sink:
    """One pull's end of a feed: batches go to `queue` as (table, batch); `detach(after)`
    is called when the queue was full (the pull goes on alone after `after`), `fail(exc)`
    when the node subscription failed."""

    table: str
    queue: asyncio.Queue[object]
    position: Position
    detach: Callable[[int], None]
    fail: Callable[[BaseException], None]
    queued: int = 0  # scanned_through of the last batch queued


# (table, incarnation, records per batch): pulls share a feed only when all three agree
Key = tuple[str, str, int]


@dataclass(eq=False)
class Feed:
    key: Key
    scanned: int  # the position after what the node has sent so far
    sinks: set[Sink] = field(default_factory=set)
    task: asyncio.Task[None] | None = None


class Feeds:
    """The shared subscriptions of one replicator (the serving side of its links)."""

    def __init__(self, node: pb_grpc.ReplicationStub, region: str) -> None:
        self.node = node
        self.region = region
        self._feeds: dict[Key, Feed] = {}
        self._tasks = TaskGroup(f"feeds of {region}")

    def count(self) -> int:
        """Node subscriptions open for feeds."""
        return len(self._feeds)

    def pulls(self) -> int:
        """Pulls reading through a feed (the others have subscriptions of their own)."""
        return sum(len(feed.sinks) for feed in self._feeds.values())

    def join(self, key: Key, after: int, sink: Sink) -> bool:
        """Join the feed of `key` at position `after` (starting one when there is none).
        False: a feed runs at another position; the pull subscribes on its own."""
        feed = self._feeds.get(key)
        if feed is None:
            feed = Feed(key, after)
            self._feeds[key] = feed
            feed.task = self._tasks.spawn(key[0], self._run(feed))
        elif feed.scanned != after:
            return False
        sink.queued = after
        feed.sinks.add(sink)
        return True

    def leave(self, key: Key, sink: Sink) -> None:
        """The pull ended; the feed ends with its last pull."""
        feed = self._feeds.get(key)
        if feed is None or sink not in feed.sinks:
            return
        feed.sinks.discard(sink)
        if not feed.sinks and feed.task is not None:
            del self._feeds[key]
            feed.task.cancel()

    async def close(self) -> None:
        self._feeds.clear()
        await self._tasks.cancel_all()

    async def _run(self, feed: Feed) -> None:
        table, _, max_batch = feed.key
        req = pb.SubscribeRequest(
            table=table,
            after_sequence_number=feed.scanned,
            origin=self.region,
            max_batch=max_batch,
            stored=True,  # relayed as the node stored them: only the target parses them
        )
        call = None
        try:
            call = self.node.Subscribe(req)
            async for batch in call:
                feed.scanned = batch.scanned_through
                for sink in list(feed.sinks):
                    self._deliver(feed, sink, batch)
        except Exception as exc:  # noqa: BLE001 - handed to every pull, which ends
            self._forget(feed)
            for sink in feed.sinks:
                sink.fail(exc)
            feed.sinks.clear()
        finally:
            self._forget(feed)
            if call is not None:
                call.cancel()  # at once when the last pull left

    def _forget(self, feed: Feed) -> None:
        with contextlib.suppress(KeyError):
            if self._feeds[feed.key] is feed:
                del self._feeds[feed.key]

    @staticmethod
    def _deliver(feed: Feed, sink: Sink, batch: pb.SubscribeBatch) -> None:
        try:
            sink.queue.put_nowait((sink.table, batch))
        except asyncio.QueueFull:
            feed.sinks.discard(sink)
            sink.detach(sink.queued)
            return
        sink.position.head = max(sink.position.head, batch.head_sequence_number)
        sink.queued = batch.scanned_through
