"""Faults and the schedule that applies them to a running cluster.

A fault has a kind, a window [start_s, end_s) relative to the start of the workload and
its targets. Each is applied at its start and reverted at its end (process faults are
reverted by restarting or continuing the process). Faults compose: partitions are counted
per directed pair, packet faults on the same pair combine, and at the end `heal()`
removes anything left, whatever happened.

Kinds:
  isolate  {region}                 cut one region off from all others (both directions)
  split    {groups: [[..], [..]]}   cut every pair across groups
  bridge   {a, b}                   cut a<->b only; the others still see both (non-transitive)
  oneway   {src, dst}               drop packets src -> dst only
  nopull   {puller, source}         the puller's replicator cannot reach the source's (its
                                    link from the source is down) while every other
                                    connection, the source pulling from it included, works
  lossy    {src, dst, loss}         lose a fraction of packets src -> dst only
  packets  {loss, dup, reorder, jitter_ms}   on every pair
  flap     {region, pattern: [s, ..]}  isolate / reconnect alternately for these durations
  kill     {region, component}      kill -9 at start, restart at end
  pause    {region, component}      SIGSTOP at start, SIGCONT at end
  skew     {region, offset_ms}      restart the region's node and replicator with their wall
                                    clock offset by offset_ms, and again without at the end
                                    (from_start: the group started that way; nothing to do)
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from chaos.cluster import COMPONENTS, PORTS, Cluster
from chaos.net import Cut, Link

log = logging.getLogger(__name__)
NETWORK_KINDS = frozenset({"isolate", "split", "bridge", "oneway", "nopull", "flap"})
SHAPING_KINDS = frozenset({"lossy", "packets"})


@dataclass
class Fault:
    kind: str
    start_s: float
    end_s: float
    target: dict[str, Any] = field(default_factory=dict)
    applied_ns: int = 0
    reverted_ns: int = 0

    def label(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.target.items() if k != "pattern")
        return f"{self.kind}({args})"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "label": self.label()}


def cut_pairs(fault: Fault, regions: list[str]) -> list[Cut]:
    """The directed pairs (and port, 0 for all) a partition fault blocks."""
    t = fault.target
    if fault.kind in ("isolate", "flap"):
        others = [r for r in regions if r != t["region"]]
        return [(t["region"], o, 0) for o in others] + [(o, t["region"], 0) for o in others]
    if fault.kind == "split":
        pairs = []
        for i, group in enumerate(t["groups"]):
            for other in t["groups"][i + 1 :]:
                for a in group:
                    for b in other:
                        pairs += [(a, b, 0), (b, a, 0)]
        return pairs
    if fault.kind == "bridge":
        return [(t["a"], t["b"], 0), (t["b"], t["a"], 0)]
    if fault.kind == "oneway":
        return [(t["src"], t["dst"], 0)]
    if fault.kind == "nopull":
        return [(t["puller"], t["source"], PORTS.replicator)]
    return []


def combine(base: Link, faults: list[Fault], src: str, dst: str) -> Link:
    """The link between src and dst with every active packet fault added to its base."""
    delay, jitter, keep, dup, reorder = (
        base.delay_ms,
        base.jitter_ms,
        1 - base.loss,
        base.dup,
        base.reorder,
    )
    for f in faults:
        t = f.target
        if f.kind == "lossy" and (t["src"], t["dst"]) != (src, dst):
            continue
        keep *= 1 - float(t.get("loss", 0.0))
        dup = max(dup, float(t.get("dup", 0.0)))
        reorder = max(reorder, float(t.get("reorder", 0.0)))
        jitter += float(t.get("jitter_ms", 0.0))
    return Link(delay, jitter, 1 - keep, dup, reorder)


class Nemesis:
    """Runs a schedule of faults against a cluster; every window is recorded in the fault."""

    def __init__(self, cluster: Cluster, faults: list[Fault]) -> None:
        self.cluster = cluster
        self.net = cluster.net
        self.faults = faults
        self.shaping: list[Fault] = []
        self.errors: list[str] = []

    async def run(self, t0: float) -> None:
        """Apply and revert every fault on time (t0: loop time of the workload start)."""
        await asyncio.gather(*(self._one(f, t0) for f in self.faults))

    async def _one(self, fault: Fault, t0: float) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, t0 + fault.start_s - loop.time()))
        fault.applied_ns = time.time_ns()
        log.info("fault on: %s", fault.label())
        try:
            if fault.kind == "flap":
                await self._flap(fault, t0)
            else:
                await self.apply(fault)
                await asyncio.sleep(max(0.0, t0 + fault.end_s - loop.time()))
                await self.revert(fault)
        except Exception as exc:
            self.errors.append(f"{fault.label()}: {exc}")
            log.exception("fault %s failed", fault.label())
        fault.reverted_ns = time.time_ns()
        log.info("fault off: %s", fault.label())

    async def _flap(self, fault: Fault, t0: float) -> None:
        loop = asyncio.get_running_loop()
        cut = False
        for duration in fault.target["pattern"]:
            cut = not cut
            self._partition(fault, cut)
            remaining = t0 + fault.end_s - loop.time()
            if remaining <= 0:
                break
            await asyncio.sleep(min(float(duration), remaining))
        if cut:
            self._partition(fault, False)

    def _partition(self, fault: Fault, on: bool) -> None:
        for cut in cut_pairs(fault, self.cluster.regions):
            (self.net.block if on else self.net.unblock)(*cut)

    def _reshape(self) -> None:
        regions = self.cluster.regions
        for src in regions:
            for dst in regions:
                if src != dst:
                    base = self.net.base.get((src, dst), Link())
                    self.net.shape(src, dst, combine(base, self.shaping, src, dst))

    async def apply(self, fault: Fault) -> None:
        t = fault.target
        if fault.kind in NETWORK_KINDS:
            self._partition(fault, True)
        elif fault.kind in SHAPING_KINDS:
            self.shaping.append(fault)
            self._reshape()
        elif fault.kind == "kill":
            self.cluster.proc(t["region"], t["component"]).kill9()
        elif fault.kind == "pause":
            self.cluster.proc(t["region"], t["component"]).pause()
        elif fault.kind == "skew":
            if not t.get("from_start"):
                self.cluster.set_clock(t["region"], int(t["offset_ms"]))
                await self.cluster.restart_region(t["region"])
        else:
            raise ValueError(f"unknown fault kind {fault.kind!r}")

    async def revert(self, fault: Fault) -> None:
        t = fault.target
        if fault.kind in NETWORK_KINDS:
            self._partition(fault, False)
        elif fault.kind in SHAPING_KINDS:
            self.shaping.remove(fault)
            self._reshape()
        elif fault.kind == "kill":
            await self.cluster.restart(t["region"], t["component"])
        elif fault.kind == "pause":
            self.cluster.proc(t["region"], t["component"]).resume()
        elif fault.kind == "skew" and not t.get("from_start"):
            self.cluster.set_clock(t["region"], 0)
            await self.cluster.restart_region(t["region"])

    async def heal(self) -> bool:
        """Undo whatever is left: partitions, packet faults, pauses, dead processes, clocks.

        Returns True when something was still broken (the heal is then now, not the end of
        the last fault)."""
        broken = bool(self.net.blocked() or self.shaping)
        self.shaping.clear()
        self.net.heal()
        for region in self.cluster.regions:
            initial = self.cluster.settings.clock_offsets_ms.get(region, 0)
            if self.cluster.clock_ms(region) != initial:
                broken = True
                self.cluster.set_clock(region, initial)
                await self.cluster.restart_region(region)
            for component in COMPONENTS:
                proc = self.cluster.proc(region, component)
                if proc.paused:
                    broken = True
                    proc.resume()
                if not proc.running:
                    broken = True
                    log.warning("%s was down at the heal; restarting it", proc.name)
                    await self.cluster.restart(region, component)
        return broken

    def healed_ns(self, t0_ns: int) -> int:
        """When the last fault was reverted (the start of the workload if there was none)."""
        return max([t0_ns, *(f.reverted_ns for f in self.faults)])
