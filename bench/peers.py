"""Replication lag of the peers users compare Meridian with, in the same run and at the same
offered rates as Meridian's two lowest lag loads.

PostgreSQL logical replication: a publisher and a subscriber cluster (bench/peerhosts.py),
one table published and subscribed. The writer (bench/peerload.py) stamps each row with the
publisher's clock_timestamp() as it writes it. On the subscriber, a BEFORE INSERT OR UPDATE
row trigger, enabled ALWAYS so that the apply worker fires it, stamps `applied_at` and sends
pg_notify('lag', '<written us> <applied us>'); notifications are delivered when the applied
transaction commits. A LISTEN connection in this process timestamps each one on arrival:
  visible lag: arrival - written  (the headline figure, as Meridian's)
  apply lag:   applied_at - written
Redis: a primary and a replica; the writer's script stamps the primary's TIME and publishes
it after its SETs; a subscriber on the replica timestamps each message on arrival (visible
lag). Everything runs on one machine and one clock (CLOCK_REALTIME).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import pathlib
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from bench import load as load_mod
from bench import peerhosts, peerload
from bench.cluster import bench_process
from bench.replication import SUSTAINED_SHARE
from bench.stats import summary_ms
from tests.harness import Process, python_argv
from tests.harness.waits import ProcessFailed

Sample = tuple[float, float, float | None]  # (arrival ms, written ms, applied ms or None)
READY_S = 60.0  # longest wait for a server, a subscription or the first replicated write

PG_PUBLISHER_SQL = [
    f"CREATE TABLE {peerload.PG_TABLE} "
    "(k bigint PRIMARY KEY, v bytea NOT NULL, written_at timestamptz NOT NULL)",
    f"CREATE PUBLICATION lag FOR TABLE {peerload.PG_TABLE}",
]
PG_SUBSCRIBER_SQL = [
    f"CREATE TABLE {peerload.PG_TABLE} (k bigint PRIMARY KEY, v bytea NOT NULL, "
    "written_at timestamptz NOT NULL, applied_at timestamptz)",
    """CREATE FUNCTION lag_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.applied_at := clock_timestamp();
  PERFORM pg_notify('lag', (extract(epoch FROM NEW.written_at) * 1000000)::bigint || ' ' ||
                           (extract(epoch FROM NEW.applied_at) * 1000000)::bigint);
  RETURN NEW;
END $$""",
    f"CREATE TRIGGER lag_seen BEFORE INSERT OR UPDATE ON {peerload.PG_TABLE} "
    "FOR EACH ROW EXECUTE FUNCTION lag_seen()",
    f"ALTER TABLE {peerload.PG_TABLE} ENABLE ALWAYS TRIGGER lag_seen",
]


def lowest_loads(loads: Sequence[tuple[int, float]], n: int = 2) -> list[tuple[int, float]]:
    """The `n` lowest offered rates of Meridian's lag loads (rate, seconds), ascending."""
    return sorted(loads)[:n]


def lag_figures(samples: Sequence[Sample], start_ms: float, end_ms: float) -> dict[str, Any]:
    """The samples of writes made between start_ms and end_ms (1 ms slack for rounding):
    how many, their visible lag and (where known) their apply lag."""
    inside = [s for s in samples if start_ms - 1 <= s[1] <= end_ms + 1]
    applied = [a - w for _, w, a in inside if a is not None]
    return {
        "received": len(inside),
        "visible_lag_ms": summary_ms([r - w for r, w, _ in inside]),
        "apply_lag_ms": summary_ms(applied),
    }


def sustained(offered: float, achieved: float, acked: int, received: int) -> bool:
    """As Meridian's loads: the rate was achieved and every acknowledged write arrived."""
    return achieved >= SUSTAINED_SHARE * offered and received >= acked


class PostgresListener:
    """LISTEN lag on the subscriber; each notification is timestamped as it arrives."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.samples: list[Sample] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        import psycopg

        self._conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
        await self._conn.execute("LISTEN lag")
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        append = self.samples.append
        async for note in self._conn.notifies():
            now = time.time_ns() / 1e6
            written, applied = note.payload.split()
            append((now, int(written) / 1000, int(applied) / 1000))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            await self._conn.close()


class RedisListener:
    """SUBSCRIBE lag on the replica; each message stands for the keys its script set."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.samples: list[Sample] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        import redis.asyncio

        self._client = redis.asyncio.Redis.from_url(self.url)
        self._pubsub = self._client.pubsub()
        await self._pubsub.subscribe(peerload.LAG_CHANNEL)
        self._task = asyncio.create_task(self._follow())

    async def _follow(self) -> None:
        append = self.samples.append
        async for message in self._pubsub.listen():
            now = time.time_ns() / 1e6
            if message["type"] != "message":
                continue
            stamp, count = message["data"].split()
            written = int(stamp) / 1000
            for _ in range(int(count)):
                append((now, written, None))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            await self._pubsub.aclose()
            await self._client.aclose()


Listener = PostgresListener | RedisListener


async def _until(check: Callable[[], Awaitable[bool]], what: str, procs: Sequence[Process]) -> None:
    """Poll `check` until true; a TimeoutError naming `what`, with the servers' logs, after
    READY_S."""
    deadline = time.monotonic() + READY_S
    last = "not yet"
    while True:
        try:
            if await check():
                return
        except Exception as exc:  # not up yet: connection refused, starting up, ...
            last = repr(exc)
        for proc in procs:
            if not proc.running:
                raise proc.failure(f"exited while waiting for {what}")
        if time.monotonic() > deadline:
            logs = "\n".join(p.log_section() for p in procs)
            raise TimeoutError(f"{what}: not within {READY_S:.0f} s (last: {last})\n{logs}")
        await asyncio.sleep(0.1)


async def _first_write(
    system: str, target: str, listener: Listener, procs: Sequence[Process]
) -> None:
    """One write through the whole path, so the first load does not measure a cold start."""
    with peerload.writer(system, target) as write:

        async def arrived() -> bool:
            if not listener.samples:
                await asyncio.to_thread(write, [0], peerload.value(0))
                await asyncio.sleep(0.5)
            return bool(listener.samples)

        await _until(arrived, "a first replicated write", procs)
    listener.samples.clear()


async def one_load(
    system: str,
    target: str,
    listener: Listener,
    procs: Sequence[Process],
    rate: int,
    seconds: float,
    keys: int,
    work: pathlib.Path,
) -> dict[str, Any]:
    result_path = work / f"peerload-{system}-{rate}.json"
    argv = python_argv(
        "bench.peerload",
        *("--system", system, "--target", target, "--rate", str(rate)),
        *("--seconds", str(seconds), "--keys", str(keys), "--result", str(result_path)),
    )
    writer = bench_process(f"peerload-{system}-{rate}", argv, work / "logs").start()
    cpu = load_mod.CpuWindow(procs)
    await writer.finish(timeout=seconds + 120)
    load = json.loads(result_path.read_text())
    cpu_cores = cpu.stop({"writer": load["cpu_s"]})
    drain_start, drain_limit = time.monotonic(), max(10.0, seconds)
    while True:
        figures = lag_figures(listener.samples, load["start_ms"], load["end_ms"])
        if figures["received"] >= load["acked"] or time.monotonic() - drain_start > drain_limit:
            break
        await asyncio.sleep(0.05)
    return {
        "offered_per_s": rate,
        "seconds": seconds,
        "load": load,
        "expected_records": load["acked"],
        "received_records": figures["received"],
        "drain_wait_s": round(time.monotonic() - drain_start, 2),
        "visible_lag_ms": figures["visible_lag_ms"],
        "apply_lag_ms": figures["apply_lag_ms"],
        "cpu_cores": cpu_cores,
        "sustained": sustained(rate, load["achieved_per_s"], load["acked"], figures["received"]),
    }


async def _loads(
    system: str,
    target: str,
    listener: Listener,
    procs: Sequence[Process],
    loads: Sequence[tuple[int, float]],
    keys: int,
    work: pathlib.Path,
) -> list[dict[str, Any]]:
    return [
        await one_load(system, target, listener, procs, rate, seconds, keys, work)
        for rate, seconds in loads
    ]


async def measure_postgres(
    work: pathlib.Path, loads: Sequence[tuple[int, float]], keys: int
) -> dict[str, Any]:
    import psycopg

    logs = work / "logs"
    bindir, reason = peerhosts.find(peerhosts.postgres_bindir, "postgresql", logs / "apt.log")
    user, why = peerhosts.server_user("postgres", required=True)
    if bindir is None or why:
        return {"skipped": reason or why}
    pub = peerhosts.Postgres(bindir, work / "peers" / "pg-publisher", "pg-publisher", user, logs)
    sub = peerhosts.Postgres(bindir, work / "peers" / "pg-subscriber", "pg-subscriber", user, logs)
    listener = PostgresListener(sub.dsn)
    procs: list[Process] = []
    try:
        try:
            for server in (pub, sub):
                server.init()
                procs.append(server.start())
            for server in (pub, sub):
                ready = functools.partial(_pg_ready, server.dsn)
                await _until(ready, f"{server.name} ready", procs)
            _pg_run(pub.dsn, PG_PUBLISHER_SQL)
            _pg_run(sub.dsn, [*PG_SUBSCRIBER_SQL, _subscription_sql(pub.dsn)])
            await listener.start()
            await _first_write("postgres", pub.dsn, listener, procs)
        except (OSError, ProcessFailed, TimeoutError, psycopg.Error) as exc:
            return {"skipped": f"PostgreSQL could not be started: {_first_line(exc)}"}
        settings = _pg_settings(pub.dsn, sub.dsn)
        measured = await _loads("postgres", pub.dsn, listener, procs, loads, keys, work)
    finally:
        await listener.stop()
        sub.stop()
        pub.stop()
    return {
        "version": peerhosts.version([str(bindir / "postgres"), "--version"]),
        "settings": settings,
        "loads": measured,
    }


async def _pg_ready(dsn: str) -> bool:
    import psycopg

    async with await psycopg.AsyncConnection.connect(dsn, connect_timeout=2) as conn:
        await conn.execute("SELECT 1")
    return True


def _pg_run(dsn: str, statements: Sequence[str]) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def _subscription_sql(publisher_dsn: str) -> str:
    return f"CREATE SUBSCRIPTION lag CONNECTION '{publisher_dsn}' PUBLICATION lag"


def _pg_settings(pub_dsn: str, sub_dsn: str) -> dict[str, str]:
    import psycopg

    out = {}
    for side, dsn in (("publisher", pub_dsn), ("subscriber", sub_dsn)):
        with psycopg.connect(dsn) as conn:
            for name in ("fsync", "synchronous_commit", "wal_level"):
                row = conn.execute(f"SHOW {name}").fetchone()
                out[f"{side}.{name}"] = str(row[0]) if row else ""
    with psycopg.connect(sub_dsn) as conn:
        row = conn.execute("SELECT subsynccommit FROM pg_subscription").fetchone()
        out["subscription.synchronous_commit"] = str(row[0]) if row else ""
    return out


async def measure_redis(
    work: pathlib.Path, loads: Sequence[tuple[int, float]], keys: int
) -> dict[str, Any]:
    import redis
    import redis.asyncio

    logs = work / "logs"
    binary, reason = peerhosts.find(peerhosts.redis_binary, "redis-server", logs / "apt.log")
    if binary is None:
        return {"skipped": reason}
    user, _ = peerhosts.server_user("redis", required=False)
    primary = peerhosts.Redis(binary, work / "peers" / "redis-primary", "redis-primary", user, logs)
    replica = peerhosts.Redis(
        binary, work / "peers" / "redis-replica", "redis-replica", user, logs, primary.port
    )
    listener = RedisListener(replica.url)
    procs: list[Process] = []
    try:
        try:
            for server in (primary, replica):
                procs.append(server.start())

            async def linked() -> bool:
                async with redis.asyncio.Redis.from_url(replica.url) as client:
                    info = await client.info("replication")
                return info.get("master_link_status") == "up"

            await _until(linked, "the Redis replica linked to its primary", procs)
            await listener.start()
            await _first_write("redis", primary.url, listener, procs)
        except (OSError, ProcessFailed, TimeoutError, redis.RedisError) as exc:
            return {"skipped": f"Redis could not be started: {_first_line(exc)}"}
        measured = await _loads("redis", primary.url, listener, procs, loads, keys, work)
    finally:
        await listener.stop()
        replica.stop()
        primary.stop()
    return {
        "version": peerhosts.version([str(binary), "--version"]),
        "settings": {"appendonly": "yes", "appendfsync": "everysec", "save": ""},
        "loads": measured,
    }


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


async def measure(
    work: pathlib.Path, loads: Sequence[tuple[int, float]], keys: int
) -> dict[str, Any]:
    """Both peers at `loads` ((rate, seconds), Meridian's two lowest), each skipped with a
    reason when it cannot be installed or started."""
    if not loads:
        return {"skipped": "no loads in this mode"}
    return {
        "loads": [list(x) for x in loads],
        "postgres": await measure_postgres(work, loads, keys),
        "redis": await measure_redis(work, loads, keys),
    }
