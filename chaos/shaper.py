"""User-space packet scheduler behind a TUN device: delay, jitter, loss, duplication, reorder.

Run by chaos.net inside the hub namespace: `python -m chaos.shaper --dev shp0 --seed N`.
The hub routes every packet between regions into the TUN device; this process reads each
packet, decides its fate from the rule of its (source, destination) pair and writes it
back at its release time; the hub then routes it on to the destination region (policy
routing sends packets coming from the region links into the TUN device and packets coming
out of it by the main table).

Semantics follow tc netem: a packet is lost with probability `loss`, duplicated with
probability `dup`, and otherwise delayed by `delay_ms` +- uniform `jitter_ms`; packets of a
pair keep their order (a FIFO per pair) except the `reorder` fraction, which is sent after
a short random delay and so overtakes the queue. Pairs without a rule pass unchanged.

Control: one JSON object per line on stdin, one reply per line on stdout:
  {"op": "set", "src": IP, "dst": IP, "delay_ms": .., "jitter_ms": .., "loss": .., "dup": ..,
   "reorder": ..}   -> {"ok": true}
  {"op": "stats"}   -> {"ok": true, "pairs": {"SRC>DST": {"in": .., "out": .., ...}}}
  {"op": "ping"}    -> {"ok": true}
The process exits when stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import fcntl
import heapq
import json
import os
import random
import socket
import struct
import sys
from dataclasses import dataclass

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


@dataclass
class Rule:
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    dup: float = 0.0
    reorder: float = 0.0


def open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


class Shaper:
    def __init__(self, fd: int, seed: int) -> None:
        self.fd = fd
        self.rng = random.Random(seed)
        self.rules: dict[tuple[bytes, bytes], Rule] = {}
        self.last: dict[tuple[bytes, bytes], float] = {}
        self.queue: list[tuple[float, int, bytes]] = []
        self.counter = 0
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0
        self.stats: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self.loop = asyncio.get_running_loop()

    def release_times(self, pair: tuple[bytes, bytes], rule: Rule, now: float) -> list[float]:
        """When each copy of one packet leaves (empty: lost)."""
        rng = self.rng
        if rule.loss and rng.random() < rule.loss:
            return []
        copies = 2 if rule.dup and rng.random() < rule.dup else 1
        times = []
        for _ in range(copies):
            delay = rule.delay_ms / 1000
            if rule.reorder and rng.random() < rule.reorder:
                times.append(now + delay * rng.random() * 0.5)
                continue
            if rule.jitter_ms:
                delay += rng.uniform(-rule.jitter_ms, rule.jitter_ms) / 1000
            at = max(now + max(0.0, delay), self.last.get(pair, 0.0))
            self.last[pair] = at
            times.append(at)
        return times

    def on_readable(self) -> None:
        now = self.loop.time()
        while True:
            try:
                packet = os.read(self.fd, 65535)
            except BlockingIOError:
                break
            if len(packet) < 20 or packet[0] >> 4 != 4:
                self.write(packet)
                continue
            pair = (packet[12:16], packet[16:20])
            rule = self.rules.get(pair)
            stats = self.stats[f"{socket.inet_ntoa(pair[0])}>{socket.inet_ntoa(pair[1])}"]
            stats["in"] += 1
            if rule is None:
                stats["out"] += 1
                self.write(packet)
                continue
            times = self.release_times(pair, rule, now)
            stats["lost"] += not times
            stats["duplicated"] += len(times) > 1
            for at in times:
                self.counter += 1
                heapq.heappush(self.queue, (at, self.counter, packet))
                stats["out"] += 1
        self.schedule()

    def schedule(self) -> None:
        if not self.queue:
            return
        first = self.queue[0][0]
        if self.timer is not None and self.timer_at <= first:
            return
        if self.timer is not None:
            self.timer.cancel()
        self.timer_at = first
        self.timer = self.loop.call_at(first, self.flush)

    def flush(self) -> None:
        self.timer = None
        now = self.loop.time()
        while self.queue and self.queue[0][0] <= now:
            self.write(heapq.heappop(self.queue)[2])
        self.schedule()

    def write(self, packet: bytes) -> None:
        try:
            os.write(self.fd, packet)
        except OSError:
            self.stats["*"]["write_errors"] += 1

    def command(self, msg: dict) -> dict:
        op = msg.get("op")
        if op == "ping":
            return {"ok": True}
        if op == "stats":
            return {
                "ok": True,
                "pairs": {k: dict(v) for k, v in self.stats.items()},
                "queued": len(self.queue),
            }
        if op == "set":
            pair = (socket.inet_aton(msg["src"]), socket.inet_aton(msg["dst"]))
            fields = {k: float(msg.get(k, 0.0)) for k in Rule.__dataclass_fields__}
            self.rules[pair] = Rule(**fields)
            return {"ok": True}
        return {"ok": False, "error": f"unknown op {op!r}"}


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m chaos.shaper")
    parser.add_argument("--dev", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    shaper = Shaper(open_tun(args.dev), args.seed)
    loop = asyncio.get_running_loop()
    loop.add_reader(shaper.fd, shaper.on_readable)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        try:
            reply = shaper.command(json.loads(line))
        except (ValueError, KeyError, TypeError, OSError) as exc:
            reply = {"ok": False, "error": str(exc)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
