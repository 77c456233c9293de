"""Consistent table copies for bootstrap and resync.

A RocksDB checkpoint (hard links, so cheap) freezes the store at one instant; the copy is
read from it, together with the stream positions it reflects: this node's own stream head
and its per-origin checkpoints. A region that loads the copy and then streams every origin
from those positions misses nothing, whatever was written meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import shutil
import uuid
from collections.abc import AsyncIterator

from meridian.model import catalog, hlc
from meridian.pb import node_pb2 as pb
from regionnode import query
from regionnode.store import Store, Table

log = logging.getLogger(__name__)

DEFAULT_BATCH = 2000


def snapshot_root(data_dir: pathlib.Path) -> pathlib.Path:
    return data_dir.parent / f"{data_dir.name}.snapshots"


def clear_snapshots(data_dir: pathlib.Path) -> None:
    """Remove copies left behind by a crash."""
    shutil.rmtree(snapshot_root(data_dir), ignore_errors=True)


def watermarks(copy: Store, region: str, node_id: str, table: str) -> list[pb.Checkpoint]:
    """Where each origin's stream stands in the copy, this region's own included. Every own
    write stamped before the copy's clock high-water mark is in the copy: later ones are
    stamped after it."""
    own = pb.Checkpoint(
        origin=region,
        table=table,
        sequence_number=copy.tables[table].head,
        origin_node_id=node_id,
        complete_through_ms=hlc.physical_ms(copy.clock_high_water()),
    )
    others = [c for c in copy.checkpoints() if c.table == table and c.origin != region]
    return [own, *others]


async def stream_snapshot(
    store: Store, region: str, table: Table, req: pb.SnapshotRequest
) -> AsyncIterator[pb.SnapshotBatch]:
    name = table.description.spec.name
    path = snapshot_root(store.path) / uuid.uuid4().hex
    path.parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(store.copy_to, path)
    copy = Store(path, sync=False, read_only=True)
    try:
        schema = table.schema
        start = (
            schema.encode(schema.key_of(req.exclusive_start_key))
            if req.HasField("exclusive_start_key")
            else None
        )
        low, high = query.resume(schema.prefix, query.successor(schema.prefix), start, False)
        first = pb.SnapshotBatch(
            watermarks=watermarks(copy, region, store.node_id, name),
            horizons=[copy.horizons[p] for p in sorted(copy.horizons)],
            entries_estimate=int(copy.db.property_int_value("rocksdb.estimate-num-keys") or 0),
            incarnation=catalog.incarnation(copy.tables[name].description),
        )
        batch, size = first, req.batch_items or DEFAULT_BATCH
        for _, value in copy.scan_range(low, high):
            batch.entries.add().MergeFromString(value)
            if len(batch.entries) >= size:
                yield batch
                batch = pb.SnapshotBatch()
                await asyncio.sleep(0)  # let other requests in between batches
        batch.done = True
        yield batch
    finally:
        copy.close()
        await asyncio.to_thread(shutil.rmtree, path, True)
