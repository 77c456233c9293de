"""A graceful stop leaves clean logs: no tracebacks, no ERROR lines."""

from __future__ import annotations

import pathlib
import signal
import threading
import time
from collections.abc import Iterator

import grpc
import pytest

from meridian.cli.supervisor import Child, wait_ready
from meridian.config import load
from meridian.model import items
from meridian.pb import node_pb2 as pb
from meridian.pb import replicator_pb2 as rpb
from meridian.pb import replicator_pb2_grpc as rpb_grpc
from meridian.wire.channels import connect
from tests.e2e.helpers import child_logs, e2e_group, supervised
from tests.harness import wait_until, write_group

REGIONS = ("us-east", "eu-west", "ap-south")


@pytest.fixture
def group(tmp_path: pathlib.Path) -> Iterator[tuple[pathlib.Path, dict[str, Child]]]:
    doc = e2e_group(tmp_path, REGIONS, durability="buffered")
    doc["replication"] = {"heartbeat_interval": "200ms"}
    config = write_group(tmp_path / "group.yaml", doc)
    with supervised(config) as procs:
        yield config, procs


def streaming_from(config: pathlib.Path, source: str) -> bool:
    """Whether every other region's link from ``source`` streams."""
    for region in REGIONS:
        if region == source:
            continue
        with grpc.insecure_channel(str(load(config).region(region).replicator_listen)) as ch:
            try:
                reply = rpb_grpc.ReplicatorStub(ch).Status(rpb.StatusRequest(), timeout=2)
            except grpc.RpcError:
                return False
        states = {link.source: link.state for link in reply.links}
        if states.get(source) != "STREAMING":
            return False
    return True


def write_until(config: pathlib.Path, stop: threading.Event) -> None:
    """Put items into us-east until told to stop, so its pulls carry records."""
    channel, stub = connect(str(load(config).region("us-east").node_listen))
    with channel:
        n = 0
        while not stop.is_set():
            item = {"pk": f"k{n}", "sk": "x", "pad": "x" * 200}
            stub.PutItem(pb.PutItemRequest(table="orders", item=items.from_plain(item)), timeout=10)
            n += 1


def test_sigint_of_a_replicator_serving_pulls_logs_no_traceback(group) -> None:
    config, procs = group
    for component in ("node", "replicator"):
        batch = [procs[f"{r}.{component}"] for r in REGIONS]
        for child in batch:
            child.start()
        wait_ready(batch)
    stopping = procs["us-east.replicator"]
    for _attempt in range(3):  # the stop caught a pull mid-stream about every other time
        wait_until(
            lambda: streaming_from(config, "us-east"),
            30,
            "links from us-east",
            logs=[child_logs(procs)],
        )
        stop = threading.Event()
        writer = threading.Thread(target=write_until, args=(config, stop))
        writer.start()
        try:
            time.sleep(1.0)
            assert stopping.proc is not None
            stopping.proc.send_signal(signal.SIGINT)
            code = stopping.proc.wait(timeout=30)
        finally:
            stop.set()
            writer.join(timeout=30)
        log = stopping.log_path.read_text(errors="replace")
        assert code == 0, log
        assert "Traceback" not in log and " ERROR " not in log, log
        stopping.start()
        wait_ready([stopping])
