"""One scenario, end to end, in phases.

  start     namespaces, shaper, nodes, replicators, agents; wait until every link's lag is
            under the bound (a steady state to start the faults from)
  faults    metric samplers and workload on; the seeded fault schedule; heal (the heal time
            is when the last fault ended, the base of the lag-recovery bound); the workload
            stays on for settle_s, then stops
  quiesce   wait until all digests are identical; read the stream heads twice (no
            ping-pong); one last metrics sample and link status per region
  observe   dump every region; stop the processes (SIGTERM; exit codes kept)
  check     the checker over everything observed

Teardown runs in every case, also on errors and cancellation (Ctrl-C, SIGTERM); the report
is written even when a phase failed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import pathlib
import random
import time
import traceback
import zlib
from typing import Any

from chaos import checker, report
from chaos.cluster import REGION_NAMES, Cluster, Settings
from chaos.nemesis import Nemesis
from chaos.net import Link, Network
from chaos.scenarios import Scenario
from chaos.workload import Spec
from meridian.config import parse_duration_ms
from tests.harness import NotYet, eventually

log = logging.getLogger("chaos")
SAMPLE_INTERVAL_S = 0.5


def scenario_seed(seed: int, name: str) -> int:
    return zlib.crc32(f"{seed}:{name}".encode())


def base_links(rng: random.Random, regions: list[str], sc: Scenario) -> dict[tuple[str, str], Link]:
    """Symmetric WAN latency per region pair, jitter a tenth of it."""
    links = {}
    for i, a in enumerate(regions):
        for b in regions[i + 1 :]:
            delay = round(rng.uniform(*sc.latency_ms), 1)
            links[(a, b)] = links[(b, a)] = Link(delay_ms=delay, jitter_ms=round(delay / 10, 1))
    return links


def read_jsonl(paths: list[pathlib.Path]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in paths:
        if path.exists():
            rows.extend(json.loads(line) for line in path.read_text().splitlines() if line)
    return rows


class ScenarioRun:
    def __init__(self, sc: Scenario, seed: int, out_root: pathlib.Path, tls: bool = True) -> None:
        self.sc = sc
        self.seed = scenario_seed(seed, sc.name)
        rng = random.Random(self.seed)
        self.regions = list(REGION_NAMES[: sc.regions])
        self.faults = sc.build(rng, self.regions, sc)
        self.out = out_root / sc.name
        self.out.mkdir(parents=True, exist_ok=True)
        self.net = Network(self.regions, self.out)
        self.net.base = base_links(rng, self.regions, sc)
        self.settings = Settings(
            regions=sc.regions,
            max_clock_offset_ms=sc.max_clock_offset_ms,
            clock_offsets_ms={
                f.target["region"]: int(f.target["offset_ms"])
                for f in self.faults
                if f.kind == "skew" and f.target.get("from_start")
            },
            retention=sc.retention,
            tombstone_lifetime=sc.tombstone_lifetime,
            tombstone_max_lifetime=sc.tombstone_max_lifetime,
            tls=tls,
            merge=sc.merge,
        )
        self.cluster = Cluster(self.out, self.settings, self.net)
        # tombstones go during the run (and keep going once it is quiet)
        self.collects = (parse_duration_ms(sc.tombstone_lifetime) or 0) < sc.duration_s * 1000
        self.nemesis = Nemesis(self.cluster, self.faults)
        self.rep: dict[str, Any] = {
            "scenario": sc.name,
            "seed": seed,
            "scenario_seed": self.seed,
            "proves": sc.proves,
            "ok": False,
            "out": str(self.out),
            "regions": self.regions,
            "run_id": self.net.run_id,
            "links": {f"{a}->{b}": dataclasses.asdict(v) for (a, b), v in self.net.base.items()},
            "faults": [f.to_dict() for f in self.faults],
            "t0_ns": time.time_ns(),
            "settings": dataclasses.asdict(self.settings),
            "parameters": {k: v for k, v in dataclasses.asdict(sc).items() if k != "build"},
        }

    def agents(self) -> list[tuple[str, Any]]:
        return list(self.cluster.agents.items())

    def path(self, kind: str, region: str, ext: str = "jsonl") -> pathlib.Path:
        return self.out / f"{kind}-{region}.{ext}"

    # ---------------------------------------------------------------- phases

    async def start(self) -> None:
        log.info(
            "%s (seed %d): starting %d regions, faults: %s",
            self.sc.name,
            self.rep["seed"],
            len(self.regions),
            "; ".join(f.label() for f in self.faults),
        )
        started = time.monotonic()
        await self.cluster.start()
        await self.wait_steady()
        self.rep["startup_s"] = round(time.monotonic() - started, 1)

    async def wait_steady(self, timeout: float = 30.0) -> None:
        """Until every link's lag is under the bound (a link's lag counts from its creation
        until its first batch)."""
        lags: dict[str, dict[str, float]] = {}

        async def steady() -> bool:
            for r, agent in self.agents():
                lags[r] = (await agent.call("metrics", url=self.cluster.metrics_url(r)))["lag"]
            if not all(
                len(v) == len(self.regions) - 1 and max(v.values()) <= self.sc.lag_bound_s
                for v in lags.values()
            ):
                raise NotYet(f"lags {lags}")
            return True

        what = f"every link's lag under {self.sc.lag_bound_s} s"
        logs = self.cluster.of("replicator")
        await eventually(steady, timeout, what, logs=logs, retry=(NotYet,), interval=0.25)

    async def run_faults(self) -> None:
        sc, rep = self.sc, self.rep
        for r, agent in self.agents():
            url = self.cluster.metrics_url(r)
            path = str(self.path("samples", r))
            await agent.call("sample", url=url, path=path, interval=SAMPLE_INTERVAL_S)
        for r, agent in self.agents():
            spec = Spec(region=r, clients=sc.clients, rate=sc.rate, seed=self.seed, merge=sc.merge)
            history = str(self.path("history", r))
            await agent.call("start", spec=dataclasses.asdict(spec), history=history)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        rep["t0_ns"] = time.time_ns()
        await self.nemesis.run(t0)
        await asyncio.sleep(max(0.0, t0 + sc.duration_s - loop.time()))
        broken = await self.nemesis.heal()
        rep["heal_ns"] = time.time_ns() if broken else self.nemesis.healed_ns(rep["t0_ns"])
        rep["faults"] = [f.to_dict() for f in self.faults]
        rep["nemesis_errors"] = self.nemesis.errors
        await asyncio.sleep(sc.settle_s)
        counts = await asyncio.gather(*(agent.call("stop") for _, agent in self.agents()))
        rep["workload"] = {r: c["counts"] for r, c in zip(self.regions, counts, strict=True)}
        rep["stop_ns"] = time.time_ns()

    async def quiesce(self) -> None:
        rep = self.rep
        conv = await self.wait_converged()
        rep["convergence_s"] = None if conv is None else round(conv, 2)
        rep["heads"] = await self.heads(2.0 + 3 * self.settings.heartbeat_ms / 1000)
        rep["final_metrics"] = {}
        rep["links_quiescent"] = {}
        for r, agent in self.agents():
            rep["final_metrics"][r] = await agent.call("metrics", url=self.cluster.metrics_url(r))
            endpoint = self.cluster.replicator_endpoint(r)
            rep["links_quiescent"][r] = (await agent.call("status", endpoint=endpoint))["links"]

    async def wait_converged(self) -> float | None:
        """Seconds until every region's digest is the same (None: not within the timeout);
        when tombstones are collected during the run, also until none is left (each region
        collects at its own pace: the states only stay put once they all went)."""
        start = time.monotonic()
        while time.monotonic() - start < self.sc.converge_timeout_s:
            try:
                digests = await asyncio.gather(
                    *(agent.call("digest", timeout=30) for _, agent in self.agents())
                )
                settled = not self.collects or all(d["tombstones"] == 0 for d in digests)
                if len({d["digest"] for d in digests}) == 1 and settled:
                    return time.monotonic() - start
            except Exception as exc:
                log.warning("digest poll failed: %s", exc)
            await asyncio.sleep(0.25)
        return None

    async def heads(self, wait_s: float) -> dict[str, list[int]]:
        """Each region's stream head, read twice `wait_s` apart with no client writing."""
        heads: dict[str, list[int]] = {r: [] for r in self.regions}
        for i in range(2):
            if i:
                await asyncio.sleep(wait_s)
            for r, agent in self.agents():
                heads[r].append((await agent.call("head"))["head"])
        return heads

    async def observe(self) -> dict[str, dict[str, Any]]:
        for r, agent in self.agents():
            await agent.call("sample_stop")
            await agent.call("dump", path=str(self.path("dump", r, "json")), timeout=120)
        self.rep["shaper"] = self.net.shaper_stats().get("pairs", {})
        self.rep["exits"] = await self.cluster.stop()
        return {r: json.loads(self.path("dump", r, "json").read_text()) for r in self.regions}

    def check(self, dumps: dict[str, dict[str, Any]], samples: list[dict[str, Any]]) -> None:
        rep, sc = self.rep, self.sc
        kills: dict[str, int] = {}
        for f in self.faults:
            if f.kind == "kill":
                name = f"{f.target['component']} {f.target['region']}"
                kills[name] = kills.get(name, 0) + 1
        obs = checker.Observation(
            history=read_jsonl([self.path("history", r) for r in self.regions]),
            states={r: d["state"] for r, d in dumps.items()},
            streams={r: d["stream"] for r, d in dumps.items()},
            digests={r: d["digest"] for r, d in dumps.items()},
            samples=[row for row in samples if row["t"] >= rep["t0_ns"]],
            heads=rep["heads"],
            final={
                r: {k: v for k, v in s.items() if k in ("lag", "pending", "rejections", "resyncs")}
                for r, s in rep["final_metrics"].items()
            },
            exits=rep["exits"],
            kills=kills,
            heal_ns=rep["heal_ns"],
            max_clock_offset_ms=self.settings.max_clock_offset_ms,
            expect_clock_rejections=sc.expect_clock_rejections,
            lag_bound_s=sc.lag_bound_s,
            recovery_bound_s=sc.recovery_bound_s,
            tombstones_collected=self.collects,
            merge=sc.merge,
        )
        result = checker.check(obs)
        rep.update(summary=result["summary"], checks=result["checks"])
        converged = rep["convergence_s"] is not None
        rep["ok"] = result["ok"] and converged and not self.nemesis.errors

    async def run(self) -> dict[str, Any]:
        started = time.monotonic()
        try:
            await self.start()
            await self.run_faults()
            await self.quiesce()
            dumps = await self.observe()
            self.check(dumps, self.samples())
        except BaseException as exc:
            self.rep["error"] = "".join(traceback.format_exception(exc))
            log.error("%s failed: %s", self.sc.name, exc or type(exc).__name__)
            if not isinstance(exc, Exception):
                raise
        finally:
            await self.cluster.close()
            self.rep["elapsed_s"] = round(time.monotonic() - started, 1)
            self.write()
        return self.rep

    def samples(self) -> list[dict[str, Any]]:
        return read_jsonl([self.path("samples", r) for r in self.regions])

    def write(self) -> None:
        try:
            self.rep["plot"] = report.plot(self.rep, self.samples(), self.out)
        except Exception as exc:
            self.rep["plot"] = f"no plot: {exc}"
        (self.out / "report.json").write_text(json.dumps(self.rep, indent=2, default=str))
        (self.out / "summary.txt").write_text(report.summary(self.rep) + "\n")


async def run_scenario(
    sc: Scenario, seed: int, out_root: pathlib.Path, tls: bool = True
) -> dict[str, Any]:
    """Run one scenario end to end; its report (also written to out_root/<name>/)."""
    return await ScenarioRun(sc, seed, out_root, tls).run()
