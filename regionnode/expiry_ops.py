"""The sweeper's write: expiring items whose TTL has passed, as ordinary versioned deletes.

Each candidate is an entry of the expiry index (`x<table>\\0<expiry><item key>`). It is
checked here, inside the writer, against the item as it is when the batch is written: an
item deleted, rewritten with another expiry or not due yet is left alone (its stale entry
goes, as does one whose time is too far past to be an expiry time), so a newer write that
extended or removed the TTL is never deleted. An item due is
deleted with a new version from this region's clock: a tombstone and a REMOVE stream record
that carries the service identity, replicated like any delete.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from meridian.model import ttl
from meridian.pb import node_pb2 as pb
from regionnode import attribute_writes
from regionnode.stage import Context, Stage, live, stage_record
from regionnode.store import Table


@dataclass
class Expired:
    deleted: int = 0
    stale: int = 0  # index entries that no longer matched their item
    deferred: int = 0  # due, but another region's to expire until the takeover


@dataclass
class ExpireOp:
    """Expire the due items among `candidates`: (index key, item key, expiry seconds)."""

    table: Table
    candidates: list[tuple[bytes, bytes, int]]
    now_s: float
    takeover_s: int
    result: Expired = field(default_factory=Expired)

    def apply(self, stage: Stage, ctx: Context) -> Expired:
        attribute = self.table.description.spec.ttl_attribute
        for index_key, key, expiry in self.candidates:
            stored = stage.current(key)
            item = live(stored)
            if (
                stored is None
                or item is None
                or ttl.expiry_of(item, attribute) != expiry
                or ttl.too_old(expiry, self.now_s)  # never expires: the entry is of no use
            ):
                stage.batch.delete(index_key)
                stage.empty = False
                self.result.stale += 1
                continue
            if not ttl.expires_here(
                stored.version.region, ctx.region, expiry, self.now_s, self.takeover_s
            ):
                self.result.deferred += 1
                continue
            expire(stage, ctx, self.table, key, item)
            stage.batch.delete(index_key)
            self.result.deleted += 1
        return self.result


def expire(stage: Stage, ctx: Context, table: Table, key: bytes, item: pb.Item) -> None:
    """Stage the expiry delete of a live item: tombstone and REMOVE record, new version."""
    record = pb.StreamRecord(event_name=pb.REMOVE)
    record.keys.CopyFrom(table.schema.key_of(item))
    record.user_identity.CopyFrom(ttl.service_identity())
    record.version.hlc, record.version.region = ctx.clock.now(), ctx.region
    if attribute_writes.attribute_mode(table):  # an item tombstone, as DeleteItem makes
        record.attributes.CopyFrom(attribute_writes.deletion(stage.current(key), record.version))
    stage_record(stage, ctx, table, key, record, item)
