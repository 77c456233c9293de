"""Writes to tables in attribute merge mode: local writes, replicated records and snapshot
entries all merge into the stored state with `meridian.model.attribute_merge`.

A local write is the merge of the stored state with what the write adds (a put: an item
tombstone and its attributes; an update: the attributes it changes or removes; a delete: an
item tombstone), all at the write's new version. Its stream record carries the item's whole
state after the write, so a receiver merges state with state: records may repeat or arrive
in any order from any region and still converge.
"""

from __future__ import annotations

from meridian.model import attribute_merge as am
from meridian.model import lww, ttl
from meridian.pb import node_pb2 as pb
from regionnode.stage import Context, Stage, live, stage_record
from regionnode.store import Table


def attribute_mode(table: Table) -> bool:
    return table.description.spec.merge == pb.MERGE_MODE_ATTRIBUTE


def write_local(
    stage: Stage,
    ctx: Context,
    table: Table,
    key: bytes,
    keys: pb.Item,
    new: pb.Item | None,
    old: pb.Item | None,
    replace: bool,
) -> pb.Version:
    """Stamp a new version, merge what the write adds and stage the result (`replace`: a
    put, which replaces the whole item; otherwise an update)."""
    version = pb.Version(hlc=ctx.clock.now(), region=ctx.region)
    stamp = (version.hlc, version.region)
    if new is None:
        delta = am.delete_delta(stamp)
    elif replace:
        delta = am.put_delta(new, stamp)
    else:
        delta = am.update_delta(old, new, stamp)
    state = am.merge(am.stored_state(stage.current(key)), delta)
    record = pb.StreamRecord(event_name=pb.INSERT if state.live else pb.REMOVE, version=version)
    record.keys.CopyFrom(keys)
    if state.live:  # the write's item is the merged one: its version is the newest
        record.new_image.CopyFrom(new if new is not None else am.item_of(state, keys))
    record.attributes.CopyFrom(am.to_pb(state))
    stage_record(stage, ctx, table, key, record, old)
    return version


def apply_merged(
    stage: Stage,
    ctx: Context,
    table: Table,
    record: pb.StreamRecord,
    key: bytes,
    response: pb.ApplyReplicatedResponse,
    now: int,
) -> None:
    """Merge a replicated record's state into the stored one; stage the result, with this
    region's stream record of it, when that changes anything."""
    stored = stage.current(key)
    before = am.stored_state(stored)
    image = record.new_image if record.event_name != pb.REMOVE else None
    incoming = am.state_of(record.attributes, image)
    after = am.merge(before, incoming)
    lost = am.losses(before, incoming, (record.version.hlc, record.version.region))
    if lost is not None:
        stage.conflicts.append(_conflict(table, record, lost, now))
    if after == before:
        if lost is not None:
            response.lost_to_newer += 1
        else:
            response.duplicate += 1
        return
    response.applied += 1
    response.max_latency_ms = max(response.max_latency_ms, max(0, now - record.creation_time_ms))
    if ttl.is_expiry(record) and stored is not None and stored.tombstone and not after.live:
        # as in item mode: another region's expiry of an item gone here writes no record
        gone = pb.StoredItem(written_ms=now)
        keep(gone, after, record.keys)
        stage.put_item(key, gone)
        return
    if after is incoming or after == incoming:  # the record's state is the merged one
        stage_record(stage, ctx, table, key, record, live(stored))  # the record is reused
        return
    merged = pb.StreamRecord(event_name=pb.INSERT if after.live else pb.REMOVE)
    merged.version.CopyFrom(record.version)  # the origin's write, never shipped again
    merged.keys.CopyFrom(record.keys)
    if record.HasField("user_identity"):
        merged.user_identity.CopyFrom(record.user_identity)
    if after.live:
        merged.new_image.CopyFrom(am.item_of(after, record.keys))
    merged.attributes.CopyFrom(am.to_pb(after))
    hlc, region = after.newest()
    newest = pb.Version(hlc=hlc, region=region)
    stage_record(stage, ctx, table, key, merged, live(stored), newest)


def _conflict(table: Table, record: pb.StreamRecord, lost: am.Loss, now: int) -> pb.Conflict:
    """The conflict log's entry of a replicated write that lost, whole or in part."""
    winner = pb.Version(hlc=lost.winner[0], region=lost.winner[1])
    incoming = (record.version.hlc, record.version.region)
    return pb.Conflict(
        table=table.description.spec.name,
        keys=record.keys,
        winner=winner,
        loser=record.version,
        rule=lww.rule(incoming, lost.winner),
        at_ms=now,
        attributes=lost.attributes,
    )


def deletion(stored: pb.StoredItem | None, version: pb.Version) -> pb.AttributeState:
    """The state after a delete at `version` that is not a client's (TTL expiry)."""
    stamp = (version.hlc, version.region)
    return am.to_pb(am.merge(am.stored_state(stored), am.delete_delta(stamp)))


def merge_entry(table: Table, entry: pb.StoredItem, stored: pb.StoredItem | None, now: int) -> bool:
    """Merge a snapshot entry (a peer's stored item) with what is stored, in place in `entry`;
    False when that changes nothing here."""
    before = am.stored_state(stored)
    after = am.merge(before, am.stored_state(entry))
    if after == before:
        return False
    keys = table.schema.key_of(entry.item)
    keep(entry, after, am.item_of(after, keys) if after.live else keys)
    entry.written_ms = now
    return True


def keep(stored: pb.StoredItem, state: am.State, item: pb.Item) -> None:
    """Put a state in a stored item: its item, tombstone flag and newest version."""
    stored.tombstone = not state.live
    stored.item.CopyFrom(item)
    stored.attributes.CopyFrom(am.to_pb(state))
    stored.version.hlc, stored.version.region = state.newest()
