"""Copying a peer's tables into this region: bootstrap of a new region, and resync.

Bootstrap (an empty region joining): copy every table from one peer's consistent snapshot
through the same last-writer-wins merge as streaming, then install the per-origin positions
that snapshot reflects, so the links stream every origin from exactly there; writes made
anywhere during the copy arrive that way. Progress is stored by the node with each copied
batch, so a crash resumes from the last durable key (keeping the first snapshot's positions,
which replay covers whatever changed in between).

Resync (a link that fell behind the peer's retention, or whose peer's node changed): merge
the peer's snapshot the same way, and move each origin's position forward to what the copy
reflects. Nothing newer is ever overwritten, and nothing is skipped silently.

Both also remove what the copy shows deleted: each message names the key range it covers,
so the node finds the keys it holds there that the copy lacks, and removes those whose
version the source covers once the table is done (`regionnode/removal.py`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from meridian.model import hlc
from meridian.pb import node_pb2 as pb
from meridian.pb import replication_pb2_grpc as pb_grpc
from meridian.pb import replicator_pb2 as rpb
from meridian.pb import replicator_pb2_grpc as rpb_grpc
from replicator import progress as reports
from replicator.handshake import Identity, compare_tables
from replicator.identity import from_hello, hello

log = logging.getLogger(__name__)

BATCH_ENTRIES = 8000  # stored bytes: fewer, bigger messages (at most 4 MiB each)
Progress = Callable[[pb.BootstrapState, str], None]
Positions = Callable[[list[pb.Checkpoint]], Awaitable[None]]


def key_of(entry: pb.StoredItem, key_names: list[str]) -> pb.Item:
    return pb.Item(attributes={n: entry.item.attributes[n] for n in key_names})


async def key_names(node: pb_grpc.ReplicationStub) -> dict[str, list[str]]:
    info = await node.NodeInfo(pb.NodeInfoRequest(), timeout=5)
    out = {}
    for table in info.tables:
        names = [table.spec.partition_key.name]
        if table.spec.sort_key.name:
            names.append(table.spec.sort_key.name)
        out[table.spec.name] = names
    return out


class _Applier:
    """Sends ApplySnapshot requests one at a time and in order, returning as soon as one is
    sent: the node merges a batch while the next one is received and prepared. `state`
    follows only what the node has applied, so a failed copy resumes from there."""

    def __init__(
        self, node: pb_grpc.ReplicationStub, state: pb.BootstrapState, on_progress: Progress
    ) -> None:
        self._node = node
        self._state = state
        self._on_progress = on_progress
        self._pending: tuple[asyncio.Future[object], pb.BootstrapState, str] | None = None

    async def send(
        self, request: pb.ApplySnapshotRequest, reached: pb.BootstrapState, table: str
    ) -> None:
        """Apply `request`, after which the copy stands at `reached`."""
        await self.wait()
        after = pb.BootstrapState()
        after.CopyFrom(reached)
        call = asyncio.ensure_future(self._node.ApplySnapshot(request, timeout=60))
        self._pending = (call, after, table)

    async def wait(self) -> None:
        """Wait for the request in flight, if any."""
        if self._pending is None:
            return
        call, after, table = self._pending
        self._pending = None
        await call
        self._state.CopyFrom(after)
        self._on_progress(self._state, table)

    def cancel(self) -> None:
        if self._pending is not None:
            self._pending[0].cancel()


async def copy_from(
    *,
    node: pb_grpc.ReplicationStub,
    peer: rpb_grpc.ReplicatorStub,
    me: Identity,
    source: str,
    state: pb.BootstrapState,
    bootstrap: bool,
    on_progress: Progress,
    on_positions: Positions | None = None,
    members: Sequence[str] = (),
    batch: int = BATCH_ENTRIES,
) -> pb.BootstrapState:
    """Copy every table not yet done from `source`; returns the final state. With `members`,
    first check that this region holds no rebuild horizon the source is still behind."""
    if members:
        await check_source(node, peer, me, source, members)
    names = await key_names(node)
    work = pb.BootstrapState()  # ahead of `state` by the batch being applied
    work.CopyFrom(state)
    applier = _Applier(node, state, on_progress)
    try:
        for table in await _shared_tables(peer, me, source):
            if table not in work.tables_done:
                copy = _Copy(source, table, names[table], batch)
                await _copy_table(peer, me, copy, work, applier, bootstrap, on_positions)
        await applier.wait()
    finally:
        applier.cancel()
    return state


async def _shared_tables(peer: rpb_grpc.ReplicatorStub, me: Identity, source: str) -> list[str]:
    """The tables the source holds as the same incarnation: only those are copied (the
    others differ, or are not there yet, and the catalog settles them)."""
    response = await peer.Handshake(hello(me, source), timeout=5)
    shared, _ = compare_tables(me.tables, from_hello(response).tables, source)
    return shared


@dataclass(frozen=True)
class _Copy:
    """One table's copy from a source region."""

    source: str
    table: str
    names: list[str]  # the table's key attribute names
    batch: int  # entries per message


async def _copy_table(
    peer: rpb_grpc.ReplicatorStub,
    me: Identity,
    copy: _Copy,
    work: pb.BootstrapState,
    applier: _Applier,
    bootstrap: bool,
    on_positions: Positions | None,
) -> None:
    source, table, names = copy.source, copy.table, copy.names
    request = rpb.SnapshotPullRequest(
        hello=hello(me, source),
        snapshot=pb.SnapshotRequest(table=table, batch_items=copy.batch, stored_bytes=True),
    )
    rng = pb.SnapshotRange(source=source, session=uuid.uuid4().hex)
    if table in work.resume_after:
        request.snapshot.exclusive_start_key.CopyFrom(work.resume_after[table])
        rng.after.CopyFrom(work.resume_after[table])
    known = any(w.table == table for w in work.watermarks)
    incarnation = ""  # the table's in the source's copy: the node refuses another's entries
    async for batch in peer.Snapshot(request):
        incarnation = batch.incarnation or incarnation
        if batch.watermarks:
            rng.horizons.extend(batch.horizons)
            if not known:  # a resumed copy keeps the first snapshot's positions
                work.watermarks.extend(batch.watermarks)
                if on_positions is not None:  # e.g. retention holds, before any entry lands
                    await on_positions(list(batch.watermarks))
                work.entries_estimate += batch.entries_estimate
                known = True
            rng.coverage.extend(w for w in work.watermarks if w.table == table)
        covered = pb.SnapshotRange()
        covered.CopyFrom(rng)  # this message's range starts after the previous one's last key
        covered.to_end = batch.done
        if batch.entries or batch.stored:
            count(work, table, batch, names)
            rng.after.CopyFrom(work.resume_after[table])
        install: list[pb.Checkpoint] = []
        if batch.done:
            work.tables_done.append(table)
            install = [w for w in work.watermarks if w.table == table]
        apply = pb.ApplySnapshotRequest(
            table=table,
            entries=batch.entries,
            install=install,
            progress=work if bootstrap else None,
            range=covered,
            incarnation=incarnation,
            keys=batch.keys,
            stored=batch.stored,
        )
        await applier.send(apply, work, table)


def count(work: pb.BootstrapState, table: str, batch: pb.SnapshotBatch, names: list[str]) -> None:
    """Move the copy's progress past a batch: entries, bytes, and the last key copied (of a
    batch of stored bytes, only its last entry is decoded)."""
    if batch.stored:
        last = pb.StoredItem.FromString(batch.stored[-1])
        work.entries += len(batch.stored)
        work.bytes += sum(map(len, batch.stored))
    else:
        last = batch.entries[-1]
        work.entries += len(batch.entries)
        work.bytes += sum(e.ByteSize() for e in batch.entries)
    work.resume_after[table].CopyFrom(key_of(last, names))


async def check_source(
    node: pb_grpc.ReplicationStub,
    peer: rpb_grpc.ReplicatorStub,
    me: Identity,
    source: str,
    members: Sequence[str],
) -> None:
    """Raise reports.Behind when this region holds a rebuild horizon for `source` that the
    source has not yet applied every region's stream past."""
    own = await node.GetCheckpoints(pb.GetCheckpointsRequest(), timeout=5)
    horizon = reports.horizon_for(own.horizons, source)
    if horizon:
        report = await reports.fetch(peer, me, source)
        reports.check_source(horizon, report, members, me.tables)


def new_state(source: str, reason: str) -> pb.BootstrapState:
    return pb.BootstrapState(
        state="BOOTSTRAPPING", source=source, reason=reason, started_ms=hlc.wall_ms()
    )


async def mark_active(node: pb_grpc.ReplicationStub, state: pb.BootstrapState, table: str) -> None:
    """Persist ACTIVE (through an empty snapshot batch, which carries the progress)."""
    done = pb.BootstrapState()
    done.CopyFrom(state)
    done.state = "ACTIVE"
    await node.ApplySnapshot(pb.ApplySnapshotRequest(table=table, progress=done), timeout=10)
