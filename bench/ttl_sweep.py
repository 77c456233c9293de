"""TTL sweep rate with client writes running: one node in this process (its TTL clock
injected), N items preloaded to expire at once, then the clock moved past their expiry while
a writer keeps putting other items; the sweep rate is N over the time until every one is
expired, with the client write rate over the same window beside it. The sweeper's delete
cap is set far above what one node reaches, so this is the sweeper's own speed."""

from __future__ import annotations

import asyncio
import pathlib
import time

from prometheus_client import CollectorRegistry

from meridian.config.ttl import SweeperConfig
from meridian.model import items
from meridian.pb import node_pb2 as pb
from regionnode.item_ops import ItemOps
from regionnode.node import Node, NodeSettings
from regionnode.store import Table

BATCH = 1000
TIMEOUT_S = 300.0
SPEC = pb.TableSpec(
    name="sessions",
    partition_key=pb.KeyAttribute(name="id", type=pb.KEY_TYPE_S),
    view_type=pb.NEW_AND_OLD_IMAGES,
    retention_seconds=86400,
    ttl_attribute="exp",
)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _write_until(ops: ItemOps, table: Table, stop: asyncio.Event) -> int:
    """Put batches of 100 items that never expire until told to stop; items written."""
    written = 0
    while not stop.is_set():
        batch = [(items.from_plain({"id": f"w{written + n}", "v": n}), None) for n in range(100)]
        await ops.batch_write(table, batch)
        written += len(batch)
    return written


async def measure(work: pathlib.Path, count: int) -> dict:
    settings = NodeSettings(
        group="bench",
        region="us-east",
        data_dir=work / "ttl-sweep",
        listen="127.0.0.1:0",
        sync=False,
        tables=[SPEC],
        ttl=SweeperConfig(interval_s=0.05, max_deletes_per_second=1_000_000, takeover_s=60),
    )
    node = Node(settings, CollectorRegistry())
    await node.start()
    try:
        assert node.core is not None
        clock = Clock(500)
        node.core.writer.ctx.ttl_clock = clock
        ops = ItemOps(node.core.store, node.core.writer)
        table = node.core.table(SPEC.name)
        for start in range(0, count, BATCH):
            batch = [
                (items.from_plain({"id": f"e{n}", "exp": 1000}), None)
                for n in range(start, min(count, start + BATCH))
            ]
            await ops.batch_write(table, batch)
        expired = node.metrics.ttl_expired.labels(SPEC.name)
        stop = asyncio.Event()
        writes = asyncio.create_task(_write_until(ops, table, stop))
        began = time.monotonic()
        clock.now = 2000
        while expired._value.get() < count:
            if time.monotonic() - began > TIMEOUT_S:
                raise TimeoutError(f"expired {expired._value.get():.0f} of {count} items")
            await asyncio.sleep(0.01)
        elapsed = time.monotonic() - began
        stop.set()
        written = await writes
    finally:
        await node.stop(grace=0.5)
    return {
        "items": count,
        "sweep_s": elapsed,
        "items_per_s": count / elapsed,
        "writes_per_s": written / elapsed,
    }
