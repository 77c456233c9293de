"""What service managers and orchestrators see of real processes: systemd's readiness
notification, liveness and readiness on the gRPC health service, health-only listeners,
and `meridian health`."""

from __future__ import annotations

import pathlib
import signal
import socket
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.helpers import MERIDIAN, READINESS, e2e_group, health, run_cli
from tests.harness import free_address, write_group
from tests.harness.process import Process

NOTIFY_TIMEOUT_S = 30.0


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket as systemd binds for a Type=notify unit (abstract name)."""
    name = f"meridian-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.settimeout(NOTIFY_TIMEOUT_S)
        yield sock, f"@{name}"


def receive(sock: socket.socket, proc: Process) -> str:
    try:
        return sock.recv(4096).decode()
    except TimeoutError:
        raise proc.failure(f"no notification within {NOTIFY_TIMEOUT_S}s") from None


def test_a_node_notifies_ready_once_serving_and_stopping_on_sigterm(
    tmp_path: pathlib.Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, address = notify_socket
    doc = e2e_group(tmp_path)
    config = write_group(tmp_path / "group.yaml", doc)
    endpoint = doc["regions"][0]["node"]["listen"]
    argv = [*MERIDIAN, "node", "--config", str(config), "--region", "us-east"]
    node = Process("node us-east", argv, tmp_path / "node.log", env={"NOTIFY_SOCKET": address})
    node.start()
    try:
        assert receive(sock, node) == "READY=1"
        assert health(endpoint) == "SERVING"  # READY comes only once the doors serve
        assert health(endpoint, READINESS) == "SERVING"  # a region that is not bootstrapping
        node.send_signal(signal.SIGTERM)
        assert receive(sock, node) == "STOPPING=1"
        assert node.wait_exit() == 0
    finally:
        node.stop(check=False)


def test_readiness_waits_for_the_region_to_join_while_liveness_does_not(
    tmp_path: pathlib.Path,
) -> None:
    """An empty eu-west whose only peer is down cannot know whether it must copy the
    group's data: its replicator is alive but not ready until us-east answers."""
    doc = e2e_group(tmp_path, ("us-east", "eu-west"))
    eu = doc["regions"][1]
    eu["node"]["health"] = node_health = free_address()
    eu["replicator"]["health"] = replicator_health = free_address()
    config = write_group(tmp_path / "group.yaml", doc)

    def daemon(component: str, region: str) -> Process:
        argv = [*MERIDIAN, component, "--config", str(config), "--region", region]
        return Process(f"{component} {region}", argv, tmp_path / f"{component}-{region}.log")

    procs = [daemon("node", "eu-west"), daemon("replicator", "eu-west")]
    try:
        for proc in procs:
            proc.start()
        procs[0].wait_serving(node_health)
        procs[1].wait_serving(replicator_health)
        replicator = eu["replicator"]["listen"]
        assert health(replicator) == "SERVING"
        assert health(replicator, READINESS) == "NOT_SERVING"
        assert health(replicator_health, READINESS) == "NOT_SERVING"  # the same answers
        assert health(node_health, READINESS) == "SERVING"
        assert health(node_health, "meridian.client.v1.Client") == "SERVING"
        assert health(node_health, "no.such.Service") == "NOT_FOUND"

        alive = run_cli("health", "--address", replicator_health)
        assert (alive.returncode, alive.stdout.split()[-1]) == (0, "SERVING"), alive
        ready = run_cli("health", "--address", replicator_health, "--service", READINESS)
        assert (ready.returncode, ready.stdout.split()[-1]) == (1, "NOT_SERVING"), ready

        procs += [daemon("node", "us-east"), daemon("replicator", "us-east")]
        for proc in procs[2:]:
            proc.start()
        procs[1].wait_ready(lambda: health(replicator, READINESS) == "SERVING", 60, "eu-west ready")
        ready = run_cli("health", "--address", replicator_health, "--service", READINESS)
        assert ready.returncode == 0, ready
    finally:
        for proc in reversed(procs):
            proc.stop(check=False)
    unreachable = run_cli("health", "--address", replicator_health, "--timeout", "1")
    assert unreachable.returncode == 1 and "no answer" in unreachable.stdout, unreachable
    usage = run_cli("health")
    assert usage.returncode == 2 and "--address" in usage.stderr, usage
