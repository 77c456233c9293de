"""`python -m bench.peerload`: offered write load at a fixed rate on a peer system.

The peers' counterpart of bench/loadgen.py, paced the same way: every 10 ms one request
carries the writes due since the last tick (a client batching for up to 10 ms), keys random
over `--keys` key numbers, so that inserts and updates mix as in Meridian's load. The write
time is stamped by the server that accepts the write, as Meridian's node stamps its version:
  postgres: one autocommit upsert statement per tick, each row's `written_at` set to the
            publisher's clock_timestamp() as the row is written (before the commit);
  redis:    one Lua script per tick that reads the primary's TIME, SETs every key and then
            PUBLISHes "<time in us> <number of keys>" on the lag channel; the replica
            replays the script's effects in order, so the message reaches a subscriber of
            the replica once the keys are applied there.
A JSON summary is written to `--result` (the same fields as bench/loadgen.py's).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import time
from collections.abc import Callable, Iterator

from bench.stats import summary_ms

TICK_S = 0.01
MAX_BATCH = 1000
VALUE_BYTES = 200  # about the size of Meridian's benchmark item
LAG_CHANNEL = "lag"

PG_TABLE = "lag_rows"
PG_UPSERT = (
    f"INSERT INTO {PG_TABLE} (k, v, written_at) "
    "SELECT k, %(v)s, clock_timestamp() FROM unnest(%(keys)s::bigint[]) AS k "
    "ON CONFLICT (k) DO UPDATE SET v = excluded.v, written_at = excluded.written_at"
)
REDIS_SCRIPT = """
local t = redis.call('TIME')
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[1]) end
redis.call('PUBLISH', ARGV[2], t[1] .. string.format('%06d', tonumber(t[2])) .. ' ' .. #KEYS)
return #KEYS
"""


def due(rate: float, elapsed_s: float, sent: int) -> int:
    """Writes due after `elapsed_s` at `rate` per second when `sent` went already, at most
    MAX_BATCH (a generator that fell behind catches up over the following ticks)."""
    return max(0, min(MAX_BATCH, int(rate * elapsed_s) - sent))


def pick_keys(rng: random.Random, count: int, keys: int) -> list[int]:
    """`count` distinct key numbers below `keys` (a row appears once per statement)."""
    return rng.sample(range(keys), min(count, keys))


def value(seq: int) -> bytes:
    """A value of VALUE_BYTES that differs on every write."""
    head = f"{seq:020d}".encode()
    return head + b"x" * (VALUE_BYTES - len(head))


@contextlib.contextmanager
def writer(system: str, target: str) -> Iterator[Callable[[list[int], bytes], None]]:
    """A function writing (keys, value) to the peer in one request, its connection closed
    on the way out."""
    if system == "postgres":
        import psycopg

        with psycopg.connect(target, autocommit=True) as conn:

            def upsert(keys: list[int], v: bytes) -> None:
                conn.execute(PG_UPSERT, {"keys": keys, "v": v})

            yield upsert
    else:
        import redis

        with redis.Redis.from_url(target) as client:
            script = client.register_script(REDIS_SCRIPT)

            def set_and_publish(keys: list[int], v: bytes) -> None:
                script(keys=[f"k{n}" for n in keys], args=[v, LAG_CHANNEL])

            yield set_and_publish


def run(write: Callable[[list[int], bytes], None], rate: float, seconds: float, keys: int) -> dict:
    """Offer `rate` writes/s for `seconds`, one request per tick, one request at a time."""
    rng = random.Random(1)
    seq = time.time_ns()  # later loads never repeat an earlier value
    sent = acked = errors = requests = 0
    latencies: list[float] = []
    start_ms = time.time_ns() / 1e6
    start = time.perf_counter()
    tick = 0
    while (elapsed := time.perf_counter() - start) < seconds:
        count = due(rate, elapsed, sent)
        if count:
            seq += 1
            t = time.perf_counter()
            try:
                write(pick_keys(rng, count, keys), value(seq))
                acked += count
                latencies.append((time.perf_counter() - t) * 1000)
            except Exception as exc:  # counted, and the first one shown in the log
                if not errors:
                    print(f"write failed: {exc!r}", file=sys.stderr, flush=True)
                errors += count
            sent += count
            requests += 1
        tick += 1
        time.sleep(max(0.0, start + tick * TICK_S - time.perf_counter()))
    elapsed = time.perf_counter() - start
    return {
        "offered_per_s": rate,
        "seconds": elapsed,
        "start_ms": start_ms,
        "end_ms": time.time_ns() / 1e6,
        "sent": sent,
        "acked": acked,
        "errors": errors,
        "requests": requests,
        "achieved_per_s": acked / elapsed,
        "cpu_s": time.process_time(),
        "batch_latency_ms": summary_ms(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peerload")
    parser.add_argument("--system", choices=("postgres", "redis"), required=True)
    parser.add_argument("--target", required=True, help="libpq DSN or redis:// URL")
    parser.add_argument("--rate", type=float, required=True, help="writes/s")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--result", required=True)
    args = parser.parse_args()
    with writer(args.system, args.target) as write:
        result = run(write, args.rate, args.seconds, args.keys)
    with open(args.result, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
