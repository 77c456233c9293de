"""Writer operations that remove a table's data: dropping it (a group-wide delete) and
setting it aside under another name (another region's CreateTable of the name won).

They run through the writer like every other change, after every write already queued for
the table, so no write of the old table can land after its removal."""

from __future__ import annotations

from collections.abc import Iterable

from meridian.pb import node_pb2 as pb
from regionnode.stage import Context, Stage
from regionnode.store import (
    META_ASIDE,
    META_TABLE,
    META_TTL_INDEXED,
    checkpoint_key,
    expiry_prefix,
    stream_prefix,
)


def _item_prefix(name: str) -> bytes:
    return b"i" + name.encode() + b"\x00"


def _end(prefix: bytes) -> bytes:
    return prefix[:-1] + b"\x01"


class DropOp:
    """Remove a table's items, stream, expiry index, description and checkpoints in one
    WriteBatch."""

    def __init__(self, name: str, origins: Iterable[str]) -> None:
        self.name = name
        self.origins = list(origins)

    def apply(self, stage: Stage, ctx: Context) -> None:
        for prefix in (_item_prefix(self.name), stream_prefix(self.name), expiry_prefix(self.name)):
            stage.batch.delete_range(prefix, _end(prefix))
        stage.batch.delete(META_TABLE + self.name.encode())
        stage.batch.delete(META_TTL_INDEXED + self.name.encode())
        for origin in self.origins:
            stage.batch.delete(checkpoint_key(origin, self.name))
        stage.empty = False


class AsideOp:
    """Copy a table's items under another table name, record that, then drop it: one
    WriteBatch, so a crash keeps either the table or its copy."""

    def __init__(self, name: str, aside: pb.SetAsideTable, origins: Iterable[str]) -> None:
        self.name = name
        self.aside = aside
        self.drop = DropOp(name, origins)

    def apply(self, stage: Stage, ctx: Context) -> None:
        old, new = _item_prefix(self.name), _item_prefix(self.aside.kept_as)
        for key, value in stage.store.scan_prefix(old):
            stage.batch.put(new + key[len(old) :], value)
        self.drop.apply(stage, ctx)
        stage.batch.put(META_ASIDE + self.aside.kept_as.encode(), self.aside.SerializeToString())
