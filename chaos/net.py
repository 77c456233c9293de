"""The network of a chaos run: one namespace per region and a router namespace between them.

Everything lives in namespaces this run creates; the root namespace is not touched.

    region namespace  <run>-<region>   eth0 10.77.<i>.2/24, default route via 10.77.<i>.1
    hub namespace     <run>-hub        r<i> 10.77.<i>.1/24 per region, IP forwarding on

A region's node, replicator and workload agent share its namespace, so clients keep talking
to their own region while it is cut off from the others, as in a real partition. Every
packet between two regions is routed by the hub through a TUN device served by
`chaos.shaper`, a user-space packet scheduler that applies per-pair delay, jitter, loss,
duplication and reordering (the job of tc netem, which kernels built without sch_netem
lack; the shaper behaves the same everywhere). Partitions are iptables DROP rules in the
hub's FORWARD chain, one per directed pair, so one-way cuts come for free (a rule may also
match one TCP port only: connections to that service fail, the rest still flows).

Names: every namespace of a run starts with `mrc-<run id>-`; a run holds an flock on
/run/meridian-chaos/<run id>.lock while it lives. `cleanup_leftovers()` removes the
namespaces (and kills the processes inside them) of runs whose lock is no longer held, so a
run killed with SIGKILL is cleaned up by the next one.
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import json
import logging
import os
import pathlib
import secrets
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from typing import IO, Any

log = logging.getLogger(__name__)

PREFIX = "mrc-"
LOCK_DIR = pathlib.Path("/run/meridian-chaos")
TUN = "shp0"
SHAPED_TABLE = "100"
Cut = tuple[str, str, int]  # packets from region to region dropped (to this TCP port; 0: all)
REPO = pathlib.Path(__file__).resolve().parent.parent


class NetError(RuntimeError):
    """A network command failed; the message has the command and its output."""


def sh(*argv: str, check: bool = True) -> str:
    """Run a command; return its stdout; raise NetError with stderr when it fails."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise NetError(f"{' '.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def missing_tools() -> list[str]:
    """What this host lacks for the network part of the suite (empty when all is there)."""
    problems = []
    if os.geteuid() != 0:
        problems.append("must run as root (network namespaces, iptables, TUN devices)")
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            problems.append(f"`{tool}` not found (Debian: apt-get install -y iproute2 iptables)")
    if not pathlib.Path("/dev/net/tun").exists():
        problems.append("/dev/net/tun is missing (the kernel needs CONFIG_TUN)")
    return problems


def list_namespaces() -> list[str]:
    return [line.split()[0] for line in sh("ip", "netns", "list").splitlines() if line.strip()]


def kill_namespace_processes(ns: str) -> None:
    """SIGKILL every process still inside one of our namespaces (by pid)."""
    for pid in sh("ip", "netns", "pids", ns, check=False).split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def delete_namespace(ns: str) -> None:
    kill_namespace_processes(ns)
    sh("ip", "netns", "delete", ns, check=False)


def _lock_is_held(path: pathlib.Path) -> bool:
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def cleanup_leftovers() -> list[str]:
    """Remove namespaces of earlier runs that are no longer alive; returns their names."""
    removed = []
    for ns in list_namespaces():
        if not ns.startswith(PREFIX):
            continue
        run_id = ns[len(PREFIX) :].split("-", 1)[0]
        if _lock_is_held(LOCK_DIR / f"{run_id}.lock"):
            continue
        delete_namespace(ns)
        removed.append(ns)
    for lock in LOCK_DIR.glob("*.lock") if LOCK_DIR.exists() else []:
        if not _lock_is_held(lock):
            lock.unlink(missing_ok=True)
    if removed:
        log.warning("removed leftover namespaces of dead runs: %s", ", ".join(removed))
    return removed


@dataclass(frozen=True)
class Link:
    """Per-direction packet treatment between two regions (what netem would be told)."""

    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss: float = 0.0
    dup: float = 0.0
    reorder: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


@dataclass
class Network:
    regions: list[str]
    log_dir: pathlib.Path
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    base: dict[tuple[str, str], Link] = field(default_factory=dict)
    _lock: IO[bytes] | None = None
    _shaper: subprocess.Popen[str] | None = None
    _blocked: collections.Counter[Cut] = field(default_factory=collections.Counter)
    _links: dict[tuple[str, str], Link] = field(default_factory=dict)
    _created: list[str] = field(default_factory=list)

    # ---------------------------------------------------------------- names and addresses

    @property
    def hub(self) -> str:
        return f"{PREFIX}{self.run_id}-hub"

    def ns(self, region: str) -> str:
        return f"{PREFIX}{self.run_id}-{region}"

    def ip(self, region: str) -> str:
        return f"10.77.{self.regions.index(region) + 1}.2"

    def region_of(self, ip: str) -> str:
        return self.regions[int(ip.split(".")[2]) - 1]

    # ---------------------------------------------------------------- lifecycle

    def setup(self) -> None:
        """Create namespaces, links, routes and the shaper; undone by teardown()."""
        LOCK_DIR.mkdir(parents=True, exist_ok=True)
        self._lock = open(LOCK_DIR / f"{self.run_id}.lock", "wb")  # noqa: SIM115 - held for the run
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        hub = self.hub
        self._add_ns(hub)
        sh("ip", "netns", "exec", hub, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
        for index, region in enumerate(self.regions, start=1):
            ns = self.ns(region)
            self._add_ns(ns)
            sh(
                "ip",
                "-n",
                hub,
                "link",
                "add",
                f"r{index}",
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                ns,
            )
            sh("ip", "-n", hub, "addr", "add", f"10.77.{index}.1/24", "dev", f"r{index}")
            sh("ip", "-n", hub, "link", "set", f"r{index}", "up")
            sh("ip", "-n", ns, "addr", "add", f"10.77.{index}.2/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "route", "add", "default", "via", f"10.77.{index}.1")
            sh("ip", "-n", hub, "rule", "add", "iif", f"r{index}", "lookup", SHAPED_TABLE)
        sh("ip", "-n", hub, "tuntap", "add", "dev", TUN, "mode", "tun")
        sh("ip", "-n", hub, "link", "set", TUN, "up", "txqueuelen", "10000")
        sh("ip", "-n", hub, "route", "add", "default", "dev", TUN, "table", SHAPED_TABLE)
        self._start_shaper()
        for pair, link in self.base.items():
            self.shape(*pair, link)

    def _add_ns(self, ns: str) -> None:
        sh("ip", "netns", "add", ns)
        self._created.append(ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")

    def _start_shaper(self) -> None:
        log_file = open(self.log_dir / "shaper.log", "ab")  # noqa: SIM115 - child keeps it
        seed = int(self.run_id, 16)
        self._shaper = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                self.hub,
                sys.executable,
                "-m",
                "chaos.shaper",
                "--dev",
                TUN,
                "--seed",
                str(seed),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
            cwd=REPO,
            start_new_session=True,
        )
        log_file.close()
        self._shaper_call({"op": "ping"})

    def _shaper_call(self, msg: dict[str, Any]) -> dict[str, Any]:
        proc = self._shaper
        if proc is None or proc.poll() is not None or proc.stdin is None or proc.stdout is None:
            raise NetError(f"the packet shaper is not running; see {self.log_dir / 'shaper.log'}")
        proc.stdin.write(json.dumps(msg) + "\n")
        proc.stdin.flush()
        line = proc.stdout.readline()
        if not line:
            raise NetError(f"the packet shaper exited; see {self.log_dir / 'shaper.log'}")
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise NetError(f"shaper refused {msg}: {reply}")
        return reply

    def teardown(self) -> None:
        """Stop the shaper, kill what is left in our namespaces, delete them. Idempotent."""
        if self._shaper is not None:
            with contextlib.suppress(Exception):
                if self._shaper.stdin is not None:
                    self._shaper.stdin.close()
                self._shaper.wait(3)
            if self._shaper.poll() is None:
                self._shaper.kill()
                self._shaper.wait(3)
            if self._shaper.stdout is not None:
                self._shaper.stdout.close()
            self._shaper = None
        for ns in reversed(self._created):
            delete_namespace(ns)
        self._created.clear()
        if self._lock is not None:
            self._lock.close()
            (LOCK_DIR / f"{self.run_id}.lock").unlink(missing_ok=True)
            self._lock = None

    # ---------------------------------------------------------------- link shaping

    def shape(self, src: str, dst: str, link: Link) -> None:
        """Set how packets from region src to region dst are treated (one direction)."""
        self._links[(src, dst)] = link
        self._shaper_call({"op": "set", "src": self.ip(src), "dst": self.ip(dst), **link.to_dict()})

    def link(self, src: str, dst: str) -> Link:
        return self._links.get((src, dst), Link())

    def shaper_stats(self) -> dict[str, Any]:
        return self._shaper_call({"op": "stats"})

    # ---------------------------------------------------------------- partitions

    def block(self, src: str, dst: str, port: int = 0) -> None:
        """Drop every packet from src to dst (one direction; with a port, only TCP packets to
        that port of dst) until as many unblock() calls.

        Counted, so overlapping faults that cut the same pair compose.
        """
        self._blocked[(src, dst, port)] += 1
        if self._blocked[(src, dst, port)] == 1:
            self._drop_rule("-I", src, dst, port)

    def unblock(self, src: str, dst: str, port: int = 0) -> None:
        if self._blocked[(src, dst, port)] <= 0:
            return
        self._blocked[(src, dst, port)] -= 1
        if self._blocked[(src, dst, port)] == 0:
            self._drop_rule("-D", src, dst, port)

    def _drop_rule(self, action: str, src: str, dst: str, port: int) -> None:
        match = ("-p", "tcp", "--dport", str(port)) if port else ()
        sh(
            "ip",
            "netns",
            "exec",
            self.hub,
            "iptables",
            "-w",
            action,
            "FORWARD",
            "-s",
            self.ip(src),
            "-d",
            self.ip(dst),
            *match,
            "-j",
            "DROP",
        )

    def blocked(self) -> set[Cut]:
        return {cut for cut, count in self._blocked.items() if count > 0}

    def heal(self) -> None:
        """Remove every partition and restore the base shaping of every pair."""
        for cut in sorted(self.blocked()):
            self._blocked[cut] = 1
            self.unblock(*cut)
        for src in self.regions:
            for dst in self.regions:
                if src != dst:
                    self.shape(src, dst, self.base.get((src, dst), Link()))
