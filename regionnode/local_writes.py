"""Writes accepted from clients: put, delete, update, condition checks, batch writes and
transactions, each stamped with a new version from this region's clock and staged with its
stream record.

Every single-item write is planned, then committed: `plan` reads the current item through
the stage, checks the write's guard (its ConditionExpression and Meridian's expected
version) and decides the new item; `commit` stages it. A transaction plans all its actions
before committing any, so either every one is staged or none is. Expressions arrive
compiled; the writer only evaluates them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn, Protocol

from meridian.expressions import ExpressionError, Expressions
from meridian.model.items import ItemError, check_item, items_equal
from meridian.pb import node_pb2 as pb
from meridian.wire.errors import ConditionFailed, TransactionCanceled
from regionnode import attribute_writes
from regionnode.local_stage import stage_local
from regionnode.stage import Context, Stage, live
from regionnode.store import Table


@dataclass(frozen=True, slots=True)
class Target:
    """The item a write addresses: its table, storage key and key attributes."""

    table: Table
    key: bytes
    keys: pb.Item


@dataclass(frozen=True, slots=True)
class Guard:
    """What must hold before a write: the ConditionExpression of `expressions` and the
    expected version (of the live item); `return_old` puts the current item in the failure
    (ReturnValuesOnConditionCheckFailure ALL_OLD)."""

    expressions: Expressions | None = None
    expected_version: pb.Version | None = None
    return_old: bool = False

    def check(self, stored: pb.StoredItem | None, old: pb.Item | None) -> None:
        """Raise ConditionFailed unless the guard holds for the current item."""
        wanted = self.expected_version
        if wanted is not None:
            if old is None or stored is None:
                self._fail(f"item has no version, expected {_version_text(wanted)}", old)
            elif stored.version.hlc != wanted.hlc or stored.version.region != wanted.region:
                found = _version_text(stored.version)
                self._fail(f"version is {found}, expected {_version_text(wanted)}", old)
        if self.expressions is not None and not self.expressions.condition_holds(old):
            state = "the item exists" if old is not None else "no item"
            self._fail(f"the condition does not hold ({state})", old)

    def _fail(self, why: str, old: pb.Item | None) -> NoReturn:
        raise ConditionFailed(f"condition failed: {why}", old if self.return_old else None)


def _version_text(version: pb.Version) -> str:
    return f"hlc={version.hlc} region='{version.region}'"


@dataclass(slots=True)
class Plan:
    """What a single-item write decided: the item to write (None: a delete, unless
    `changed` is False) and the attributes to return."""

    target: Target
    stored: pb.StoredItem | None
    old: pb.Item | None
    new: pb.Item | None
    changed: bool
    attributes: pb.Item | None = None
    replace: bool = True  # a put or delete; an update changes only some attributes
    new_raw: bytes | None = None  # `new` serialized, when the door had it already


class Planned(Protocol):
    @property
    def target(self) -> Target: ...

    def plan(self, stage: Stage) -> Plan: ...


@dataclass(frozen=True, slots=True)
class PutOp:
    target: Target
    item: pb.Item
    guard: Guard = Guard()
    return_values: int = pb.RETURN_VALUES_NONE  # NONE or ALL_OLD
    raw: bytes | None = None  # `item` serialized, if the door has it (`item_ops.put_target`)

    def plan(self, stage: Stage) -> Plan:
        stored = stage.current(self.target.key)
        old = live(stored)
        self.guard.check(stored, old)
        changed = old is None or not items_equal(old, self.item)
        returned = old if self.return_values == pb.ALL_OLD else None
        return Plan(self.target, stored, old, self.item, changed, returned, new_raw=self.raw)

    def apply(self, stage: Stage, ctx: Context) -> pb.WriteResult:
        return commit(stage, ctx, self.plan(stage))


@dataclass(frozen=True, slots=True)
class DeleteOp:
    target: Target
    guard: Guard = Guard()
    return_values: int = pb.RETURN_VALUES_NONE  # NONE or ALL_OLD

    def plan(self, stage: Stage) -> Plan:
        stored = stage.current(self.target.key)
        old = live(stored)
        self.guard.check(stored, old)
        returned = old if self.return_values == pb.ALL_OLD else None
        return Plan(self.target, stored, old, None, old is not None, returned)

    def apply(self, stage: Stage, ctx: Context) -> pb.WriteResult:
        return commit(stage, ctx, self.plan(stage))


@dataclass(frozen=True, slots=True)
class UpdateOp:
    """An update: `guard.expressions` holds the UpdateExpression, if any (without one the
    item is created from its key when missing, and left as it is otherwise)."""

    target: Target
    guard: Guard = Guard()
    return_values: int = pb.RETURN_VALUES_NONE

    def plan(self, stage: Stage) -> Plan:
        stored = stage.current(self.target.key)
        old = live(stored)
        self.guard.check(stored, old)
        expressions = self.guard.expressions
        if expressions is not None and expressions.has_update:
            updated = self.return_values in (pb.UPDATED_OLD, pb.UPDATED_NEW)
            result = expressions.apply_update(old, self.target.keys, updated)
            new, updated_old, updated_new = result.item, result.updated_old, result.updated_new
        else:
            new = old if old is not None else self.target.keys
            updated_old = updated_new = None
        if new is not None and new is not old:
            check_item(new)
        changed = new is not None and (old is None or not items_equal(old, new))
        returns: dict[int, pb.Item | None] = {
            pb.ALL_OLD: old,
            pb.ALL_NEW: new,
            pb.UPDATED_OLD: updated_old,
            pb.UPDATED_NEW: updated_new,
        }
        returned = returns.get(self.return_values)
        return Plan(self.target, stored, old, new, changed, returned, replace=False)

    def apply(self, stage: Stage, ctx: Context) -> pb.WriteResult:
        return commit(stage, ctx, self.plan(stage))


@dataclass(frozen=True, slots=True)
class CheckOp:
    """A transaction's ConditionCheck: the guard must hold; nothing is written."""

    target: Target
    guard: Guard

    def plan(self, stage: Stage) -> Plan:
        stored = stage.current(self.target.key)
        old = live(stored)
        self.guard.check(stored, old)
        return Plan(self.target, stored, old, old, False)


@dataclass(frozen=True, slots=True)
class TransactOp:
    """Actions on distinct items, all committed or none: TransactionCanceled (with one
    reason per action) when any guard fails or any action is invalid for its item."""

    actions: list[Planned]

    def apply(self, stage: Stage, ctx: Context) -> list[pb.WriteResult]:
        plans: list[Plan] = []
        reasons: list[pb.CancellationReason] = []
        for action in self.actions:
            try:
                plans.append(action.plan(stage))
                reasons.append(pb.CancellationReason(code="None"))
            except ConditionFailed as exc:
                reason = pb.CancellationReason(code="ConditionalCheckFailed", message=str(exc))
                if exc.item is not None:
                    reason.item.CopyFrom(exc.item)
                reasons.append(reason)
            except (ExpressionError, ItemError) as exc:
                reasons.append(pb.CancellationReason(code="ValidationError", message=str(exc)))
        if len(plans) < len(self.actions):
            raise TransactionCanceled(reasons)
        return [commit(stage, ctx, plan) for plan in plans]


@dataclass(frozen=True, slots=True)
class BatchOp:
    """Unconditional puts (item) and deletes (item None, keys given) on one table."""

    table: Table
    writes: list[tuple[bytes, pb.Item, pb.Item | None]]

    def apply(self, stage: Stage, ctx: Context) -> pb.BatchWriteItemResponse:
        response = pb.BatchWriteItemResponse()
        read_ahead(stage, [key for key, _, _ in self.writes])
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


def read_ahead(stage: Stage, keys: list[bytes]) -> None:
    """Read the stored items of `keys` the stage does not hold yet in one multi-get (a
    batch's keys: cheaper per key than one read each), left serialized until asked for."""
    missing = [key for key in keys if key not in stage.overlay]
    for key, raw in zip(missing, stage.store.get_many(missing), strict=True):
        stage.overlay[key] = raw


def commit(stage: Stage, ctx: Context, plan: Plan) -> pb.WriteResult:
    """Stage what a plan decided (nothing when it changes nothing); the write's result."""
    if plan.changed:
        target = plan.target
        version = write_local(
            stage,
            ctx,
            target.table,
            target.key,
            target.keys,
            plan.new,
            plan.old,
            plan.replace,
            plan.new_raw,
        )
        result = pb.WriteResult(changed=True, version=version)
    else:
        result = pb.WriteResult(changed=False)
        if plan.old is not None and plan.stored is not None:
            result.version.CopyFrom(plan.stored.version)
    if plan.attributes is not None:
        result.attributes.CopyFrom(plan.attributes)
    return result


def write_local(
    stage: Stage,
    ctx: Context,
    table: Table,
    key: bytes,
    keys: pb.Item,
    new: pb.Item | None,
    old: pb.Item | None,
    replace: bool = True,
    new_raw: bytes | None = None,
) -> pb.Version:
    """Stamp a new version and stage the item (or tombstone) with its stream record;
    `new_raw` is `new` serialized, if the caller has it."""
    if attribute_writes.attribute_mode(table):
        return attribute_writes.write_local(stage, ctx, table, key, keys, new, old, replace)
    version = pb.Version(hlc=ctx.clock.now(), region=ctx.region)
    stage_local(stage, ctx, table, key, keys, new, old, version, new_raw)
    return version
