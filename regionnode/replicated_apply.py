"""Records from another region's stream, applied with last-writer-wins.

Each record is checked against the per-origin checkpoint (already applied: dropped), the
clock offset (too far ahead: refused, and nothing after it in the batch), and the stored
version (`lww`); a winner is staged as this region's write with its own stream record,
origin and version kept. The checkpoint moves in the same batch.

The node reads each record as its bytes. The compiled scan (`replicated_bytes.scan`) reads
and checks a record in one call and gives its fields (`Scanned`); when it does not accept a
record, `scan_checked` parses it as a `pb.ReplicatedRecord` and checks it in Python, which
gives the verdict and its exact error (and the same fields), as it does for every record
without the compiled module. The decision and the staging (`replicated_stage`) work on those
fields and bytes; no attribute of an image becomes a Python object (but the TTL attribute in
a table with one). Tables in attribute merge mode merge each record as a `pb.StreamRecord`
(`attribute_writes.apply_merged`).
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError

from meridian.model import attribute_merge, lww, replicated_bytes, schema
from meridian.model.item_bytes import COMPILED, item_bytes_valid
from meridian.model.items import ItemError, validate_item
from meridian.model.replicated_bytes import COMPILED as COMPILED_SCAN
from meridian.model.replicated_bytes import Scanned
from meridian.pb import node_pb2 as pb
from meridian.wire.edge import decode_problem
from meridian.wire.errors import MalformedRequest, ResyncNeeded
from regionnode import attribute_writes
from regionnode.replicated_stage import stage_replicated
from regionnode.stage import Context, Stage
from regionnode.store import Table, checkpoint_key

# Replicated clocks at or beyond this (the year 6400) are garbage: accepting one would push
# the local clock to the end of its range and break every later write.
MAX_REPLICATED_HLC = 1 << 63


@dataclass
class ApplyOp:
    """Records from one origin region's stream, to apply with last-writer-wins."""

    table: Table
    origin: str
    records: list[Scanned]
    max_clock_offset_ms: int
    source_sequence: int
    origin_node_id: str = ""
    complete_through_ms: int = 0
    after_checkpoint: int = 0  # applied only once the checkpoint is there (pipelined batches)

    def apply(self, stage: Stage, ctx: Context) -> pb.ApplyReplicatedResponse:
        name = self.table.description.spec.name
        ckpt = stage.checkpoints.get((self.origin, name)) or ctx.store.checkpoint(self.origin, name)
        self._check_node(ckpt, name)
        position = ckpt.sequence_number if ckpt else 0
        response = pb.ApplyReplicatedResponse()
        if position < self.after_checkpoint:  # a batch sent before this one was not applied
            response.skipped, response.checkpoint = True, position
            return response
        now = ctx.clock.wall()
        rejected = False
        for record in self.records:
            sequence = record.sequence  # the origin's; a winner gets a local one
            admitted = lww.admit(sequence, position, record.hlc, now, self.max_clock_offset_ms)
            if admitted is lww.Outcome.STALE_SEQUENCE:
                response.stale_sequence += 1
                continue
            if admitted is lww.Outcome.CLOCK_REJECTED:
                response.clock_rejected += 1
                rejected = True
                break
            ctx.clock.observe(record.hlc)
            apply_record(stage, ctx, self.table, record, response, now)
            position = sequence
        if not rejected:
            position = max(position, self.source_sequence)
        response.checkpoint = position
        self._advance(stage, ckpt, position, 0 if rejected else self.complete_through_ms, now)
        return response

    def _check_node(self, ckpt: pb.Checkpoint | None, name: str) -> None:
        """Sequence numbers of another node of the origin do not continue the checkpoint."""
        if (
            ckpt is not None
            and self.origin_node_id
            and ckpt.origin_node_id not in ("", self.origin_node_id)
        ):
            raise ResyncNeeded(
                f"{self.origin} is now served by node {self.origin_node_id}; table {name!r} "
                f"was replicated from node {ckpt.origin_node_id}"
            )

    def _advance(
        self, stage: Stage, ckpt: pb.Checkpoint | None, position: int, complete: int, now: int
    ) -> None:
        """Stage the checkpoint when the position or the complete-through time moved (a batch
        refused whole leaves no trace)."""
        name = self.table.description.spec.name
        before = ckpt or pb.Checkpoint()
        if position <= before.sequence_number and complete <= before.complete_through_ms:
            return
        new_ckpt = pb.Checkpoint(
            origin=self.origin,
            table=name,
            sequence_number=position,
            updated_ms=now,
            origin_node_id=self.origin_node_id or before.origin_node_id,
            complete_through_ms=max(complete, before.complete_through_ms),
        )
        stage.checkpoints[(self.origin, name)] = new_ckpt
        stage.batch.put(checkpoint_key(self.origin, name), new_ckpt.SerializeToString())


def apply_record(
    stage: Stage,
    ctx: Context,
    table: Table,
    record: Scanned,
    response: pb.ApplyReplicatedResponse,
    now: int,
) -> None:
    """Decide one record against what is stored; stage it when it wins."""
    key = record.key
    if attribute_writes.attribute_mode(table):
        merged = pb.StreamRecord.FromString(record.raw)  # the same encoding
        merged.ClearField("old_image")  # unchecked, and replaced by the local one
        attribute_writes.apply_merged(stage, ctx, table, merged, key, response, now)
        return
    stored = stage.current_bytes(key)
    incoming = (record.hlc, record.region)
    current = (stored.version.hlc, stored.version.region) if stored is not None else None
    outcome = lww.decide(incoming, current)
    if outcome is lww.Outcome.DUPLICATE:
        response.duplicate += 1
        return
    if outcome is lww.Outcome.LOST_TO_NEWER:
        response.lost_to_newer += 1
        assert stored is not None and current is not None
        conflict = pb.Conflict(
            table=table.description.spec.name,
            winner=stored.version,
            rule=lww.rule(incoming, current),
            at_ms=now,
        )
        conflict.keys.ParseFromString(record.keys)
        conflict.loser.ParseFromString(record.version)
        stage.conflicts.append(conflict)
        return
    response.applied += 1
    response.max_latency_ms = max(response.max_latency_ms, max(0, now - record.creation_time_ms))
    if stored is not None and stored.tombstone and replicated_bytes.is_expiry(record.user_identity):
        keep_deleted(stage, key, record, now)
        return
    stage_replicated(stage, ctx, table, record, stored)


def keep_deleted(stage: Stage, key: bytes, record: Scanned, now: int) -> None:
    """A newer TTL expiry of an item already deleted here: store its version (so every
    region holds the same tombstone) but write no stream record, since nothing changed for a
    reader of this region's stream. Two regions that expire one item at once thus give one
    REMOVE per region's stream. (Client deletes keep their records: every region's stream
    shows each client write it applied.)"""
    stored = pb.StoredItem(tombstone=True, written_ms=now)
    stored.version.ParseFromString(record.version)
    stored.item.ParseFromString(record.keys)
    stage.put_item(key, stored)


def scan_records(
    region: str, members: frozenset[str], table: Table, req: pb.ApplyReplicatedBatch
) -> list[Scanned]:
    """The fields of each record of a replicated batch, checked; ItemError (or
    MalformedRequest) when the batch is malformed, so that nothing of it is applied. Its
    origin must be another region of the group: records of an unknown region would stay here
    alone, a permanent divergence."""
    if req.origin not in members or req.origin == region:
        others = ", ".join(sorted(members - {region})) or "none"
        raise ItemError(
            f"origin: must name another region of the group ({others}), got {req.origin!r}"
        )
    sch, origin = table.schema, req.origin
    fast = COMPILED_SCAN and sch.spec.merge != pb.MERGE_MODE_ATTRIBUTE
    prefix, parts = replicated_bytes.layout(sch)
    previous = 0
    scanned = []
    for index, raw in enumerate(req.records):
        record = replicated_bytes.scan(raw, prefix, parts) if fast else None
        if record is None or not _follows(record, origin, previous):
            try:
                record = scan_checked(sch, raw, origin, previous)
            except (ItemError, MalformedRequest) as exc:
                raise type(exc)(f"records[{index}]: {exc}") from None
        scanned.append(record)
        previous = record.sequence
    return scanned


def _follows(record: Scanned, origin: str, previous: int) -> bool:
    """The checks of scan_checked that the compiled scan leaves to Python."""
    return (
        record.region == origin and record.sequence > previous and record.hlc < MAX_REPLICATED_HLC
    )


def scan_checked(sch: schema.Schema, raw: bytes, origin: str, previous: int) -> Scanned:
    """The fields of the serialized replicated record `raw`, which follows sequence number
    `previous`, checked in Python: the verdict, and the exact error, on every record."""
    try:
        record = pb.ReplicatedRecord.FromString(raw)
    except DecodeError as exc:
        raise MalformedRequest(f"cannot be decoded: {decode_problem(exc)}") from None
    if record.version.region != origin:
        raise ItemError(f"origin {record.version.region!r} is not {origin!r}")
    if record.sequence_number <= previous:
        raise ItemError("sequence numbers must ascend")
    if record.version.hlc >= MAX_REPLICATED_HLC:
        raise ItemError(f"version clock {record.version.hlc} is not a plausible time")
    if record.event_name not in (pb.INSERT, pb.MODIFY, pb.REMOVE):
        raise ItemError("unknown event name")
    key = sch.storage_key(record.keys)
    image = None
    if record.event_name != pb.REMOVE:
        image = _image(record.new_image)
        if not _has_keys(sch, image, record.keys):
            sch.key_of(image)  # a missing or mistyped key says so
            raise ItemError("new image does not match the record's keys")
    if sch.spec.merge == pb.MERGE_MODE_ATTRIBUTE:
        attribute_merge.check(record.attributes, image, sch.key_names, record.version)
    return Scanned(
        raw=raw,
        key=key,
        sequence=record.sequence_number,
        hlc=record.version.hlc,
        region=record.version.region,
        event_name=record.event_name,
        creation_time_ms=record.creation_time_ms,
        version=record.version.SerializeToString(),
        keys=record.keys.SerializeToString(),
        new_image=b"" if image is None else record.new_image,
        user_identity=_present(record, "user_identity"),
        attributes=_present(record, "attributes"),
    )


def _present(record: pb.ReplicatedRecord, name: str) -> bytes | None:
    """The serialized message field `name` of `record`, None when it is not set."""
    return getattr(record, name).SerializeToString() if record.HasField(name) else None


def _image(raw: bytes) -> pb.Item:
    """The parsed new image `raw` of a record, checked as a whole item (the origin
    normalised it already): MalformedRequest when it cannot be decoded (as when the request
    could not), ItemError when it is not a valid item."""
    try:
        image = pb.Item.FromString(raw)
    except DecodeError as exc:
        raise MalformedRequest(f"new image: {decode_problem(exc)}") from None
    # The compiled check of the bytes spares Python's first touch of each attribute; without
    # the compiled module, validate_item alone is cheaper.
    if not (COMPILED and item_bytes_valid(raw)):
        validate_item(image)
    return image


def _has_keys(sch: schema.Schema, image: pb.Item, keys: pb.Item) -> bool:
    """Whether `keys`, whose key attributes are valid, is exactly `sch.key_of(image)`
    (compared in place, without building that copy)."""
    values, own = keys.attributes, image.attributes
    return len(values) == len(sch.key_names) and all(
        name in own and own[name] == values[name] for name in sch.key_names
    )
