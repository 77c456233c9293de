"""The expiry index is written in the same WriteBatch as the item, whichever path stores
it (client write, replicated apply, snapshot merge), on a real RocksDB store; the expiry
operation deletes only the version it found due."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import pytest

from meridian.model import hlc, items, schema, ttl
from meridian.pb import node_pb2 as pb
from regionnode.expiry_ops import ExpireOp
from regionnode.local_writes import PutOp, Target
from regionnode.replicated_apply import ApplyOp, scan_records
from regionnode.snapshot_merge import SnapshotOp
from regionnode.stage import Context, Stage
from regionnode.store import Store, Table, expiry_prefix

SPEC = pb.TableSpec(
    name="sessions",
    partition_key=pb.KeyAttribute(name="id", type=pb.KEY_TYPE_S),
    view_type=pb.NEW_AND_OLD_IMAGES,
    ttl_attribute="exp",
)


def stored_context(path: pathlib.Path) -> Context:
    store = Store(path, sync=False)
    spec = pb.TableSpec()
    spec.CopyFrom(SPEC)
    desc = pb.TableDescription(spec=spec, schema_fingerprint=schema.fingerprint(spec))
    store.put_table(Table(schema.Schema(spec), desc))
    return Context(store, hlc.HybridClock(), "us", "node")


def commit(ctx: Context, op: Any) -> Any:
    stage = Stage(ctx.store)
    result = op.apply(stage, ctx)
    ctx.store.write(stage.batch)
    return result


def index(ctx: Context) -> list[tuple[int, bytes]]:
    prefix = expiry_prefix("sessions")
    return [
        (int.from_bytes(k[len(prefix) : len(prefix) + 8], "big"), k[len(prefix) + 8 :])
        for k, _ in ctx.store.scan_prefix(prefix)
    ]


def due(ctx: Context, now: int) -> list[tuple[bytes, bytes, int]]:
    """The sweeper's candidates: (index key, item key, expiry) of entries due at `now`."""
    prefix = expiry_prefix("sessions")
    return [(prefix + e.to_bytes(8, "big") + k, k, e) for e, k in index(ctx) if e <= now]


def local(ctx: Context, item: pb.Item) -> object:
    table = ctx.store.tables["sessions"]
    key, keys = table.schema.extract(item)
    return PutOp(Target(table, key, keys), item)


def replicated(ctx: Context, item: pb.Item) -> object:
    table = ctx.store.tables["sessions"]
    record = pb.ReplicatedRecord(
        event_name=pb.INSERT, sequence_number=1, new_image=item.SerializeToString()
    )
    record.keys.CopyFrom(table.schema.key_of(item))
    record.version.hlc, record.version.region = hlc.pack(hlc.wall_ms()), "eu"
    batch = pb.ApplyReplicatedBatch(origin="eu", table="sessions")
    batch.records.append(record.SerializeToString())
    return ApplyOp(
        table, "eu", scan_records(ctx.region, frozenset((ctx.region, "eu")), table, batch), 0, 1
    )


def merged(ctx: Context, item: pb.Item) -> object:
    table = ctx.store.tables["sessions"]
    entry = pb.StoredItem(item=item, version=pb.Version(hlc=hlc.pack(hlc.wall_ms()), region="eu"))
    return SnapshotOp(table, [entry], [table.schema.storage_key(item)], None, [])


PATHS: list[tuple[str, Callable[[Context, pb.Item], object]]] = [
    ("client-write", local),
    ("replicated-apply", replicated),
    ("snapshot-merge", merged),
]


@pytest.mark.parametrize("make", [pytest.param(m, id=i) for i, m in PATHS])
def test_every_write_path_indexes_the_expiry(
    tmp_path: pathlib.Path, make: Callable[[Context, pb.Item], object]
) -> None:
    ctx = stored_context(tmp_path / "db")
    try:
        commit(ctx, make(ctx, items.from_plain({"id": "a", "exp": 1000})))
        commit(ctx, make(ctx, items.from_plain({"id": "b", "exp": "1000"})))  # not a Number
        key = ctx.store.tables["sessions"].schema.storage_key(items.from_plain({"id": "a"}))
        assert index(ctx) == [(1000, key)]
    finally:
        ctx.store.close()


def test_expiry_deletes_only_the_version_it_found_due(tmp_path: pathlib.Path) -> None:
    ctx = stored_context(tmp_path / "db")
    try:
        table = ctx.store.tables["sessions"]
        commit(ctx, local(ctx, items.from_plain({"id": "a", "exp": 1000})))
        commit(ctx, local(ctx, items.from_plain({"id": "a", "exp": 3000})))  # extended
        commit(ctx, local(ctx, items.from_plain({"id": "b", "exp": 1000})))
        entries = due(ctx, 2000)
        done = commit(ctx, ExpireOp(table, entries, 2000, 60))
        assert (done.deleted, done.stale, done.deferred) == (1, 1, 0)
        a = ctx.store.get_item(table.schema.storage_key(items.from_plain({"id": "a"})))
        b = ctx.store.get_item(table.schema.storage_key(items.from_plain({"id": "b"})))
        assert a is not None and not a.tombstone  # the newer write stays
        assert b is not None and b.tombstone and b.version.region == "us"
        (record,) = [
            pb.StreamRecord.FromString(r)
            for r in ctx.store.read_stream("sessions", 0, 100)
            if pb.StreamRecord.FromString(r).event_name == pb.REMOVE
        ]
        assert ttl.is_expiry(record) and items.to_plain(record.keys) == {"id": "b"}
        assert [exp for exp, _ in index(ctx)] == [3000]  # due entries went, stale or not
    finally:
        ctx.store.close()


def test_another_regions_item_waits_for_the_takeover(tmp_path: pathlib.Path) -> None:
    ctx = stored_context(tmp_path / "db")
    try:
        table = ctx.store.tables["sessions"]
        commit(ctx, replicated(ctx, items.from_plain({"id": "a", "exp": 1000})))
        entries = due(ctx, 2000)
        early = commit(ctx, ExpireOp(table, entries, 1059, 60))
        assert (early.deleted, early.deferred) == (0, 1)
        late = commit(ctx, ExpireOp(table, entries, 1060, 60))
        assert late.deleted == 1
    finally:
        ctx.store.close()


def test_an_expiry_time_too_far_past_is_never_expired(tmp_path: pathlib.Path) -> None:
    """As DynamoDB: a value more than five years before now is not an expiry time; its
    entry goes, the item stays."""
    ctx = stored_context(tmp_path / "db")
    try:
        table = ctx.store.tables["sessions"]
        commit(ctx, local(ctx, items.from_plain({"id": "a", "exp": 1000})))
        now = 1001 + ttl.MAX_AGE_S
        done = commit(ctx, ExpireOp(table, due(ctx, now), now, 60))
        assert (done.deleted, done.stale) == (0, 1)
        assert index(ctx) == []
        a = ctx.store.get_item(table.schema.storage_key(items.from_plain({"id": "a"})))
        assert a is not None and not a.tombstone
    finally:
        ctx.store.close()
