"""A replicated record decided and staged from its bytes (`scan_records`, then `apply_record`
over its `Scanned` fields: `Stage.current_bytes`, `replicated_stage.stage_replicated`) writes
what the message path wrote (the record parsed as a `pb.StreamRecord`, `Stage.current`,
`stage_record`): the same RocksDB contents once parsed, the same outcomes and conflicts, the
same overlay, heads and origins (the readers a commit wakes), on real RocksDB; with the
compiled scan and entries, and with their Python fallback."""

from __future__ import annotations

import itertools
import pathlib

import pytest

from meridian.model import hlc, lww, replicated_bytes, ttl
from meridian.model.replicated_bytes import varint
from meridian.pb import node_pb2 as pb
from regionnode import replicated_apply
from regionnode.replicated_apply import apply_record, scan_records
from regionnode.stage import Context, Stage, live, stage_record
from regionnode.store import META_NODE_ID, Table
from tests.integration import stage_support

ORIGIN, REGION = "eu", "us-east"
WALL_MS = 1_700_000_000_000
NOW = WALL_MS - 5  # the batch's time (ApplyOp's `now`)
EXPIRY = pb.UserIdentity(type=ttl.SERVICE_TYPE, principal_id=ttl.SERVICE_PRINCIPAL)


_spec = stage_support.spec


def _context(path: pathlib.Path, spec: pb.TableSpec) -> Context:
    ticks = itertools.count(WALL_MS)  # each stamp differs: both paths stamp the same ones
    return stage_support.context(path, spec, REGION, lambda: next(ticks))


def _keys(pk: str) -> pb.Item:
    keys = pb.Item()
    keys.attributes["pk"].s = pk
    keys.attributes["sk"].n = "7"
    return keys


def _item(pk: str, payload: str, **extra: pb.AttributeValue) -> pb.Item:
    item = _keys(pk)
    item.attributes["payload"].s = payload
    for name, value in extra.items():
        item.attributes[name].CopyFrom(value)
    return item


def _record(
    event: int, pk: str, clock: int, new: pb.Item | None = None, **fields: object
) -> pb.StreamRecord:
    """A record of the origin's stream (sequence numbers are given in order later)."""
    record = pb.StreamRecord(event_name=event, creation_time_ms=WALL_MS - 50, **fields)  # type: ignore[arg-type]
    record.keys.CopyFrom(_keys(pk))
    if new is not None:
        record.new_image.CopyFrom(new)
    record.version.hlc, record.version.region = clock, ORIGIN
    record.event_id, record.table, record.size_bytes = "eu-node.orders.9", "orders", 99
    return record


def _stored(item: pb.Item, clock: int, region: str = REGION, tombstone: bool = False) -> bytes:
    version = pb.Version(hlc=clock, region=region)
    return pb.StoredItem(
        version=version, tombstone=tombstone, item=item, written_ms=5
    ).SerializeToString()


def _n(value: str) -> pb.AttributeValue:
    return pb.AttributeValue(n=value)


LARGE = "x" * 20_000  # images whose lengths take two and three varint bytes
T = hlc.pack(WALL_MS - 10)  # a clock before the batch's time
# case: (what is stored before, by key; the records of one batch, in order)
CASES: dict[str, tuple[dict[str, bytes], list[pb.StreamRecord]]] = {
    "insert": ({}, [_record(pb.INSERT, "a", T, _item("a", "one"))]),
    "modify": (
        {"a": _stored(_item("a", "old"), T - 5)},
        [_record(pb.MODIFY, "a", T, _item("a", "new"), old_image=_item("a", "theirs"))],
    ),
    "modify of an item stored empty of all but its keys": (
        {"a": _stored(_keys("a"), T - 5)},
        [_record(pb.INSERT, "a", T, _item("a", "new"))],
    ),
    "insert over a tombstone": (
        {"a": _stored(_keys("a"), T - 5, tombstone=True)},
        [_record(pb.MODIFY, "a", T, _item("a", "back"), old_image=_item("a", "x"))],
    ),
    "remove": (
        {"a": _stored(_item("a", "old"), T - 5)},
        [_record(pb.REMOVE, "a", T, old_image=_item("a", "old"))],
    ),
    "remove of nothing, and one that still carries an image": (
        {},
        [_record(pb.REMOVE, "a", T), _record(pb.REMOVE, "b", T, _item("b", "stray"))],
    ),
    "lost to a newer version, and a duplicate": (
        {"a": _stored(_item("a", "newer"), T + 5), "b": _stored(_item("b", "same"), T, ORIGIN)},
        [
            _record(pb.MODIFY, "a", T, _item("a", "older")),
            _record(pb.INSERT, "b", T, _item("b", "same")),
        ],
    ),
    "a tie broken by region": (
        {"a": _stored(_item("a", "mine"), T, "aa"), "b": _stored(_item("b", "mine"), T, "zz")},
        [
            _record(pb.MODIFY, "a", T, _item("a", "theirs")),
            _record(pb.MODIFY, "b", T, _item("b", "x")),
        ],
    ),
    "one key written twice in a batch, then removed": (
        {},
        [
            _record(pb.INSERT, "a", T, _item("a", "one")),
            _record(pb.MODIFY, "a", T + 1, _item("a", "two")),
            _record(pb.REMOVE, "a", T + 2),
            _record(pb.INSERT, "a", T + 1, _item("a", "late")),
        ],
    ),
    "with a ttl attribute": (
        {"a": _stored(_item("a", "old", exp=_n("1700000100")), T - 5)},
        [
            _record(pb.MODIFY, "a", T, _item("a", "new", exp=_n("1700000200.5"))),
            _record(pb.INSERT, "b", T, _item("b", "text ttl", exp=pb.AttributeValue(s="soon"))),
        ],
    ),
    "ttl expiry of a live item": (
        {"a": _stored(_item("a", "old", exp=_n("1")), T - 5)},
        [_record(pb.REMOVE, "a", T, user_identity=EXPIRY)],
    ),
    "ttl expiry of an item deleted here (kept deleted)": (
        {"a": _stored(_keys("a"), T - 5, tombstone=True)},
        [
            _record(pb.REMOVE, "a", T, user_identity=EXPIRY),
            _record(pb.INSERT, "a", T + 1, _item("a", "again")),  # over the staged tombstone
            _record(pb.INSERT, "b", T, _item("b", "other")),
        ],
    ),
    "large images": (
        {"a": _stored(_item("a", "y" * 300), T - 5)},
        [
            _record(pb.MODIFY, "a", T, _item("a", LARGE)),
            _record(pb.INSERT, "b", T, _item("b", LARGE * 8)),
        ],
    ),
    "attribute state carried in item mode": (
        {},
        [
            _record(
                pb.INSERT,
                "a",
                T,
                _item("a", "one"),
                attributes=pb.AttributeState(clock={"pk": pb.Version(hlc=T, region=ORIGIN)}),
            )
        ],
    ),
    "unicode and binary": (
        {"a": _stored(_item("a", ""), T - 5)},
        [_record(pb.MODIFY, "a", T, _item("a", "é€😀", note=pb.AttributeValue(b=b"\x00\xff")))],
    ),
}


def _reference(
    stage: Stage,
    ctx: Context,
    table: Table,
    record: pb.StreamRecord,
    key: bytes,
    response: pb.ApplyReplicatedResponse,
) -> None:
    """apply_record as it was, over messages: the stored item parsed, stage_record."""
    stored = stage.current(key)
    incoming = (record.version.hlc, record.version.region)
    current = (stored.version.hlc, stored.version.region) if stored is not None else None
    outcome = lww.decide(incoming, current)
    if outcome is lww.Outcome.DUPLICATE:
        response.duplicate += 1
        return
    if outcome is lww.Outcome.LOST_TO_NEWER:
        assert stored is not None and current is not None
        response.lost_to_newer += 1
        rule = lww.rule(incoming, current)
        stage.conflicts.append(
            pb.Conflict(
                table="orders",
                keys=record.keys,
                winner=stored.version,
                loser=record.version,
                rule=rule,
                at_ms=NOW,
            )
        )
        return
    response.applied += 1
    response.max_latency_ms = max(response.max_latency_ms, max(0, NOW - record.creation_time_ms))
    if ttl.is_expiry(record) and stored is not None and stored.tombstone:
        kept = pb.StoredItem(tombstone=True, written_ms=NOW, version=record.version)
        kept.item.CopyFrom(record.keys)
        stage.put_item(key, kept)
        return
    stage_record(stage, ctx, table, key, record, live(stored))


def _parsed(key: bytes, value: bytes) -> object:
    """A stored value as a message where it is one (items and records), else the bytes."""
    if key.startswith(b"i"):
        return pb.StoredItem.FromString(value)
    if key.startswith(b"s"):
        return pb.StreamRecord.FromString(value)
    return value


def _run(
    path: pathlib.Path, spec: pb.TableSpec, stored: dict[str, bytes], data: bytes, fast: bool
) -> dict[str, object]:
    """Apply the batch `data` (a serialized ApplyReplicatedRequest) over `stored` in two
    group commits (the first half, then the rest: the second reads the store), along one
    path; what it wrote and decided."""
    ctx = _context(path, spec)
    table = ctx.store.tables["orders"]
    setup = ctx.store.new_batch()
    for pk, raw in stored.items():
        setup.put(table.schema.encode(_keys(pk)), raw)
    ctx.store.write(setup)
    response = pb.ApplyReplicatedResponse()
    stages = []
    batch = pb.ApplyReplicatedBatch.FromString(data)
    scanned = scan_records(REGION, frozenset((REGION, ORIGIN)), table, batch)
    records = list(pb.ApplyReplicatedRequest.FromString(data).records)
    half = (len(records) + 1) // 2
    for part in (range(half), range(half, len(records))):
        stage = Stage(ctx.store)
        for index in part:
            if fast:
                apply_record(stage, ctx, table, scanned[index], response, NOW)
            else:
                _reference(stage, ctx, table, records[index], scanned[index].key, response)
        overlay = {
            k: pb.StoredItem.FromString(v) if isinstance(v, bytes) else v
            for k, v in stage.overlay.items()
        }
        ctx.store.write(stage.batch)
        stages.append((overlay, dict(stage.origins), stage.conflicts, table.head))
    written = {k: _parsed(k, v) for k, v in ctx.store.scan_prefix(b"") if k != META_NODE_ID}
    ctx.store.close()
    return {"written": written, "response": response, "stages": stages}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(
    "view_type", [pb.NEW_AND_OLD_IMAGES, pb.KEYS_ONLY, pb.NEW_IMAGE, pb.OLD_IMAGE]
)
@pytest.mark.parametrize("code", ["loaded", "python"])
def test_a_record_staged_from_bytes_writes_what_the_message_path_writes(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, case: str, view_type: int, code: str
) -> None:
    if code == "python":  # the fallback of a node without the compiled module
        monkeypatch.setattr(replicated_apply, "COMPILED_SCAN", False)
        monkeypatch.setattr(replicated_bytes, "entries", replicated_bytes.entries_python)
    stored, records = CASES[case]
    request = pb.ApplyReplicatedRequest(origin=ORIGIN, table="orders")
    for sequence, record in enumerate(records, start=1):
        request.records.add().CopyFrom(record)
        request.records[-1].sequence_number = sequence
    data = request.SerializeToString()
    spec = _spec(view_type, "exp")
    reference = _run(tmp_path / "reference", spec, stored, data, fast=False)
    fast = _run(tmp_path / "fast", spec, stored, data, fast=True)
    assert set(fast["written"]) == set(reference["written"])  # type: ignore[arg-type]
    for key, value in reference["written"].items():  # type: ignore[attr-defined]
        mine = fast["written"][key]  # type: ignore[index]
        if isinstance(mine, pb.StreamRecord):
            assert isinstance(value, pb.StreamRecord)
            # The size of the record before its size field, as a local write's. The message
            # path's ByteSize also counted the size field the origin had set (2 bytes more).
            assert mine.size_bytes == mine.ByteSize() - 1 - len(varint(mine.size_bytes))
            assert value.size_bytes == mine.size_bytes + 2
            mine.ClearField("size_bytes")
            value.ClearField("size_bytes")
        assert mine == value, key
    assert fast["response"] == reference["response"]
    assert fast["stages"] == reference["stages"]
    assert any(k.startswith(b"s") for k in fast["written"]) or case.startswith(  # type: ignore[attr-defined]
        ("lost", "ttl expiry of an item deleted")
    )
