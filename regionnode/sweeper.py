"""The TTL sweeper: one owned background task per node that expires due items.

It walks each TTL table's expiry index (`x<table>\\0<expiry><item key>`, kept in the write
batch of every item write) in expiry order, up to now, and hands the due entries to the
writer (`expiry_ops.ExpireOp`), which re-checks each against the current item. Deletes are
paced to `max_deletes_per_second`, so a mass expiry does not starve client writes; a sweep
that stops at its scan limit resumes after the last entry it looked at. A table whose TTL
attribute was just set (UpdateTimeToLive, or the group file on a table with items) first
has its existing items indexed (`BackfillOp`), once per attribute.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import cast

from meridian.config.ttl import SweeperConfig
from meridian.model import ttl
from meridian.pb import node_pb2 as pb
from regionnode.expiry_ops import Expired, ExpireOp
from regionnode.metrics import NodeMetrics
from regionnode.stage import Context, Stage
from regionnode.store import META_TTL_INDEXED, Store, Table, expiry_key, expiry_prefix, table_of
from regionnode.writer import Writer

log = logging.getLogger(__name__)

SCAN_LIMIT = 5000  # index entries looked at per table per sweep
CHUNK = 100  # candidates per writer operation
BACKFILL_CHUNK = 1000


@dataclass
class BackfillOp:
    """Index entries for existing items of a table (stale ones are harmless); `done` marks
    the table indexed for its attribute, in the same batch as the last entries."""

    table: str
    entries: list[bytes]
    attribute: str
    done: bool

    def apply(self, stage: Stage, ctx: Context) -> None:
        for entry in self.entries:
            stage.batch.put(entry, b"")
        if self.done:
            stage.batch.put(META_TTL_INDEXED + self.table.encode(), self.attribute.encode())
        stage.empty = False


@dataclass
class ForgetOp:
    """The table's items are no longer all indexed (TTL is off): drop its marker."""

    table: str

    def apply(self, stage: Stage, ctx: Context) -> None:
        stage.batch.delete(META_TTL_INDEXED + self.table.encode())
        stage.empty = False


class Sweeper:
    def __init__(
        self, store: Store, writer: Writer, settings: SweeperConfig, metrics: NodeMetrics
    ) -> None:
        self.store = store
        self.writer = writer
        self.settings = settings
        self.metrics = metrics
        self._resume: dict[str, bytes] = {}  # table -> the index key to continue from

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.interval_s)
            await self.sweep()

    async def sweep(self) -> int:
        """One pass over every TTL table; returns how many items it expired."""
        deleted = 0
        for name, table in list(self.store.tables.items()):
            if table.description.spec.ttl_attribute:
                await self.backfill(table)
                deleted += await self._sweep_table(name, table)
            elif self.store.get(META_TTL_INDEXED + name.encode()) is not None:
                # TTL was turned off (here or, through the catalog, elsewhere): items written
                # from now on are not indexed, so turning it on again must index them.
                await self.writer.submit(ForgetOp(name))
        return deleted

    async def _sweep_table(self, name: str, table: Table) -> int:
        now = self.writer.ctx.ttl_clock()
        candidates, last = self._due(name, now)
        deleted = 0
        for start in range(0, len(candidates), CHUNK):
            op = ExpireOp(table, candidates[start : start + CHUNK], now, self.settings.takeover_s)
            done = cast(Expired, await self.writer.submit(op))
            deleted += done.deleted
            if done.deleted:
                self.metrics.ttl_expired.labels(name).inc(done.deleted)
                await asyncio.sleep(done.deleted / self.settings.max_deletes_per_second)
        if last is None:
            self._resume.pop(name, None)
        else:
            self._resume[name] = last + b"\x00"
        self.metrics.ttl_lag.labels(name).set(self._lag(name, now))
        return deleted

    def _due(self, name: str, now: float) -> tuple[list[tuple[bytes, bytes, int]], bytes | None]:
        """Index entries due at `now` from where the last sweep stopped, and the last key
        looked at when the scan stopped at its limit (None: it reached the due end)."""
        prefix = expiry_prefix(name)
        out: list[tuple[bytes, bytes, int]] = []
        for index_key, _ in self.store.scan_prefix(prefix, self._resume.get(name)):
            expiry = int.from_bytes(index_key[len(prefix) : len(prefix) + 8], "big")
            if expiry > now:
                return out, None
            out.append((index_key, index_key[len(prefix) + 8 :], expiry))
            if len(out) >= SCAN_LIMIT:
                return out, index_key
        return out, None

    def _lag(self, name: str, now: float) -> float:
        """Seconds the oldest due entry still in the index has waited (0: none due)."""
        prefix = expiry_prefix(name)
        first = self.store.first_key(prefix)
        if first is None:
            return 0.0
        expiry = int.from_bytes(first[len(prefix) : len(prefix) + 8], "big")
        return max(0.0, now - expiry)

    async def backfill(self, table: Table) -> None:
        """Index the table's items for its TTL attribute unless that was done already."""
        spec = table.description.spec
        marker = META_TTL_INDEXED + spec.name.encode()
        if self.store.get(marker) == spec.ttl_attribute.encode():
            return
        entries: list[bytes] = []
        for scanned, (key, value) in enumerate(self.store.scan_prefix(table.schema.prefix)):
            if scanned % BACKFILL_CHUNK == 0:
                await asyncio.sleep(0)  # a big table without TTL values: others run meanwhile
            stored = pb.StoredItem.FromString(value)
            expiry = None if stored.tombstone else ttl.expiry_of(stored.item, spec.ttl_attribute)
            if expiry is not None:
                entries.append(expiry_key(table_of(key), expiry, key))
            if len(entries) >= BACKFILL_CHUNK:
                await self.writer.submit(BackfillOp(spec.name, entries, spec.ttl_attribute, False))
                entries = []
        await self.writer.submit(BackfillOp(spec.name, entries, spec.ttl_attribute, True))
        log.info("table %s: items indexed for time to live on %s", spec.name, spec.ttl_attribute)
