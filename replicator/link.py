"""The pulling side of a link: bring one peer region's writes into the local node.

A session: handshake (refuse a peer of another group or a wrong region), merge the peer's
table catalog into the node's (`regionnode/catalog.py`; re-merged every heartbeat, and the
session starts over when the tables both regions hold change: only those are pulled, a table
that differs is left out and reported), fetch the peer's progress report (kept fresh during
the session, `replicator/progress.py`), read the per-origin checkpoints from the local node,
then pull the peer's own-origin records from just after them and apply each batch through
the node's ApplyReplicated (one stream per session, `replicator/applier.py`), which decides
last-writer-wins and advances the checkpoint in the same WriteBatch. A link whose position
is older than the rebuild horizon this region holds for the peer resyncs instead of
streaming those records. Sessions are retried forever with capped, jittered backoff; the
checkpoint only moves for durably applied records, so a broken session leaves no gap and at
most re-sends records that are then dropped.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import grpc

from meridian.daemon import backoff, hop_trace
from meridian.model import collection, hlc
from meridian.pb import node_pb2 as pb
from meridian.pb import replication_pb2_grpc as pb_grpc
from meridian.pb import replicator_pb2 as rpb
from meridian.pb import replicator_pb2_grpc as rpb_grpc
from meridian.security.dial import Dialer
from meridian.wire.errors import Reason, reason_of
from meridian.wire.oneline import one_line
from replicator import progress
from replicator.applier import Applier
from replicator.bootstrap import BATCH_ENTRIES, copy_from, new_state
from replicator.handshake import Identity, Refused, check_peer, compare_tables
from replicator.identity import from_hello, hello, local_identity
from replicator.metrics import ReplicatorMetrics
from replicator.pins import Pins

log = logging.getLogger(__name__)


@dataclass
class LinkSettings:
    batch_size: int = 500
    max_clock_offset_ms: int = 5000
    heartbeat_s: float = 1.0
    rebuild_every_s: float = 7 * 86400  # at most one rebuild from a peer this often
    bootstrap_batch: int = BATCH_ENTRIES  # entries per message of a rebuild's copy
    retry_base_s: float = 0.05  # reconnect backoff (meridian/daemon/backoff.py)
    retry_cap_s: float = 2.0


def head(record: bytes) -> pb.StreamRecordHead:
    """The fields of a relayed record that the link reads (its images are not parsed)."""
    return pb.StreamRecordHead.FromString(record)


# Writes are stamped before their batch commits; a heartbeat can overtake a commit in flight.
COMMIT_MARGIN_MS = 2000


def complete_through(batch: rpb.PullBatch) -> int:
    """The peer clock time before which all its writes are in this batch or earlier ones.

    Within an origin's stream its own writes are stamped in sequence order, so the last
    record bounds what came before; a caught-up heartbeat bounds everything up to when it
    was sent (less the commit margin).
    """
    through = hlc.physical_ms(head(batch.records[-1]).version.hlc) if batch.records else 0
    if batch.scanned_through >= batch.head_sequence_number:
        through = max(through, batch.sent_ms - COMMIT_MARGIN_MS)
    return through


RECEIVE_AHEAD = 16  # batches received while the previous one is being applied


async def _receive(
    call: AsyncIterator[rpb.PullBatch], queue: asyncio.Queue[rpb.PullBatch | Exception | None]
) -> None:
    """Read the pull stream into a queue, so receiving overlaps applying."""
    try:
        async for batch in call:
            await queue.put(batch)
        await queue.put(None)
    except Exception as exc:  # noqa: BLE001 - handed to the applying loop, which raises it
        await queue.put(exc)


class Silent(Exception):
    """Nothing, not even a heartbeat, arrived for too long: the connection is presumed dead."""


def idle_timeout(heartbeat_s: float) -> float:
    """How long a pull stream may stay silent: a few missed heartbeats, at least 2 s."""
    return max(2.0, 3 * heartbeat_s)


async def _merged(
    queue: asyncio.Queue[rpb.PullBatch | Exception | None], limit: int, idle_s: float
) -> AsyncGenerator[rpb.PullBatch, None]:
    """Batches from the queue, consecutive ones of a table merged up to `limit` records:
    when applying falls behind, each ApplyReplicated (one WriteBatch) carries more.

    A half-open connection (the peer's side gone after a partition) delivers nothing and
    reports no error; the idle deadline turns that silence into a reconnect."""
    held: rpb.PullBatch | Exception | None = None
    while True:
        try:
            item = held if held is not None else await asyncio.wait_for(queue.get(), idle_s)
        except TimeoutError:
            raise Silent(f"no batch or heartbeat for {idle_s:.1f} s; reconnecting") from None
        held = None
        if item is None:
            return
        if isinstance(item, Exception):
            raise item
        merged, ended = item, False
        while len(merged.records) < limit and not queue.empty():
            held = queue.get_nowait()
            ended = held is None  # the stream's end, after this batch
            if not isinstance(held, rpb.PullBatch) or held.table != merged.table:
                break
            merged.records.extend(held.records)
            merged.head_sequence_number = held.head_sequence_number
            merged.scanned_through = held.scanned_through
            merged.sent_ms = held.sent_ms
            held = None
        yield merged
        if ended:
            return


def state_after(reason: str | None) -> str:
    """The link state after a failed call with this reason: only a peer or node that says
    the positions no longer line up starts a resync; anything unexpected is a reconnect."""
    if reason == Reason.HANDSHAKE_REFUSED:
        return "REFUSED"
    if reason in (Reason.RESYNC_NEEDED, Reason.TRIMMED_DATA):
        return "RESYNC_NEEDED"
    return "DOWN"


def _retrieve(task: asyncio.Future[None]) -> None:
    if not task.cancelled():
        task.exception()


def _cancelled() -> bool:
    """Whether this task was asked to stop. gRPC can turn a cancellation that meets a call
    failing at the same moment into that call's error; a retry loop must still end."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def ended_a_run(streamed_s: float | None, heartbeat_s: float) -> bool:
    """Whether a session that streamed for `streamed_s` seconds (None: it never reached
    STREAMING) ends a run of failures: then the next reconnect waits the shortest backoff
    again and a peer's handshake may wake the link again. A session must stream as long as
    the idle deadline to count, so one that fails right after it starts (a peer refusing
    each pull, records rejected by this region's clock) keeps backing off."""
    return streamed_s is not None and streamed_s >= idle_timeout(heartbeat_s)


def wake_now(waiting: bool, woken: bool) -> bool:
    """Whether a peer's handshake ends the link's backoff wait: only while it waits, and
    once per run of failures (until it streams again). A peer that is down never calls, so
    it is never hammered; and two links that each fail right after their handshake cannot
    wake each other in a loop past their backoff."""
    return waiting and not woken


class Rebuild(Exception):
    """The peer dropped tombstones this region may still lack: resync with removal."""


class TablesChanged(Exception):
    """The tables both regions hold changed (created, deleted or re-created): the session
    starts over with the new set."""


class ClockRejected(Exception):
    """The peer sent records stamped too far in the future for this region's clock."""


class OutOfStep(Exception):
    """The node skipped a pipelined batch because one sent before it was not applied (the
    error of that one ends the session first; this is the guard behind it)."""


APPLY_AHEAD = 2  # batches of a link written to the node before the oldest result is back


@dataclass
class Sent:
    """A batch written to the node whose result is not back yet."""

    batch: rpb.PullBatch
    request: pb.ApplyReplicatedRelay


LAG_HISTORY = 120  # lag samples kept per link: a minute at the lag updater's pace


@dataclass
class LinkState:
    state: str = "CONNECTING"
    error: str = ""
    applied: int = 0
    conflicts: int = 0
    clock_rejected: int = 0
    reconnects: int = 0
    complete_ms: int = 0  # the target holds every peer write made up to this time
    pending: dict[str, int] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)  # table -> why it is left out
    lag_history: deque[float] = field(default_factory=lambda: deque(maxlen=LAG_HISTORY))


class Link:
    def __init__(
        self,
        *,
        peer: str,
        address: str,
        node: pb_grpc.ReplicationStub,
        region: str,
        members: list[str],
        settings: LinkSettings,
        metrics: ReplicatorMetrics,
        pins: Pins,
        dialer: Dialer,
    ) -> None:
        self.dialer = dialer
        self.peer = peer
        self.address = address
        self.node = node
        self.region = region
        self.members = members
        self.settings = settings
        self.metrics = metrics
        self.pins = pins
        self.status = LinkState(complete_ms=hlc.wall_ms())
        self._positions: dict[str, int] = {}
        self._unsaved: dict[str, int] = {}
        self._sent: dict[str, int] = {}  # table -> the checkpoint the batches sent bring
        self._logged = ("", "")
        self._resync_reason = ""
        self._progress_saved: dict[str, float] = {}
        self._applier = Applier(node)
        self._report: pb.PeerProgress | None = None  # the peer's, as last fetched
        self._complete: dict[str, int] = {}  # table -> complete_through_ms for the peer
        self._horizon = 0  # this region's rebuild horizon for the peer
        self._own = pb.GetCheckpointsResponse()  # this region's checkpoints, as last read
        self._rebuilt = 0  # the peer's horizon for this region, as last rebuilt against
        self._rebuilt_at = -math.inf  # monotonic time of that rebuild
        self._retry: asyncio.Event | None = None  # set while waiting to reconnect
        self._woken = False  # a peer's handshake cut a wait since the link last streamed
        self._streaming_since: float | None = None  # monotonic, in the current session

    def _set_state(self, state: str, error: str = "") -> None:
        """Record the link state; log changes once (transient states only at debug level)."""
        error = one_line(error)
        self.status.state, self.status.error = state, error
        if state == "STREAMING" and self._streaming_since is None:
            self._streaming_since = time.monotonic()
        self.metrics.set_state(self.peer, self.region, state)
        if state in ("CONNECTING", "HANDSHAKING") or (state, error) == self._logged:
            log.debug("link %s -> %s: %s %s", self.peer, self.region, state, error)
            return
        self._logged = (state, error)
        if error:
            log.warning("link %s -> %s: %s: %s", self.peer, self.region, state, error)
        else:
            log.info("link %s -> %s: %s", self.peer, self.region, state)

    def lag_seconds(self, now_ms: int) -> float:
        """How far behind this region may be: 0 while streaming, caught up and hearing
        heartbeats; otherwise the age of the last point known complete."""
        behind = max(0, now_ms - self.status.complete_ms)
        fresh = behind <= 3 * self.settings.heartbeat_s * 1000
        caught_up = not any(self.status.pending.values())
        if self.status.state == "STREAMING" and caught_up and fresh:
            return 0.0
        return behind / 1000

    async def run(self) -> None:
        """Keep the link up until cancelled."""
        attempt = 0
        while True:
            self._streaming_since = None
            try:
                await self._session()
            except Refused as exc:
                self.metrics.refusals.labels(self.peer, self.region, "target").inc()
                self._set_state("REFUSED", str(exc))
            except ClockRejected as exc:
                self._set_state("CLOCK_REJECTED", str(exc))
            except progress.Behind as exc:
                self._set_state("WAITING", str(exc))
            except Rebuild as exc:
                self._set_state("RESYNC_NEEDED", str(exc))
            except (Silent, OutOfStep) as exc:
                self._set_state("DOWN", str(exc))
            except TablesChanged as exc:
                log.info("link %s -> %s: %s; starting over", self.peer, self.region, exc)
                attempt = 0
                await asyncio.sleep(backoff.delay(0))
                continue
            except grpc.aio.AioRpcError as exc:
                self._on_rpc_error(exc)
            else:
                self._set_state("DOWN", "stream ended")
            if _cancelled():
                raise asyncio.CancelledError
            if ended_a_run(self._streamed_s(), self.settings.heartbeat_s):
                attempt, self._woken = 0, False
            self.status.reconnects += 1
            self.metrics.reconnects.labels(self.peer, self.region).inc()
            s = self.settings
            await self._wait_to_retry(backoff.delay(attempt, s.retry_base_s, s.retry_cap_s))
            attempt += 1

    def _streamed_s(self) -> float | None:
        """How long the session that just ended streamed (None: it never did)."""
        since = self._streaming_since
        return None if since is None else time.monotonic() - since

    def peer_is_up(self) -> None:
        """The peer just reached this region (its handshake, at its start or after a
        partition healed): a link waiting to reconnect tries now, not at the end of its
        backoff (wake_now)."""
        if wake_now(self._retry is not None, self._woken):
            self._woken = True
            assert self._retry is not None
            self._retry.set()

    async def _wait_to_retry(self, seconds: float) -> None:
        """Sleep `seconds`, or less if the peer is seen up meanwhile (peer_is_up)."""
        self._retry = asyncio.Event()
        try:
            await asyncio.wait_for(self._retry.wait(), seconds)
        except TimeoutError:
            pass
        finally:
            self._retry = None

    def _on_rpc_error(self, exc: grpc.aio.AioRpcError) -> None:
        details = exc.details() or exc.code().name
        state = state_after(reason_of(exc))
        self._set_state(state, details)
        if state == "RESYNC_NEEDED":
            self._resync_reason = details

    async def _session(self) -> None:
        self._set_state("CONNECTING", self.status.error)  # keep the last error visible
        async with self.dialer.channel(self.address, self.peer) as channel:
            peer = rpb_grpc.ReplicatorStub(channel)
            me = await local_identity(self.node)
            self._set_state("HANDSHAKING", self.status.error)
            response = await peer.Handshake(hello(me, self.peer), timeout=5)
            peer_identity = from_hello(response)
            check_peer(me, peer_identity, self.members, expected_region=self.peer)
            await self.pins.check(self.peer, peer_identity.node_id)
            me, theirs = await self._sync_catalog(peer, me, peer_identity.tables)
            me = self._shared(me, theirs)
            if not me.tables:  # nothing to pull yet: watch the catalogs until that changes
                self._set_state("STREAMING", "no table in common yet")
                await self._watch_catalog(peer, me, None)
                return
            await self._refresh_report(peer, me)
            await self._load_positions(me)
            await self._catch_up(peer, me)
            request = rpb.PullRequest(
                hello=hello(me, self.peer),
                max_batch=self.settings.batch_size,
                heartbeat_seconds=self.settings.heartbeat_s,
                positions=[
                    rpb.TablePosition(table=t, after_sequence_number=p)
                    for t, p in sorted(self._positions.items())
                ],
            )
            self._set_state("STREAMING", self._note(me))
            queue: asyncio.Queue[rpb.PullBatch | Exception | None] = asyncio.Queue(RECEIVE_AHEAD)
            reader = asyncio.ensure_future(_receive(peer.Pull(request), queue))
            reporter = asyncio.ensure_future(self._report_loop(peer, me, queue))
            watcher = asyncio.ensure_future(self._watch_catalog(peer, me, queue))
            try:
                await self._stream(queue)
            finally:
                reader.cancel()
                reporter.cancel()
                watcher.cancel()
                self._applier.close()

    async def _sync_catalog(
        self, peer: rpb_grpc.ReplicatorStub, me: Identity, theirs: Mapping[str, str]
    ) -> tuple[Identity, Mapping[str, str]]:
        """Merge the peer's table catalog into the node's (which creates, drops or sets
        aside local tables to match); returns both sides' tables as they are now. A peer of
        an older version has no catalog: its handshake's tables stand."""
        hello_msg = rpb.ProgressRequest(hello=hello(me, self.peer))
        try:
            catalog = await peer.Catalog(hello_msg, timeout=5)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            return me, theirs
        merge = pb.MergeCatalogRequest(source=self.peer, entries=catalog.entries)
        await self.node.MergeCatalog(merge, timeout=30)
        me = await local_identity(self.node)
        return me, {t.name: t.fingerprint for t in catalog.tables}

    def _shared(self, me: Identity, theirs: Mapping[str, str]) -> Identity:
        """This region's identity restricted to the tables that replicate on this link;
        the tables that differ are reported (LinkStatus.excluded_tables)."""
        shared, excluded = compare_tables(me.tables, theirs, self.peer)
        if excluded != self.status.excluded:
            for reason in excluded.values():
                log.warning("link %s -> %s: left out: %s", self.peer, self.region, reason)
        self.status.excluded = excluded
        for table in set(self.status.pending) - set(shared):
            del self.status.pending[table]
        return replace(me, tables={name: me.tables[name] for name in shared})

    async def _watch_catalog(
        self,
        peer: rpb_grpc.ReplicatorStub,
        session: Identity,
        queue: asyncio.Queue[Any] | None,
    ) -> None:
        """Merge the peer's catalog every heartbeat; when the tables this link carries
        change, end the session (through the batch queue, or by raising) to start over."""
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            try:
                me, theirs = await self._sync_catalog(peer, session, session.tables)
            except grpc.aio.AioRpcError as exc:
                if _cancelled():
                    raise asyncio.CancelledError from None
                log.debug("link %s -> %s: catalog: %s", self.peer, self.region, exc)
                continue
            now = self._shared(me, theirs)
            if now.tables != session.tables:
                changed = TablesChanged(
                    f"tables in common: {', '.join(sorted(now.tables)) or 'none'}"
                )
                if queue is None:
                    raise changed
                await queue.put(changed)
                return

    async def _refresh_report(self, peer: rpb_grpc.ReplicatorStub, me: Identity) -> None:
        """Fetch the peer's progress and store it in the node (tombstone collection). A peer
        of an older version has no Progress call: its tombstones then wait for the maximum
        lifetime, and streaming goes on."""
        try:
            report = await progress.fetch(peer, me, self.peer)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            self._report = None
            return
        await progress.record(self.node, report)
        self._report = report

    async def _catch_up(self, peer: rpb_grpc.ReplicatorStub, me: Identity) -> None:
        """Resync before streaming when a resync is due, when streaming would apply the
        peer's records older than this region's rebuild horizon for it, or when the peer
        dropped tombstones this region may still lack (a rebuild); never from a peer still
        behind this region's horizon for it (progress.Behind: the link waits)."""
        if not self._resync_reason and collection.behind(self._complete, me.tables, self._horizon):
            self._resync_reason = (
                f"tombstones older than {collection.clock_text(self._horizon)} went here "
                f"without {self.peer}'s confirmation: its older records are not streamed"
            )
        rebuild, theirs = self._rebuild_reason(self._own, me)
        self._resync_reason = self._resync_reason or rebuild
        if not self._resync_reason:
            return
        progress.check_source(self._horizon, self._report, self.members, me.tables)
        await self._resync(peer, me)
        if rebuild:
            self._rebuilt, self._rebuilt_at = max(self._rebuilt, theirs), time.monotonic()
        await self._load_positions(me)

    def _rebuild_reason(self, own: pb.GetCheckpointsResponse, me: Identity) -> tuple[str, int]:
        """progress.rebuild_reason, at most once per rebuild_every_s: a peer keeps raising its
        horizon while this region cannot pull from the deleting region, and each rebuild
        is a full copy."""
        if time.monotonic() - self._rebuilt_at < self.settings.rebuild_every_s:
            return "", 0
        return progress.rebuild_reason(
            self._report, self.region, own, self.members, me.tables, self._rebuilt
        )

    async def _report_loop(
        self, peer: rpb_grpc.ReplicatorStub, me: Identity, queue: asyncio.Queue[Any]
    ) -> None:
        """Keep the peer's report fresh while streaming; a failed fetch waits for the next.
        When the peer turns out to have dropped tombstones this region may still lack, end
        the session (through the batch queue) so that the next one rebuilds."""
        while True:
            await asyncio.sleep(progress.interval(self.settings.heartbeat_s))
            try:
                await self._refresh_report(peer, me)
                own = await self.node.GetCheckpoints(pb.GetCheckpointsRequest(), timeout=5)
            except grpc.aio.AioRpcError as exc:
                if _cancelled():
                    raise asyncio.CancelledError from None
                log.debug("link %s -> %s: progress report: %s", self.peer, self.region, exc)
                continue
            except Exception:
                log.exception("link %s -> %s: progress report failed", self.peer, self.region)
                continue
            self._own = own
            rebuild, _ = self._rebuild_reason(own, me)
            if rebuild:
                self._resync_reason = rebuild
                await queue.put(Rebuild(rebuild))
                return
            if self.status.state == "STREAMING":
                self._set_state("STREAMING", self._note(me))

    def _note(self, me: Identity) -> str:
        complete = min((self._complete.get(t, 0) for t in me.tables), default=0)
        return progress.note(
            self._report, self.region, self._horizon, complete, self.members, me.tables
        )

    async def _resync(self, peer: rpb_grpc.ReplicatorStub, me: Identity) -> None:
        """Merge the peer's snapshot and move its checkpoint past what the copy covers."""
        reason, self._resync_reason = self._resync_reason, ""
        self._set_state("RESYNCING", reason)
        self.metrics.resyncs.labels(self.peer, self.region).inc()
        state = await copy_from(
            node=self.node,
            peer=peer,
            me=me,
            source=self.peer,
            state=new_state(self.peer, reason),
            bootstrap=False,
            on_progress=lambda s, t: None,
            batch=self.settings.bootstrap_batch,
        )
        log.info(
            "link %s -> %s: resynced %d entries from a snapshot (%s)",
            self.peer,
            self.region,
            state.entries,
            reason,
        )

    async def _load_positions(self, me: Identity) -> None:
        response = await self.node.GetCheckpoints(pb.GetCheckpointsRequest(), timeout=5)
        self._positions = {name: 0 for name in me.tables}
        self._complete = {}
        for ckpt in response.checkpoints:
            if ckpt.origin == self.peer and ckpt.table in self._positions:
                self._positions[ckpt.table] = ckpt.sequence_number
                self._complete[ckpt.table] = ckpt.complete_through_ms
        self._horizon = progress.horizon_for(response.horizons, self.peer)
        self._own = response
        self._unsaved.clear()
        self._sent.clear()

    async def _stream(self, queue: asyncio.Queue[rpb.PullBatch | Exception | None]) -> None:
        """Apply the pulled batches in order with up to APPLY_AHEAD of them in flight: a batch
        goes to the node while the one before it is still being written, so it joins the
        next group commit instead of waiting a round trip. Batches that arrive while every
        slot is taken are merged into the next (coalescing only when work is waiting)."""
        in_flight: asyncio.Queue[Sent | None] = asyncio.Queue()
        slots = asyncio.Semaphore(APPLY_AHEAD)
        sender = asyncio.ensure_future(self._send(queue, in_flight, slots))
        completer = asyncio.ensure_future(self._take_results(in_flight, slots))
        try:
            done, _ = await asyncio.wait((sender, completer), return_when=asyncio.FIRST_COMPLETED)
            if completer in done:
                completer.result()  # it ends early only with an error
            sender.result()  # an error, or the pull stream ended: then finish what is in flight
            await completer
        finally:
            for task in (sender, completer):
                task.cancel()
                # Retrieved, now or when it ends (a write broken by the channel's close at
                # stop ends it after this): the first error is the one raised.
                task.add_done_callback(_retrieve)

    async def _send(
        self,
        queue: asyncio.Queue[rpb.PullBatch | Exception | None],
        in_flight: asyncio.Queue[Sent | None],
        slots: asyncio.Semaphore,
    ) -> None:
        """Write each batch that needs applying to the node as soon as a slot is free."""
        idle_s = idle_timeout(self.settings.heartbeat_s)
        batches = _merged(queue, self.settings.batch_size, idle_s)
        try:
            while True:
                await slots.acquire()
                batch = await anext(batches, None)
                if batch is None:
                    break
                request = self._request(batch)
                if request is None:
                    slots.release()
                    self._note_position(batch)
                    continue
                hop_trace.event(
                    "send",
                    request.origin,
                    request.table,
                    request.source_sequence,
                    len(request.records),
                )
                await self._applier.send(request)
                in_flight.put_nowait(Sent(batch, request))
        finally:
            await batches.aclose()
        in_flight.put_nowait(None)

    async def _take_results(
        self, in_flight: asyncio.Queue[Sent | None], slots: asyncio.Semaphore
    ) -> None:
        """Take the node's results in the order the batches were sent."""
        while (sent := await in_flight.get()) is not None:
            result = await self._applier.receive()
            slots.release()
            if result.skipped:
                raise OutOfStep(
                    f"the node skipped a batch of {sent.batch.table!r}: its checkpoint "
                    f"{result.checkpoint} is below {sent.request.after_checkpoint}"
                )
            self._applied(sent.batch, sent.request, result)
            self._note_position(sent.batch)

    def _request(self, batch: rpb.PullBatch) -> pb.ApplyReplicatedRelay | None:
        """The apply request for a batch: one with records, or a caught-up heartbeat now and
        then (to persist how far the stream was read, and when); None for other heartbeats."""
        table = batch.table
        idle = batch.scanned_through >= batch.head_sequence_number and (
            time.monotonic() - self._progress_saved.get(table, 0.0) >= self.settings.heartbeat_s
        )
        if not batch.records and not idle:
            return None
        self._progress_saved[table] = time.monotonic()
        after = self._sent.get(table, self._positions.get(table, 0))
        self._sent[table] = max(after, batch.scanned_through)
        return pb.ApplyReplicatedRelay(
            complete_through_ms=complete_through(batch),
            origin=self.peer,
            table=table,
            records=batch.records,
            source_sequence=batch.scanned_through,
            origin_node_id=batch.source_node_id,
            incarnation=batch.incarnation,
            after_checkpoint=after,
        )

    def _note_position(self, batch: rpb.PullBatch) -> None:
        """How far this table's stream was read and what is pending, after a batch."""
        table = batch.table
        if not batch.records and batch.scanned_through > self._positions.get(table, 0):
            self._unsaved[table] = max(self._unsaved.get(table, 0), batch.scanned_through)
        position = max(self._positions.get(table, 0), self._unsaved.get(table, 0))
        pending = max(0, batch.head_sequence_number - position)
        self.status.pending[table] = pending
        self.metrics.pending.labels(self.peer, self.region, table).set(pending)
        if all(v == 0 for v in self.status.pending.values()):
            self.status.complete_ms = max(self.status.complete_ms, batch.sent_ms)

    def _applied(
        self,
        batch: rpb.PullBatch,
        request: pb.ApplyReplicatedRelay,
        result: pb.ApplyReplicatedResponse,
    ) -> None:
        if not result.clock_rejected:
            complete = max(self._complete.get(batch.table, 0), request.complete_through_ms)
            self._complete[batch.table] = complete
        self._positions[batch.table] = result.checkpoint
        if self._unsaved.get(batch.table, 0) <= result.checkpoint:
            self._unsaved.pop(batch.table, None)
        self._account(batch, result)
        if result.clock_rejected:
            heads = map(head, batch.records)
            first = next(r for r in heads if r.sequence_number > result.checkpoint)
            ahead = hlc.ahead_ms(first.version.hlc, hlc.wall_ms())
            raise ClockRejected(
                f"{result.clock_rejected} record(s) stamped {ahead} ms ahead of this region's "
                f"clock (max_clock_offset {self.settings.max_clock_offset_ms} ms); retrying"
            )

    def _account(self, batch: rpb.PullBatch, result: pb.ApplyReplicatedResponse) -> None:
        m, src, dst = self.metrics, self.peer, self.region
        now = hlc.wall_ms()
        processed = [head(r) for r in batch.records[: len(batch.records) - result.clock_rejected]]
        histogram = m.latency.labels(src, dst)
        for record in processed:
            histogram.observe(max(0, now - record.creation_time_ms) / 1000)
        if processed:
            self.status.complete_ms = max(self.status.complete_ms, processed[-1].creation_time_ms)
        m.applied.labels(src, dst).inc(result.applied)
        self.status.applied += result.applied
        losses = result.lost_to_newer
        if losses:
            m.conflicts.labels(src, dst, "lost_to_newer").inc(losses)
        self.status.conflicts += losses
        if result.clock_rejected:
            self.status.clock_rejected += result.clock_rejected
            m.clock_rejections.labels(src, dst).inc(result.clock_rejected)
