"""PostgreSQL and Redis servers for the peer comparison (bench/peers.py).

Debian's packages, installed with apt-get when missing (root only); every server runs in the
foreground as a child of the benchmark, in the run's work directory, bound to 127.0.0.1 on a
free port, and is stopped on the way out like the other children (also on Ctrl-C/SIGTERM,
through tests.harness.stop_all). PostgreSQL refuses to run as root: when the benchmark is
root, its servers run as the `postgres` user (made by Debian's package), and Redis as the
`redis` user when there is one, through setpriv (which execs: the pid stays the server's).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pathlib
import pwd
import re
import shutil
import signal
import subprocess
from collections.abc import Callable, Sequence

from bench.cluster import bench_process
from tests.harness import Process
from tests.harness.ports import LOOPBACK, free_port

APT_TIMEOUT_S = 900.0
PG_USER = "bench"  # the database superuser initdb creates (trust auth, loopback only)
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ServerTree(Process):
    """A server that forks workers (PostgreSQL's backends): its CPU time is that of the
    whole process tree, the live descendants and the children that have exited."""

    def cpu_seconds(self) -> float:
        if not self.running:
            return 0.0
        total = 0.0
        for pid in [self.pid, *_descendants(self.pid)]:
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                own = int(fields[11]) + int(fields[12])
                children = int(fields[13]) + int(fields[14])
                total += (own + children) / _CLOCK_TICKS
        return total


def _descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = pathlib.Path(stat).read_text().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(stat.split("/")[2]))
    out, todo = [], [root]
    while todo:
        children = parents.get(todo.pop(), [])
        out += children
        todo += children
    return out


def apt_install(package: str, log: pathlib.Path) -> str:
    """Install a Debian package; "" when done, else why not (apt's output goes to `log`)."""
    if os.geteuid() != 0:
        return f"{package} is not installed and installing it needs root"
    if shutil.which("apt-get") is None:
        return f"{package} is not installed and there is no apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", package]
    with log.open("ab") as out:
        for command in (install, ["apt-get", "update", "-q"], install):
            try:
                code = subprocess.run(
                    command, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=APT_TIMEOUT_S
                ).returncode
            except subprocess.TimeoutExpired:
                return f"`{' '.join(command)}` took over {APT_TIMEOUT_S:.0f} s (see {log})"
            if code == 0 and command is install:
                return ""
    return f"`apt-get install -y {package}` failed (see {log})"


def postgres_bindir() -> pathlib.Path | None:
    """The newest /usr/lib/postgresql/N/bin (Debian's layout), else where `postgres` is."""

    def version(path: str) -> int:
        match = re.search(r"/postgresql/(\d+)/", path)
        return int(match.group(1)) if match else 0

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=version)
    if found:
        return pathlib.Path(found[-1]).parent
    binary = shutil.which("postgres")
    return pathlib.Path(binary).resolve().parent if binary else None


def find(
    locate: Callable[[], pathlib.Path | None], package: str, log: pathlib.Path
) -> tuple[pathlib.Path | None, str]:
    """(where, "") from `locate()`, installing `package` when it finds nothing; else
    (None, why not)."""
    where = locate()
    if where is None:
        reason = apt_install(package, log)
        if reason:
            return None, reason
        where = locate()
        if where is None:
            return None, f"installed {package} but found no binary"
    return where, ""


def redis_binary() -> pathlib.Path | None:
    binary = shutil.which("redis-server")
    return pathlib.Path(binary) if binary else None


def run_as(user: str | None, argv: Sequence[str]) -> list[str]:
    """`argv` as `user` when the benchmark is root (and the user is given)."""
    if os.geteuid() != 0 or user is None:
        return list(argv)
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--", *argv]


def server_user(name: str, required: bool) -> tuple[str | None, str]:
    """(user to run a server as, "") when root; (None, "") when not root or when an
    optional user is missing; (None, why not) when a required one is missing."""
    if os.geteuid() != 0:
        return None, ""
    try:
        pwd.getpwnam(name)
    except KeyError:
        return None, (f"running as root and there is no `{name}` user" if required else "")
    return name, ""


def own_dir(path: pathlib.Path, user: str | None) -> pathlib.Path:
    """A new directory for a server's data, owned by the user the server runs as."""
    path.mkdir(parents=True, exist_ok=False)
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return path


def version(argv: Sequence[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


class Postgres:
    """One PostgreSQL cluster: initdb in `data`, then `postgres` in the foreground.

    fsync and synchronous_commit stay at their defaults (on); wal_level=logical so it can
    publish; no Unix socket, TCP on 127.0.0.1 only."""

    def __init__(
        self,
        bindir: pathlib.Path,
        data: pathlib.Path,
        name: str,
        user: str | None,
        logs: pathlib.Path,
    ) -> None:
        self.bindir, self.data, self.name, self.user = bindir, data, name, user
        self.port = free_port()
        self.logs = logs
        self.process: Process | None = None

    @property
    def dsn(self) -> str:
        return f"host={LOOPBACK} port={self.port} user={PG_USER} dbname=postgres"

    def init(self) -> None:
        own_dir(self.data, self.user)
        argv = [str(self.bindir / "initdb"), "-D", str(self.data), "-U", PG_USER]
        argv += ["-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"]
        with (self.logs / f"{self.name}-initdb.log").open("ab") as out:
            subprocess.run(
                run_as(self.user, argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=120,
                cwd="/",
            )

    def start(self) -> Process:
        settings = {
            "listen_addresses": LOOPBACK,
            "port": str(self.port),
            "unix_socket_directories": "",
            "wal_level": "logical",
        }
        argv = [str(self.bindir / "postgres"), "-D", str(self.data)]
        for key, setting in settings.items():
            argv += ["-c", f"{key}={setting}"]
        self.process = _server(self.name, run_as(self.user, argv), self.logs)
        return self.process

    def stop(self) -> None:
        """Fast shutdown (SIGINT): sessions are ended, then a checkpoint."""
        if self.process is not None:
            self.process.stop(sig=signal.SIGINT)


class Redis:
    """One redis-server in the foreground: AOF on, fsync once a second, no RDB snapshots;
    a replica of `primary_port` when given."""

    def __init__(
        self,
        binary: pathlib.Path,
        data: pathlib.Path,
        name: str,
        user: str | None,
        logs: pathlib.Path,
        primary_port: int | None = None,
    ) -> None:
        self.binary, self.data, self.name, self.user = binary, data, name, user
        self.port = free_port()
        self.logs = logs
        self.primary_port = primary_port
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self) -> Process:
        own_dir(self.data, self.user)
        argv = [str(self.binary), "--port", str(self.port), "--bind", LOOPBACK]
        argv += ["--dir", str(self.data), "--daemonize", "no", "--save", ""]
        argv += ["--appendonly", "yes", "--appendfsync", "everysec"]
        if self.primary_port is not None:
            argv += ["--replicaof", LOOPBACK, str(self.primary_port)]
        self.process = _server(self.name, run_as(self.user, argv), self.logs)
        return self.process

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def _server(name: str, argv: list[str], logs: pathlib.Path) -> Process:
    proc = bench_process(name, argv, logs)
    tree = ServerTree(proc.name, proc.argv, proc.log_path, env=proc.env)
    return tree.start()
