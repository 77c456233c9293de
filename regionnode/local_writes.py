"""Writes accepted from clients: put, delete, update and batch writes, each stamped with a
new version from this region's clock and staged with its stream record."""

from __future__ import annotations

from dataclasses import dataclass, field

from meridian.model.items import check_item, items_equal
from meridian.model.updates import apply_updates, check_conditions
from meridian.pb import node_pb2 as pb
from regionnode.stage import Context, Stage, live, stage_record
from regionnode.store import Table


@dataclass
class PutOp:
    table: Table
    key: bytes
    keys: pb.Item
    item: pb.Item
    conditions: list[pb.Condition] = field(default_factory=list)
    return_values: int = pb.RETURN_VALUES_NONE

    def apply(self, stage: Stage, ctx: Context) -> pb.WriteResult:
        stored = stage.current(self.key)
        old = live(stored)
        check_conditions(self.conditions, old, _version(stored, old))
        if old is not None and items_equal(old, self.item):
            return unchanged(stored, self.return_values, old)
        version = write_local(stage, ctx, self.table, self.key, self.keys, self.item, old)
        return written(version, self.return_values, old, self.item)


@dataclass
class DeleteOp:
    table: Table
    key: bytes
    keys: pb.Item
    conditions: list[pb.Condition] = field(default_factory=list)
    return_values: int = pb.RETURN_VALUES_NONE

    def apply(self, stage: Stage, ctx: Context) -> pb.WriteResult:
        stored = stage.current(self.key)
        old = live(stored)
        check_conditions(self.conditions, old, _version(stored, old))
        if old is None:
            return pb.WriteResult(changed=False)
        version = write_local(stage, ctx, self.table, self.key, self.keys, None, old)
        return written(version, self.return_values, old, None)


@dataclass
class UpdateOp:
    table: Table
    key: bytes
    keys: pb.Item
    actions: list[pb.UpdateAction]
    conditions: list[pb.Condition] = field(default_factory=list)
    return_values: int = pb.RETURN_VALUES_NONE

    def apply(self, stage: Stage, ctx: Context) -> pb.WriteResult:
        stored = stage.current(self.key)
        old = live(stored)
        check_conditions(self.conditions, old, _version(stored, old))
        new = apply_updates(old, self.keys, self.actions, self.table.schema.key_names)
        check_item(new)
        if old is not None and items_equal(old, new):
            return unchanged(stored, self.return_values, old)
        version = write_local(stage, ctx, self.table, self.key, self.keys, new, old)
        return written(version, self.return_values, old, new)


@dataclass
class BatchOp:
    """Unconditional puts (item) and deletes (item None, keys given) on one table."""

    table: Table
    writes: list[tuple[bytes, pb.Item, pb.Item | None]]

    def apply(self, stage: Stage, ctx: Context) -> pb.BatchWriteItemResponse:
        response = pb.BatchWriteItemResponse()
        for key, keys, item in self.writes:
            old = live(stage.current(key))
            if (item is None and old is None) or (
                item is not None and old is not None and items_equal(old, item)
            ):
                response.versions.add()
                continue
            version = write_local(stage, ctx, self.table, key, keys, item, old)
            response.versions.add(hlc=version.hlc, region=version.region)
        return response


def _version(stored: pb.StoredItem | None, old: pb.Item | None) -> pb.Version | None:
    """The version conditions compare with: the live item's, none for a missing item."""
    return stored.version if old is not None and stored is not None else None


def write_local(
    stage: Stage,
    ctx: Context,
    table: Table,
    key: bytes,
    keys: pb.Item,
    new: pb.Item | None,
    old: pb.Item | None,
) -> pb.Version:
    """Stamp a new version and stage the item (or tombstone) with its stream record."""
    record = pb.StreamRecord(event_name=pb.REMOVE if new is None else pb.INSERT)
    record.keys.CopyFrom(keys)
    if new is not None:
        record.new_image.CopyFrom(new)
    record.version.hlc, record.version.region = ctx.clock.now(), ctx.region
    stage_record(stage, ctx, table, key, record, old)
    return record.version


def returned(return_values: int, old: pb.Item | None, new: pb.Item | None) -> pb.Item | None:
    if return_values == pb.ALL_OLD:
        return old
    if return_values == pb.ALL_NEW:
        return new
    return None


def unchanged(stored: pb.StoredItem | None, return_values: int, old: pb.Item) -> pb.WriteResult:
    result = pb.WriteResult(changed=False)
    if stored is not None:
        result.version.CopyFrom(stored.version)
    attributes = returned(return_values, old, old)
    if attributes is not None:
        result.attributes.CopyFrom(attributes)
    return result


def written(
    version: pb.Version, return_values: int, old: pb.Item | None, new: pb.Item | None
) -> pb.WriteResult:
    result = pb.WriteResult(changed=True, version=version)
    attributes = returned(return_values, old, new)
    if attributes is not None:
        result.attributes.CopyFrom(attributes)
    return result
