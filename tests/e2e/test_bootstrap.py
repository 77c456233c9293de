"""Adding a region to a live group with real processes, killing it mid-copy."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import time
from collections.abc import Iterator

import pytest

from meridian.cli.supervisor import Child, wait_ready
from meridian.config import load
from meridian.pb import node_pb2 as pb
from meridian.wire.channels import connect
from tests.e2e.helpers import (
    READINESS,
    child_logs,
    e2e_group,
    health,
    json_of,
    node_info,
    run_cli,
    supervised,
)
from tests.harness import wait_until, write_group

ITEMS = 30_000


@pytest.fixture
def group(tmp_path: pathlib.Path) -> Iterator[tuple[pathlib.Path, dict[str, Child]]]:
    doc = e2e_group(tmp_path, ("us-east", "eu-west", "ap-south"), durability="buffered")
    doc["tables"][0]["stream"] = {"view_type": "NEW_AND_OLD_IMAGES", "retention": "5s"}
    # small copy messages: the copy of 30,000 items lasts long enough to be killed mid-way
    doc["replication"] = {"heartbeat_interval": "200ms", "bootstrap_batch": 20}
    config = write_group(tmp_path / "group.yaml", doc)
    with supervised(config) as procs:
        yield config, procs


def start(procs: dict[str, Child], *names: str) -> None:
    for name in names:
        procs[name].start()
    wait_ready([procs[n] for n in names])


def digest(config: pathlib.Path, region: str) -> str:
    channel, stub = connect(str(load(config).region(region).node_listen))
    with channel:
        return stub.Digest(pb.DigestRequest(table="orders"), timeout=30).digest


def preload(config: pathlib.Path, procs: dict[str, Child]) -> None:
    """ITEMS items in us-east and eu-west, k5 deleted, and their streams aged past retention."""
    start(procs, "us-east.node", "eu-west.node")
    start(procs, "us-east.replicator", "eu-west.replicator")
    lines = "\n".join(json.dumps({"put": {"pk": f"k{i}", "sk": "s", "n": i}}) for i in range(ITEMS))
    loaded = run_cli(
        "batch-write", "--config", config, "--region", "us-east", "-", input=lines, timeout=120
    )
    assert loaded.returncode == 0, loaded.stderr
    deleted = run_cli(
        "delete", "--config", config, "--region", "eu-west", json.dumps({"pk": "k5", "sk": "s"})
    )
    assert deleted.returncode == 0, deleted.stderr
    # both regions hold everything, and their streams age past the 5 s retention
    wait_until(
        lambda: digest(config, "us-east") == digest(config, "eu-west"),
        60,
        "us and eu agree",
        logs=[child_logs(procs)],
    )
    time.sleep(6)


def copy_started(config: pathlib.Path, procs: dict[str, Child]) -> None:
    start(procs, "ap-south.node", "ap-south.replicator")
    wait_until(
        lambda: node_info(config, "ap-south").bootstrap.entries > 0,
        60,
        "the copy to start",
        logs=[child_logs(procs)],
    )


def converged_without_the_delete(config: pathlib.Path, procs: dict[str, Child]) -> None:
    wait_until(
        lambda: run_cli("verify", "--config", config).returncode == 0,
        120,
        "verify",
        logs=[child_logs(procs)],
    )
    got = run_cli(
        "get", "--config", config, "--region", "ap-south", json.dumps({"pk": "k5", "sk": "s"})
    )
    assert json_of(got.stdout) is None  # the delete was not undone by the copy


def test_add_region_kill_9_mid_bootstrap_then_resume(group) -> None:
    config, procs = group
    preload(config, procs)
    copy_started(config, procs)
    os.kill(procs["ap-south.replicator"].proc.pid, signal.SIGKILL)
    procs["ap-south.replicator"].proc.wait()
    state = node_info(config, "ap-south").bootstrap
    assert state.state == "BOOTSTRAPPING" and 0 < state.entries < ITEMS + 1, state
    ap = load(config).region("ap-south")
    node, replicator = str(ap.node_listen), str(ap.replicator_listen)
    assert health(node) == "SERVING"  # alive, but not ready while half copied
    wait_until(
        lambda: health(node, READINESS) == "NOT_SERVING",
        10,
        "ap-south's node not ready",
        logs=[child_logs(procs)],
    )
    written = run_cli(
        "put", "--config", config, "--region", "us-east", json.dumps({"pk": "late", "sk": "s"})
    )
    assert written.returncode == 0, written.stderr
    start(procs, "ap-south.replicator")
    wait_until(
        lambda: node_info(config, "ap-south").bootstrap.state == "ACTIVE",
        120,
        "ap-south ACTIVE",
        logs=[child_logs(procs)],
    )
    wait_until(
        lambda: health(node, READINESS) == health(replicator, READINESS) == "SERVING",
        10,
        "ap-south ready",
        logs=[child_logs(procs)],
    )
    converged_without_the_delete(config, procs)
    got = run_cli(
        "get", "--config", config, "--region", "ap-south", json.dumps({"pk": "late", "sk": "s"})
    )
    assert json_of(got.stdout) == {"pk": "late", "sk": "s"}


def test_add_region_kill_9_node_mid_bootstrap_then_restart(group) -> None:
    """The new region's node killed mid-copy (between two of its writes, or in one): started
    again, it is still BOOTSTRAPPING with the progress of the batches it holds, and the copy
    resumes from there to a region that verifies equal."""
    config, procs = group
    preload(config, procs)
    copy_started(config, procs)
    for name in ("ap-south.node", "ap-south.replicator"):
        os.kill(procs[name].proc.pid, signal.SIGKILL)
        procs[name].proc.wait()
    start(procs, "ap-south.node")
    state = node_info(config, "ap-south").bootstrap
    assert state.state == "BOOTSTRAPPING" and 0 < state.entries < ITEMS + 1, state
    start(procs, "ap-south.replicator")
    wait_until(
        lambda: node_info(config, "ap-south").bootstrap.state == "ACTIVE",
        120,
        "ap-south ACTIVE",
        logs=[child_logs(procs)],
    )
    converged_without_the_delete(config, procs)
