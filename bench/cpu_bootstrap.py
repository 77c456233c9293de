"""CPU time per entry of a bootstrap copy, in one process, without gRPC (part of bench/cpu.py).

Each hop of the copy as the processes do it, over the same items: the source node reads its
checkpoint into SnapshotBatch messages and serializes them (`source`); the replicator parses
them, counts the progress and builds and serializes the ApplySnapshotRequests (`relay`, done
twice in a real copy: each side's replicator, roughly); the target node parses each request,
checks it and commits it through its writer into an empty table (`target`). Measured for
both forms of the copy: decoded entries (`entries`, a merge entry by entry) and stored bytes
(`stored`, what a bootstrap uses; stored as they are into an empty table).
"""

from __future__ import annotations

import pathlib
import time
from collections.abc import Callable
from typing import Any

from bench import workload
from meridian.pb import node_pb2 as pb
from regionnode.snapshot import stream_snapshot
from regionnode.snapshot_merge import SnapshotOp, entry_key, snapshot_removal
from regionnode.stored_copy import decode
from replicator import bootstrap

KEY_NAMES = ["pk", "sk"]


async def _source(node: Any, stored_bytes: bool) -> list[bytes]:
    request = pb.SnapshotRequest(
        table=workload.TABLE, batch_items=bootstrap.BATCH_ENTRIES, stored_bytes=stored_bytes
    )
    batches = stream_snapshot(node.store, node.region, node.table, request)
    return [batch.SerializeToString() async for batch in batches]


def _relay(batches: list[bytes]) -> list[bytes]:
    """What the pulling replicator does with each batch (replicator/bootstrap.py)."""
    work = pb.BootstrapState()
    rng = pb.SnapshotRange(source="source", session="s")
    out = []
    for data in batches:
        batch = pb.SnapshotBatch.FromString(data)
        covered = pb.SnapshotRange()
        covered.CopyFrom(rng)
        covered.to_end = batch.done
        if batch.entries or batch.stored:
            bootstrap.count(work, workload.TABLE, batch, KEY_NAMES)
            rng.after.CopyFrom(work.resume_after[workload.TABLE])
        request = pb.ApplySnapshotRequest(
            table=workload.TABLE,
            entries=batch.entries,
            range=covered,
            keys=batch.keys,
            stored=batch.stored,
            progress=work,
        )
        out.append(request.SerializeToString())
    return out


async def _target(node: Any, requests: list[bytes]) -> int:
    """What the target node's ApplySnapshot does (regionnode/replication_service.py)."""
    applied = 0
    for data in requests:
        req = pb.ApplySnapshotRequest.FromString(data)
        stored = list(req.stored) if req.stored else None
        if stored is not None:
            keys = list(req.keys)
            entries = decode(node.table, keys, stored)
        else:
            entries = list(req.entries)
            keys = [entry_key(node.table, i, e) for i, e in enumerate(entries)]
        removal = snapshot_removal(node.region, node.table, req, keys)
        op = SnapshotOp(node.table, entries, keys, req.progress, [], removal, stored)
        response = await node.writer.submit(op)
        assert isinstance(response, pb.ApplySnapshotResponse)
        applied += response.applied
    return applied


async def measure_bootstrap(
    work: pathlib.Path, rounds: int, items: int, new_node: Callable[[pathlib.Path, str], Any]
) -> dict[str, Any]:
    """CPU µs per entry of each hop, median over rounds, each round into a new empty node."""
    source = new_node(work / "snapshot-source", "us-east")
    source.start()
    try:
        for numbers in workload.chunks(items, 1000):
            await source.items.batch_write(
                source.table, [(workload.item(n, 1), None) for n in numbers]
            )
        out: dict[str, Any] = {}
        for form, stored_bytes in (("entries", False), ("stored", True)):
            parts: dict[str, list[float]] = {"source": [], "relay": [], "target": []}
            for index in range(rounds):
                target = new_node(work / f"snapshot-{form}-{index}", "eu-west")
                target.start()
                try:
                    t0 = time.process_time()
                    batches = await _source(source, stored_bytes)
                    t1 = time.process_time()
                    requests = _relay(batches)
                    t2 = time.process_time()
                    assert await _target(target, requests) == items
                    t3 = time.process_time()
                finally:
                    await target.close()
                for name, spent in zip(parts, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                    parts[name].append(spent / items * 1e6)
            medians = {name: round(sorted(v)[len(v) // 2], 2) for name, v in parts.items()}
            out[form] = {"us": round(sum(medians.values()), 2), "parts_us": medians}
        return out
    finally:
        await source.close()
