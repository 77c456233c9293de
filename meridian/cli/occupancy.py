"""Who holds a port or a data directory on this machine.

`meridian run` asks before it starts anything (is a port or a data directory of the group
in use already, by another run of the same file, say?) and while its children start (is
the process answering on a child's port that child, or someone else?).
"""

from __future__ import annotations

import errno
import fcntl
import os
import pathlib
import socket

from meridian.config import Address, GroupConfig

LISTEN = "0A"  # TCP state of a listening socket in /proc/net/tcp


def ports(config: GroupConfig) -> list[tuple[Address, str]]:
    """Every address the group's processes listen on, each with whose it is."""
    out = []
    for r in config.regions:
        out += [
            (r.node_listen, f"node {r.name}"),
            (r.replicator_listen, f"replicator {r.name}"),
            (r.metrics_listen, f"node {r.name} metrics"),
            (r.replicator_metrics_listen, f"replicator {r.name} metrics"),
        ]
        if config.triggers_of(r.name):
            for address, whose in (
                (r.trigger_listen, f"triggers {r.name}"),
                (r.trigger_metrics_listen, f"triggers {r.name} metrics"),
            ):
                if address is not None:
                    out.append((address, whose))
    return out


def in_use(config: GroupConfig) -> list[str]:
    """What of the group's ports and data directories is in use, each named with its owner."""
    busy = [f"{address} ({whose})" for address, whose in ports(config) if port_in_use(address)]
    busy += [
        f"{r.data_dir} (data of {r.name})" for r in config.regions if data_dir_in_use(r.data_dir)
    ]
    return busy


def port_in_use(address: Address) -> bool:
    """Whether another socket listens on the address (a bind fails with EADDRINUSE).

    Other bind errors (an address of another machine) are for the process that binds it
    to report."""
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is free
        try:
            probe.bind((address.host, address.port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def data_dir_in_use(data_dir: pathlib.Path) -> bool:
    """Whether a process holds the RocksDB lock of the data directory (a node has it open).

    RocksDB locks the file LOCK with fcntl; a probe takes the same lock and lets it go."""
    try:
        fd = os.open(data_dir / "LOCK", os.O_RDWR)
    except OSError:
        return False  # no store there yet, or not ours to open: the node will say
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        return exc.errno in (errno.EACCES, errno.EAGAIN)
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    return False


def _listening_inodes(port: int) -> set[str] | None:
    """Inodes of the TCP sockets that listen on the port; None where /proc cannot tell."""
    inodes: set[str] = set()
    readable = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = pathlib.Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            fields = line.split()
            if fields[3] == LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes if readable else None


def listens_on(pid: int, port: int) -> bool:
    """Whether process `pid` holds a socket listening on the port.

    True where /proc cannot tell (not Linux): then an answer on the port is taken as the
    process's own, as it was before this check."""
    inodes = _listening_inodes(port)
    if inodes is None:
        return True
    fd_dir = pathlib.Path(f"/proc/{pid}/fd")
    try:
        fds = list(fd_dir.iterdir())
    except OSError:
        return False  # the process is gone
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False
