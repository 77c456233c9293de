"""CPU time per record of the node's hot paths, in one process, without gRPC.

Run: ``.venv/bin/python -m bench.cpu [--rounds N] [--part apply|local|conversions|bootstrap|door]
[--profile FILE]`` (a few seconds), or
``make bench ARGS="--only cpu"``. Measured with `time.process_time` (CPU of this process,
every thread), so other processes on a shared machine do not change the figures; each figure
is the median over rounds of microseconds per record (or item, or call).

- replicated apply: a peer's stream records (written by a real origin store through the
  writer) as the node receives them: the request decoded from its bytes (an
  ApplyReplicatedBatch, as the node's peer door reads it: records left as bytes), the
  record checks (`scan_records`), then the writer (LWW read, stored item, own stream record,
  commit to RocksDB, buffered). Inserts (new keys), then modifies (the same keys again). Then
  the target's stream read by a subscription for its own region's records (its replicator's),
  which finds none: the cost per record of other regions' writes to each such subscription.
- PutItem: a PutItemRequest decoded, then `ItemOps.put_item`, one commit per put
  (sequential); BatchWriteItem: a request of 1000 puts decoded, then `ItemOps.batch_write`;
  UpdateItem (a condition, SET with arithmetic, ADD) decoded, its expressions compiled (the
  cached template, as every request), then `ItemOps.update_item`, one commit per update.
- conversions: DynamoDB JSON <-> protobuf item (`from_typed`, `to_typed`), and protobuf
  parse + serialize of an item and of a stream record.
- bootstrap: each hop of a copy into an empty table, per entry (`bench/cpu_bootstrap.py`).
- door: a PutItem through the client door's handler (edge, `rpc`, metrics, encode) against
  the same puts through `ItemOps` directly (`bench/cpu_door.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pathlib
import pstats
import statistics
import tempfile
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from bench import workload
from bench.cpu_bootstrap import measure_bootstrap
from bench.cpu_door import measure_door
from meridian.expressions import compile_request
from meridian.model import hlc, schema
from meridian.model.item_bytes import item_bytes_valid
from meridian.model.items import from_typed, to_typed, validate_item
from meridian.pb import node_pb2 as pb
from regionnode.item_ops import ItemOps, WriteOptions, key_schema
from regionnode.replicated_apply import ApplyOp, scan_records
from regionnode.store import Store, Table
from regionnode.stream import MAX_RECORDS, Streams
from regionnode.writer import Writer

BATCH = 1000  # records per ApplyReplicatedRequest, puts per BatchWriteItem
ORIGIN, TARGET = "us-east", "eu-west"
SPEC = pb.TableSpec(
    name=workload.TABLE,
    partition_key=pb.KeyAttribute(name="pk", type=pb.KEY_TYPE_S),
    sort_key=pb.KeyAttribute(name="sk", type=pb.KEY_TYPE_N),
    view_type=pb.NEW_AND_OLD_IMAGES,
)


class Node:
    """A store, its writer task and the item operations: the node without its doors."""

    def __init__(self, path: pathlib.Path, region: str) -> None:
        self.region = region
        self.store = Store(path, sync=False)
        spec = pb.TableSpec()
        spec.CopyFrom(SPEC)
        desc = pb.TableDescription(
            spec=spec, stream_id="s1", schema_fingerprint=schema.fingerprint(spec)
        )
        self.store.put_table(Table(schema.Schema(spec), desc))
        self.table = self.store.tables[SPEC.name]
        self.writer = Writer(
            self.store, hlc.HybridClock(0), region, lambda _heads: None, lambda _c: None
        )
        self.items = ItemOps(self.store, self.writer)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.writer.run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self.store.close()


def _per_unit(samples: list[float]) -> dict[str, Any]:
    return {"us": round(statistics.median(samples), 2), "rounds": [round(s, 2) for s in samples]}


async def _timed(step: Callable[[], Awaitable[int]], rounds: int) -> dict[str, Any]:
    """Median CPU microseconds per unit; `step` does one round and returns its unit count."""
    samples = []
    for _ in range(rounds):
        start = time.process_time()
        units = await step()
        samples.append((time.process_time() - start) / units * 1e6)
    return _per_unit(samples)


def _sync_timed(step: Callable[[], int], rounds: int) -> dict[str, Any]:
    samples = []
    for _ in range(rounds):
        start = time.process_time()
        units = step()
        samples.append((time.process_time() - start) / units * 1e6)
    return _per_unit(samples)


async def _origin_requests(origin: Node, records: int) -> list[bytes]:
    """Serialized ApplyReplicatedRequests carrying the origin's stream, `records` records:
    the keys written once (INSERT at the target), then again (MODIFY)."""
    half = records // 2
    for seq in (1, 2):
        for numbers in workload.chunks(half, BATCH):
            puts = [(workload.item(n, seq), None) for n in numbers]
            await origin.items.batch_write(origin.table, puts)
    raw = origin.store.read_stream(SPEC.name, 0, records)
    requests = []
    for start in range(0, len(raw), BATCH):
        req = pb.ApplyReplicatedRequest(table=SPEC.name, origin=ORIGIN)
        for data in raw[start : start + BATCH]:
            req.records.add().ParseFromString(data)
        req.source_sequence = req.records[-1].sequence_number
        requests.append(req.SerializeToString())
    return requests


async def _apply(target: Node, requests: list[bytes], parts: dict[str, float]) -> int:
    members = frozenset((TARGET, ORIGIN))
    count = 0
    for data in requests:
        t0 = time.process_time()
        req = pb.ApplyReplicatedBatch.FromString(data)
        t1 = time.process_time()
        records = scan_records(TARGET, members, target.table, req)
        t2 = time.process_time()
        op = ApplyOp(target.table, req.origin, records, 10_000, 0)
        response = await target.writer.submit(op)
        t3 = time.process_time()
        assert isinstance(response, pb.ApplyReplicatedResponse)
        assert response.applied == len(req.records), response
        parts["decode"] += t1 - t0
        parts["check"] += t2 - t1
        parts["writer"] += t3 - t2
        count += len(req.records)
    return count


async def _scan_stream(node: Node) -> int:
    """Read the node's whole stream through a subscription for its own region's records, as
    its replicator does; the stream holds only the peer's records, so none is sent."""
    streams = Streams(node.store)
    head = node.table.head
    request = pb.SubscribeRequest(table=SPEC.name, origin=node.region, max_batch=MAX_RECORDS)
    subscription = streams.subscribe(request)
    assert isinstance(subscription, AsyncGenerator)  # closed at the end, not left to the GC
    try:
        async for batch in subscription:
            assert not batch.records
            if batch.scanned_through >= head:
                return head
    finally:
        await subscription.aclose()
    raise AssertionError("the subscription ended early")


async def measure_apply(work: pathlib.Path, rounds: int, per_round: int) -> dict[str, Any]:
    origin, target = Node(work / "origin", ORIGIN), Node(work / "target", TARGET)
    origin.start()
    target.start()
    try:
        requests = await _origin_requests(origin, 2 * rounds * per_round)
        per = per_round // BATCH
        out: dict[str, Any] = {}
        for kind, offset in (("insert", 0), ("modify", rounds * per)):
            parts = {"decode": 0.0, "check": 0.0, "writer": 0.0}
            queue = iter(range(offset, offset + rounds * per, per))

            async def step(parts: dict[str, float] = parts, queue: Any = queue) -> int:
                first = next(queue)
                return await _apply(target, requests[first : first + per], parts)

            out[kind] = await _timed(step, rounds)
            records = rounds * per * BATCH
            out[kind]["parts_us"] = {k: round(v / records * 1e6, 2) for k, v in parts.items()}
        out["subscribe_other_origin"] = await _timed(lambda: _scan_stream(target), rounds)
        return out
    finally:
        await origin.close()
        await target.close()


def _update_request() -> bytes:
    """An UpdateItem of the items PutItem wrote: a condition, a SET with arithmetic, an ADD."""
    req = pb.UpdateItemRequest(
        table=SPEC.name,
        update_expression="SET seq = seq + :one, note = :s ADD visits :one",
        condition_expression="attribute_exists(pk) AND currency = :c",
    )
    values = req.expression_attribute_values
    values[":one"].n, values[":s"].s, values[":c"].s = "1", "SHIPPED", "EUR"
    return req.SerializeToString()


async def measure_local(work: pathlib.Path, rounds: int, puts: int) -> dict[str, Any]:
    node = Node(work / "local", TARGET)
    node.start()
    counter = iter(range(1, 1 << 30))
    try:

        async def put_step() -> int:
            seq = next(counter)
            for n in range(puts):
                req = pb.PutItemRequest.FromString(workload.put_request(n, seq))
                await node.items.put_item(node.table, req.item, WriteOptions())
            return puts

        async def batch_step() -> int:
            seq = next(counter)
            data = [workload.batch_request(ns, seq) for ns in workload.chunks(5 * BATCH, BATCH)]
            for raw in data:
                req = pb.BatchWriteItemRequest.FromString(raw)
                await node.items.batch_write(node.table, [(w.put, None) for w in req.writes])
            return 5 * BATCH

        async def update_step() -> int:
            for n in range(puts):
                req = pb.UpdateItemRequest.FromString(update)
                expressions = compile_request(
                    "UpdateItem",
                    update=req.update_expression,
                    condition=req.condition_expression,
                    values=dict(req.expression_attribute_values),
                    schema=key_schema(node.table),
                )
                key = workload.key(n)
                await node.items.update_item(node.table, key, WriteOptions(expressions))
            return puts

        update = _update_request()
        return {
            "put_item": await _timed(put_step, rounds),
            "batch_write": await _timed(batch_step, rounds),
            "update_item": await _timed(update_step, rounds),
        }
    finally:
        await node.close()


def measure_conversions(rounds: int, calls: int) -> dict[str, Any]:
    item = workload.item(123, 7)
    typed = to_typed(item)
    data = item.SerializeToString()
    record = pb.StreamRecord(event_name=pb.MODIFY, sequence_number=9, table=SPEC.name)
    record.keys.CopyFrom(workload.key(123))
    record.new_image.CopyFrom(item)
    record.old_image.CopyFrom(item)
    record_data = record.SerializeToString()

    def loop(function: Callable[[], object]) -> Callable[[], int]:
        def step() -> int:
            for _ in range(calls):
                function()
            return calls

        return step

    return {
        "from_typed": _sync_timed(loop(lambda: from_typed(typed)), rounds),
        "to_typed": _sync_timed(loop(lambda: to_typed(item)), rounds),
        "item_parse_serialize": _sync_timed(
            loop(lambda: pb.Item.FromString(data).SerializeToString()), rounds
        ),
        "record_parse_serialize": _sync_timed(
            loop(lambda: pb.StreamRecord.FromString(record_data).SerializeToString()), rounds
        ),
        **_item_checks(data, rounds, loop),
    }


def _item_checks(
    data: bytes, rounds: int, loop: Callable[[Callable[[], object]], Callable[[], int]]
) -> dict[str, Any]:
    """A freshly parsed item checked by validate_item, or serialized again and checked by
    item_bytes_valid (compiled unless MERIDIAN_ITEM_CHECK=python)."""
    return {
        "item_parse_validate": _sync_timed(
            loop(lambda: validate_item(pb.Item.FromString(data))), rounds
        ),
        "item_parse_serialize_bytes_check": _sync_timed(
            loop(lambda: item_bytes_valid(pb.Item.FromString(data).SerializeToString())), rounds
        ),
    }


PARTS = ("apply", "local", "conversions", "bootstrap", "door")


async def measure(
    work: pathlib.Path, rounds: int = 5, smoke: bool = False, parts: tuple[str, ...] = PARTS
) -> dict[str, Any]:
    """The figures of `parts`; `smoke` only checks that each path runs (tiny rounds)."""
    per_round, puts, calls = (BATCH, 50, 100) if smoke else (5 * BATCH, 1000, 5000)
    out: dict[str, Any] = {"unit": "CPU us per record (median of rounds)", "rounds": rounds}
    if "apply" in parts:
        out["apply"] = await measure_apply(work, rounds, per_round)
    if "local" in parts:
        out["local"] = await measure_local(work, rounds, puts)
    if "conversions" in parts:
        out["conversions"] = measure_conversions(rounds, calls)
    if "bootstrap" in parts:
        out["bootstrap"] = await measure_bootstrap(work, rounds, 4 * per_round, Node)
    if "door" in parts:
        out["door"] = await _measure_door(work, rounds, puts)
    return out


async def _measure_door(work: pathlib.Path, rounds: int, puts: int) -> dict[str, Any]:
    """PutItem through the client door's handler and directly (bench/cpu_door.py)."""
    node = Node(work / "door", TARGET)
    node.start()
    try:
        return await measure_door(lambda step: _timed(step, rounds), node, puts)
    finally:
        await node.close()


def print_figures(result: dict[str, Any]) -> None:
    lines = []
    for kind in ("insert", "modify") if "apply" in result else ():
        r = result["apply"][kind]
        parts = ", ".join(f"{k} {v:.1f}" for k, v in r["parts_us"].items())
        lines.append((f"replicated apply, {kind} (record)", r["us"], parts))
    if "apply" in result:
        us = result["apply"]["subscribe_other_origin"]["us"]
        lines.append(("own-origin subscription, peer's records (record)", us, ""))
    if "local" in result:
        lines.append(("PutItem, sequential (put)", result["local"]["put_item"]["us"], ""))
        lines.append(("BatchWriteItem, 1000 puts (item)", result["local"]["batch_write"]["us"], ""))
        lines.append(("UpdateItem, sequential (update)", result["local"]["update_item"]["us"], ""))
    for name, r in result.get("conversions", {}).items():
        lines.append((name.replace("_", " ") + " (call)", r["us"], ""))
    for form, r in result.get("bootstrap", {}).items():
        parts = ", ".join(f"{k} {v:.1f}" for k, v in r["parts_us"].items())
        lines.append((f"bootstrap copy, {form} (entry)", r["us"], parts))
    if "door" in result:
        door = result["door"]
        note = (
            f"ItemOps directly {door['direct']['us']:.1f}, the door's layers {door['door_us']:.1f}"
        )
        lines.append(("PutItem through the door's handler (put)", door["put_item"]["us"], note))
    width = max(len(name) for name, _, _ in lines)
    for name, us, note in lines:
        print(f"{name:<{width}}  {us:8.2f} us CPU  {note}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--part", choices=PARTS, action="append", help="only these (repeatable)")
    parser.add_argument("--profile", help="write cProfile stats of one run here (and top 25)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="meridian-cpu-") as tmp:
        profiler = cProfile.Profile() if args.profile else None
        if profiler is not None:
            profiler.enable()
        parts = tuple(args.part or PARTS)
        result = asyncio.run(measure(pathlib.Path(tmp), args.rounds, parts=parts))
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
            pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)
    print_figures(result)


if __name__ == "__main__":
    main()
