"""`python -m bench.loadgen`: offered write load at a fixed rate, spread over regions.

Runs in its own process so the harness that timestamps replicated records stays idle. Every
10 ms each region gets one BatchWriteItem with the writes due since the last tick (clients
that batch for up to 10 ms); one process of this machine cannot issue thousands of single
PutItem calls per second (see docs/performance.md). Keys are random over `--keys` key
numbers, per region (`--prefix region`) or shared by all regions (`--prefix shared`, for
conflicting writes). A JSON summary is written to `--result`. Channels follow the group file
(`--config`): TLS when it has a `tls` section, every call signed with the access key in
MERIDIAN_ACCESS_KEY_ID / MERIDIAN_SECRET_ACCESS_KEY when those are set.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import random
import time

import grpc

from bench import workload
from bench.stats import summary_ms
from meridian.config import load
from meridian.security.dial import Dialer

TICK_S = 0.01
MAX_IN_FLIGHT = 32  # requests per region; when reached the generator falls behind


class RegionLoad:
    def __init__(
        self, channel: grpc.aio.Channel, prefix: str, rate: float, keys: int, seed: int
    ) -> None:
        self.channel = channel
        self.call = workload.raw_method(self.channel, "BatchWriteItem")
        self.prefix = prefix
        self.rate = rate
        self.keys = keys
        self.random = random.Random(seed)
        self.slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.tasks: set[asyncio.Task[None]] = set()
        self.sent = self.acked = self.errors = self.requests = 0
        self.latencies: list[float] = []
        # Every load starts where no earlier load went (keys repeat across loads, as the
        # seeds do): a write equal to the stored item would be a no-op with no record.
        self.seq = time.time_ns()

    def _numbers(self, count: int) -> list[int]:
        count = min(count, self.keys)
        chosen: set[int] = set()
        while len(chosen) < count:
            chosen.add(self.random.randrange(self.keys))
        return list(chosen)

    async def _send(self, request: bytes, items: int) -> None:
        start = time.perf_counter()
        try:
            await self.call(request, timeout=60)
            self.acked += items
            self.latencies.append((time.perf_counter() - start) * 1000)
        except grpc.aio.AioRpcError:
            self.errors += items
        finally:
            self.slots.release()

    async def run(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        tick = 0
        while (now := loop.time()) - start < seconds:
            due = int(self.rate * (now - start)) - self.sent
            while due > 0:
                count = min(due, 1000, self.keys)
                self.seq += 1
                request = workload.batch_request(self._numbers(count), self.seq, self.prefix)
                await self.slots.acquire()
                task = asyncio.create_task(self._send(request, count))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
                self.sent += count
                self.requests += 1
                due -= count
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * TICK_S - loop.time()))
        if self.tasks:
            await asyncio.gather(*self.tasks)
        await self.channel.close()


def dialer(config: pathlib.Path) -> Dialer:
    client = Dialer(load(config))
    key_id, secret = (
        os.environ.get("MERIDIAN_ACCESS_KEY_ID"),
        os.environ.get("MERIDIAN_SECRET_ACCESS_KEY"),
    )
    return client.with_access_key(key_id, secret) if key_id and secret else client


async def main_async(args: argparse.Namespace) -> dict:
    endpoints = args.endpoints.split(",")
    regions = args.regions.split(",")
    rate = args.rate / len(endpoints)
    client = dialer(args.config)
    loads = [
        RegionLoad(
            client.channel(e, r),
            f"{r}-" if args.prefix == "region" else "x-",
            rate,
            args.keys,
            i + 1,
        )
        for i, (e, r) in enumerate(zip(endpoints, regions, strict=True))
    ]
    start_ms = time.time_ns() / 1e6
    start = time.perf_counter()
    await asyncio.gather(*(load.run(args.seconds) for load in loads))
    elapsed = time.perf_counter() - start
    acked = sum(load.acked for load in loads)
    return {
        "offered_per_s": args.rate,
        "seconds": elapsed,
        "start_ms": start_ms,
        "end_ms": time.time_ns() / 1e6,
        "sent": sum(load.sent for load in loads),
        "acked": acked,
        "errors": sum(load.errors for load in loads),
        "requests": sum(load.requests for load in loads),
        "achieved_per_s": acked / elapsed,
        "cpu_s": time.process_time(),
        "batch_latency_ms": summary_ms([x for load in loads for x in load.latencies]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    parser.add_argument("--endpoints", required=True, help="node addresses, comma-separated")
    parser.add_argument("--regions", required=True, help="region names, same order")
    parser.add_argument("--rate", type=float, required=True, help="writes/s over all regions")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--prefix", choices=("region", "shared"), default="region")
    parser.add_argument("--result", required=True)
    parser.add_argument("--config", required=True, type=pathlib.Path, help="the group file")
    args = parser.parse_args()
    result = asyncio.run(main_async(args))
    with open(args.result, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
