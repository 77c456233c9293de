"""A local write's stored item and stream record built from serialized images
(`local_stage.stage_local`) are the ones `stage.stage_record` builds as messages: the same
messages once parsed, the same keys in the WriteBatch, the same overlay, on real RocksDB."""

from __future__ import annotations

import pathlib

import pytest

from meridian.model.replicated_bytes import varint
from meridian.pb import node_pb2 as pb
from regionnode.local_stage import stage_local
from regionnode.stage import Context, Stage, stage_record
from regionnode.store import META_NODE_ID
from tests.integration import stage_support

WALL_MS = 1_700_000_000_123  # an injected clock: both paths stamp the same times


_spec = stage_support.spec


def _context(path: pathlib.Path, spec: pb.TableSpec) -> Context:
    return stage_support.context(path, spec, "us-east", lambda: WALL_MS)


def _item(payload: str, **extra: pb.AttributeValue) -> pb.Item:
    item = pb.Item()
    item.attributes["pk"].s = "p1"
    item.attributes["sk"].n = "7"
    item.attributes["payload"].s = payload
    for name, value in extra.items():
        item.attributes[name].CopyFrom(value)
    return item


def _keys() -> pb.Item:
    keys = pb.Item()
    keys.attributes["pk"].s = "p1"
    keys.attributes["sk"].n = "7"
    return keys


def _reference(
    stage: Stage, ctx: Context, key: bytes, new: pb.Item | None, old: pb.Item | None
) -> None:
    """What local writes staged before: the record as a message, then stage_record."""
    table = ctx.store.tables["orders"]
    record = pb.StreamRecord(event_name=pb.REMOVE if new is None else pb.INSERT)
    record.keys.CopyFrom(_keys())
    if new is not None:
        record.new_image.CopyFrom(new)
    record.version.hlc, record.version.region = 42, "us-east"
    stage_record(stage, ctx, table, key, record, old)


def _fast(stage: Stage, ctx: Context, key: bytes, new: pb.Item | None, old: pb.Item | None) -> None:
    table = ctx.store.tables["orders"]
    version = pb.Version(hlc=42, region="us-east")
    stage_local(stage, ctx, table, key, _keys(), new, old, version)


def _written(ctx: Context, stage: Stage) -> dict[bytes, bytes]:
    """Every key of the store after the stage's commit but the node's own id."""
    ctx.store.write(stage.batch)
    return {k: v for k, v in ctx.store.scan_prefix(b"") if k != META_NODE_ID}


def _parsed(key: bytes, value: bytes) -> object:
    """A stored value as a message where it is one (items and records), else the bytes."""
    if key.startswith(b"i"):
        return pb.StoredItem.FromString(value)
    if key.startswith(b"s"):
        return pb.StreamRecord.FromString(value)
    return value


LARGE = "x" * 20_000  # images whose lengths take two and three varint bytes
CASES = {
    "insert": (_item("a"), None),
    "modify": (_item("b"), _item("a")),
    "delete": (None, _item("a")),
    "large modify": (_item(LARGE), _item("y" * 300)),
    "with a ttl": (_item("a", exp=pb.AttributeValue(n="1700000100")), None),
    "unicode": (_item("é€😀", note=pb.AttributeValue(b=b"\x00\xff")), _item("")),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("view_type", [pb.NEW_AND_OLD_IMAGES, pb.KEYS_ONLY, pb.NEW_IMAGE])
def test_stage_local_writes_what_stage_record_writes(
    tmp_path: pathlib.Path, case: str, view_type: int
) -> None:
    new, old = CASES[case]
    spec = _spec(view_type, "exp")
    written, overlays, heads, origins = [], [], [], []
    for name, stage_write in (("reference", _reference), ("fast", _fast)):
        ctx = _context(tmp_path / name, spec)
        key = ctx.store.tables["orders"].schema.encode(_keys())
        stage = Stage(ctx.store)
        stage_write(stage, ctx, key, new, old)
        overlays.append(stage.current(key))  # what an operation of the batch reads next
        heads.append(ctx.store.tables["orders"].head)
        origins.append(stage.origins)  # which readers the commit wakes
        written.append({k: _parsed(k, v) for k, v in _written(ctx, stage).items()})
        ctx.store.close()
    reference, fast = written
    assert set(fast) == set(reference)
    for k in reference:
        assert fast[k] == reference[k], k
    assert overlays[0] == overlays[1]
    assert heads == [1, 1]
    assert origins == [{"orders": {"us-east"}}] * 2
    record = next(v for k, v in fast.items() if k.startswith(b"s"))
    assert isinstance(record, pb.StreamRecord)
    assert record.size_bytes == record.ByteSize() - 1 - len(varint(record.size_bytes))


@pytest.mark.parametrize("value", [0, 1, 127, 128, 300, 16_383, 16_384, 2**32, 2**63 - 1])
def test_varint_is_protobufs_encoding(value: int) -> None:
    encoded = pb.Version(hlc=value).SerializeToString()
    assert encoded == (b"\x08" + varint(value) if value else b"")
