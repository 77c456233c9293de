"""Raw limits of this machine, measured in the same run as the product figures.

- RocksDB: WriteBatch of 1000 (item, stream record) pairs with realistic values, WAL on,
  without and with an fsync per batch; random point gets.
- protobuf: encode + decode of one stream record.
- gRPC (a server in its own process, byte-level handlers): unary round trip p50/p99 one call
  at a time and the server's CPU per call, unary calls/s with many calls in flight, the round
  trip and server CPU per message on an open bidirectional stream, and server-streaming
  records/s with 100-record SubscribeBatch messages.
"""

from __future__ import annotations

import asyncio
import pathlib
import random
import shutil
import time
from collections.abc import Awaitable

import grpc
import rocksdict

from bench.cluster import bench_process
from bench.profile import Profile
from bench.samples import stored_item, stream_record
from bench.stats import summary_ms
from bench.workload import TABLE, key_parts
from meridian.pb import node_pb2 as pb
from regionnode.store import stream_key
from tests.harness import Process, free_port, python_argv

PAIRS_PER_BATCH = 1000
RECORDS_PER_MESSAGE = 100


def _item_key(n: int) -> bytes:
    pk, sk = key_parts(n)
    return b"i" + TABLE.encode() + b"\x00" + pk.encode() + b"\x00" + sk.to_bytes(8, "big")


def rocksdb(path: pathlib.Path, batches: int, sync_batches: int, gets: int) -> dict:
    """Pairs/s for WriteBatches of 1000 item + stream-record pairs, and point gets/s."""
    item_value = stored_item(1).SerializeToString()
    record_value = stream_record(1).SerializeToString()
    options = rocksdict.Options(raw_mode=True)
    options.create_if_missing(True)
    options.increase_parallelism(2)
    db = rocksdict.Rdict(str(path), options)
    result: dict = {"item_bytes": len(item_value), "record_bytes": len(record_value)}
    try:
        seq = 0
        for sync, count, name in ((False, batches, "buffered"), (True, sync_batches, "fsync")):
            write_options = rocksdict.WriteOptions()
            write_options.sync = sync
            start = time.perf_counter()
            for _ in range(count):
                batch = rocksdict.WriteBatch(raw_mode=True)
                for _ in range(PAIRS_PER_BATCH):
                    seq += 1
                    batch.put(_item_key(seq), item_value)
                    batch.put(stream_key(TABLE, seq), record_value)
                db.write(batch, write_options)
            elapsed = time.perf_counter() - start
            result[f"writebatch_pairs_per_s_{name}"] = count * PAIRS_PER_BATCH / elapsed
        keys = [_item_key(random.randint(1, seq)) for _ in range(gets)]
        start = time.perf_counter()
        for k in keys:
            db.get(k)
        result["point_gets_per_s"] = gets / (time.perf_counter() - start)
    finally:
        db.close()
        shutil.rmtree(path, ignore_errors=True)
    return result


def protobuf(iterations: int) -> dict:
    """Encode + decode of one stream record (about 300 bytes), messages/s."""
    record = stream_record(42)
    decode = pb.StreamRecord.FromString
    start = time.perf_counter()
    for _ in range(iterations):
        decode(record.SerializeToString())
    elapsed = time.perf_counter() - start
    return {"record_bytes": record.ByteSize(), "encode_decode_per_s": iterations / elapsed}


async def _unary(channel: grpc.aio.Channel, calls: int, concurrency: int) -> dict:
    echo = channel.unary_unary("/bench.Raw/Echo")
    payload = b"x" * 100
    for _ in range(50):  # warm up
        await echo(payload)
    latencies: list[float] = []
    start = time.perf_counter()

    async def worker(n: int) -> None:
        for _ in range(n):
            t = time.perf_counter()
            await echo(payload)
            latencies.append((time.perf_counter() - t) * 1000)

    await asyncio.gather(*(worker(calls // concurrency) for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return {"calls_per_s": len(latencies) / elapsed, "latency_ms": summary_ms(latencies)}


async def _server_cpu_us(server: Process, calls: int, run: Awaitable[dict]) -> dict:
    """Run a measurement and add the server process's CPU per call (user + system)."""
    before = server.cpu_seconds()
    result = await run
    return {**result, "server_cpu_us_per_call": (server.cpu_seconds() - before) / calls * 1e6}


async def _bidi(channel: grpc.aio.Channel, messages: int) -> dict:
    """Ping-pong on one open bidirectional stream: what a message costs without a call."""
    call = channel.stream_stream("/bench.Raw/Bidi")()
    payload = b"x" * 100
    for _ in range(50):  # warm up
        await call.write(payload)
        await call.read()
    latencies: list[float] = []
    start = time.perf_counter()
    for _ in range(messages):
        t = time.perf_counter()
        await call.write(payload)
        await call.read()
        latencies.append((time.perf_counter() - t) * 1000)
    elapsed = time.perf_counter() - start
    await call.done_writing()
    return {"messages_per_s": messages / elapsed, "latency_ms": summary_ms(latencies)}


async def _stream(channel: grpc.aio.Channel, messages: int) -> dict:
    call = channel.unary_stream("/bench.Raw/Stream")
    received = 0
    async for _ in call(b"10"):  # warm up
        pass
    start = time.perf_counter()
    async for _ in call(str(messages).encode()):
        received += 1
    elapsed = time.perf_counter() - start
    return {
        "messages_per_s": received / elapsed,
        "records_per_s": received * RECORDS_PER_MESSAGE / elapsed,
    }


async def grpc_limits(
    logs: pathlib.Path, unary_calls: int, concurrency: int, stream_messages: int
) -> dict:
    port = free_port()
    address = f"127.0.0.1:{port}"
    argv = python_argv("bench.rawserver", "--port", str(port))
    server = bench_process("raw-grpc-server", argv, logs).start()
    try:
        await server.wait_serving_async(address)
        async with grpc.aio.insecure_channel(address) as channel:
            sequential = await _server_cpu_us(
                server, unary_calls + 50, _unary(channel, unary_calls, 1)
            )
            saturated = await _unary(channel, unary_calls * 2, concurrency)
            bidi = await _server_cpu_us(server, unary_calls + 50, _bidi(channel, unary_calls))
            stream = await _stream(channel, stream_messages)
        return {
            "unary_sequential": sequential,
            "unary_saturated": {**saturated, "concurrency": concurrency},
            "bidi_sequential": bidi,
            "stream": {**stream, "records_per_message": RECORDS_PER_MESSAGE},
            "server_peak_rss_kb": server.peak_rss(),
        }
    finally:
        server.stop()


async def measure(work: pathlib.Path, p: Profile) -> dict:
    return {
        "rocksdb": rocksdb(work / "raw-rocksdb", p.raw_batches, p.raw_sync_batches, p.raw_gets),
        "protobuf": protobuf(p.raw_pb_iterations),
        "grpc": await grpc_limits(
            work / "logs", p.raw_unary_calls, p.concurrency, p.raw_stream_messages
        ),
    }
