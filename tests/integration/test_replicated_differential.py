"""Seeded random replicated batches applied with the compiled scan and entries, and with
their Python fallback, on real RocksDB: the same contents (items and records parsed, every
other value byte for byte), outcomes, conflicts, heads and origins; and a batch holding a
malformed record (a byte mutation) is refused by both, changing nothing.

The batches mix inserts, modifies and removes over keys stored live, as tombstones or not at
all, with clocks below, equal to and above the stored ones (losses, duplicates, winners),
TTL expiries (over tombstones too), images with and without the TTL attribute, in tables of
every stream view type with and without a TTL attribute, and a key written several times in
one batch.
"""

from __future__ import annotations

import itertools
import pathlib
import random
from typing import Any

import pytest
from google.protobuf.message import DecodeError

from meridian.model import hlc, replicated_bytes, ttl
from meridian.model.items import ItemError
from meridian.pb import node_pb2 as pb
from meridian.wire.errors import MalformedRequest
from regionnode import replicated_apply
from regionnode.replicated_apply import ApplyOp, scan_records
from regionnode.stage import Stage
from regionnode.store import META_NODE_ID
from tests.integration import stage_support
from tests.unit.test_item_bytes import mutations

ORIGIN, REGION = "eu", "us-east"
WALL_MS = 1_700_000_000_000
T = hlc.pack(WALL_MS - 10)
EXPIRY = pb.UserIdentity(type=ttl.SERVICE_TYPE, principal_id=ttl.SERVICE_PRINCIPAL)
VIEW_TYPES = [pb.NEW_AND_OLD_IMAGES, pb.KEYS_ONLY, pb.NEW_IMAGE, pb.OLD_IMAGE]


def _keys(pk: str, sk: str) -> pb.Item:
    keys = pb.Item()
    keys.attributes["pk"].s = pk
    keys.attributes["sk"].n = sk
    return keys


def _item(keys: pb.Item, rng: random.Random) -> pb.Item:
    item = pb.Item()
    item.CopyFrom(keys)
    item.attributes["payload"].s = rng.choice(["", "a", "é€😀", "x" * rng.choice([10, 300])])
    if rng.random() < 0.5:
        item.attributes["exp"].n = rng.choice(["1", "1700000100", "1700000200.5"])
    if rng.random() < 0.2:
        item.attributes["tags"].ss.values.extend(["a", "b"])
    return item


def _key_pool(rng: random.Random) -> list[pb.Item]:
    return [_keys(f"k{n}", rng.choice(["7", "-1.5", "0", "100"])) for n in range(12)]


def _stored(pool: list[pb.Item], rng: random.Random) -> dict[int, bytes]:
    """What is stored before the batch, by index in the pool: items and tombstones."""
    out = {}
    for index in rng.sample(range(len(pool)), 8):
        tombstone = rng.random() < 0.3
        stored = pb.StoredItem(
            version=pb.Version(hlc=T + rng.randint(-3, 3), region=rng.choice([ORIGIN, "zz"])),
            tombstone=tombstone,
            written_ms=5,
            item=pool[index] if tombstone else _item(pool[index], rng),
        )
        out[index] = stored.SerializeToString()
    return out


def _batch(pool: list[pb.Item], rng: random.Random) -> pb.ApplyReplicatedRequest:
    request = pb.ApplyReplicatedRequest(origin=ORIGIN, table="orders", source_sequence=90)
    for sequence in range(1, rng.randint(2, 30)):
        keys = rng.choice(pool)
        event = rng.choice([pb.INSERT, pb.MODIFY, pb.REMOVE])
        record = request.records.add(
            event_name=event,
            sequence_number=sequence * rng.choice([1, 2]),
            creation_time_ms=WALL_MS - 50,
            event_id=f"eu-node.orders.{sequence}",
            table="orders",
            size_bytes=99,
        )
        record.keys.CopyFrom(keys)
        if event != pb.REMOVE:
            record.new_image.CopyFrom(_item(keys, rng))
        if rng.random() < 0.3:
            record.old_image.CopyFrom(_item(keys, rng))
        record.version.hlc, record.version.region = T + rng.randint(-3, 3), ORIGIN
        if event == pb.REMOVE and rng.random() < 0.4:
            record.user_identity.CopyFrom(EXPIRY)
    sequences = sorted({r.sequence_number for r in request.records})
    for record, sequence in zip(request.records, sequences, strict=False):
        record.sequence_number = sequence  # ascending
    del request.records[len(sequences) :]
    return request


def _parsed(key: bytes, value: bytes) -> object:
    if key.startswith(b"i"):
        return pb.StoredItem.FromString(value)
    if key.startswith(b"s"):
        return pb.StreamRecord.FromString(value)
    return value


def _run(
    path: pathlib.Path,
    spec: pb.TableSpec,
    stored: dict[int, bytes],
    pool: list[pb.Item],
    data: bytes,
) -> dict[str, Any]:
    """Apply the batch `data` over `stored` in two group commits (the records split in two
    ApplyOps); what it wrote and decided, or the error that refused it."""
    ticks = itertools.count(WALL_MS)
    ctx = stage_support.context(path, spec, REGION, lambda: next(ticks))
    table = ctx.store.tables["orders"]
    setup = ctx.store.new_batch()
    for index, raw in stored.items():
        setup.put(table.schema.encode(pool[index]), raw)
    ctx.store.write(setup)
    before = dict(ctx.store.scan_prefix(b""))
    try:
        batch = pb.ApplyReplicatedBatch.FromString(data)
        records = scan_records(REGION, frozenset((REGION, ORIGIN)), table, batch)
    except (DecodeError, ItemError, MalformedRequest) as exc:
        assert dict(ctx.store.scan_prefix(b"")) == before
        ctx.store.close()
        return {"error": (type(exc), str(exc))}
    half = len(records) // 2
    results = []
    for part in (records[:half], records[half:]):
        stage = Stage(ctx.store)
        results.append(ApplyOp(table, ORIGIN, part, 10_000, 0).apply(stage, ctx))
        ctx.store.write(stage.batch)
        results.append((dict(stage.origins), stage.conflicts, table.head))
    written = {k: _parsed(k, v) for k, v in ctx.store.scan_prefix(b"") if k != META_NODE_ID}
    ctx.store.close()
    return {"written": written, "results": results}


def _python_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replicated_apply, "COMPILED_SCAN", False)
    monkeypatch.setattr(replicated_bytes, "entries", replicated_bytes.entries_python)


@pytest.mark.parametrize("seed", range(12))
def test_random_batches_apply_alike_with_both_codes(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    rng = random.Random(seed)
    spec = stage_support.spec(VIEW_TYPES[seed % 4], rng.choice(["", "exp"]))
    pool = _key_pool(rng)
    stored = _stored(pool, rng)
    data = _batch(pool, rng).SerializeToString()
    variants = [data, *mutations(data, _batch(pool, rng).SerializeToString(), rng)]
    for number, batch in enumerate(variants):
        loaded = _run(tmp_path / f"loaded{number}", spec, stored, pool, batch)
        with monkeypatch.context() as patch:
            _python_code(patch)
            python = _run(tmp_path / f"python{number}", spec, stored, pool, batch)
        assert loaded == python, number
        if number == 0:  # the batch itself is valid and applies
            assert "written" in loaded
            assert any(k.startswith(b"s") for k in loaded["written"])
