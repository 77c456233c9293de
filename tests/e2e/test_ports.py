"""One process per port: a second `meridian node` on an address in use exits 3 and names the
group file's key, and the first keeps answering every request."""

from __future__ import annotations

import copy
import pathlib

import grpc
import pytest
import yaml

from meridian.model import items
from meridian.pb import client_pb2_grpc
from meridian.pb import node_pb2 as pb
from tests.e2e.conftest import Nodes
from tests.e2e.helpers import NodeProcess
from tests.harness import free_address, write_group

pytestmark = pytest.mark.e2e

KEY = items.from_plain({"pk": "port", "sk": "1"})


def second_config(first: NodeProcess, path: pathlib.Path, **addresses: str) -> pathlib.Path:
    """The first node's group file with another data directory and the given addresses."""
    doc = yaml.safe_load(first.config.read_text())
    doc = copy.deepcopy(doc)
    region = doc["regions"][0]
    region["node"]["data_dir"] = str(path.parent / "second-data")
    region["node"]["listen"] = addresses.get("node", free_address())
    region["node"]["peer_listen"] = addresses.get("peer", free_address())
    region["metrics"]["listen"] = addresses.get("metrics", free_address())
    return write_group(path, doc)


def get_on_new_connection(endpoint: str) -> pb.GetItemResponse:
    """A get over its own connection (the kernel would spread connections over listeners)."""
    with grpc.insecure_channel(endpoint) as channel:
        stub = client_pb2_grpc.ClientStub(channel)
        return stub.GetItem(pb.GetItemRequest(table="orders", key=KEY), timeout=10)


def test_second_node_on_the_same_listen_address_exits_3_and_the_first_serves_all(
    nodes: Nodes, tmp_path: pathlib.Path
) -> None:
    first = nodes.node()
    first.ok("put", '{"pk": "port", "sk": "1", "v": 1}')
    config = second_config(first, tmp_path / "second.yaml", node=first.endpoint)
    second = nodes.node(config, ready=False)
    assert second.wait_exit() == 3, second.log()
    assert f"regions[0].node.listen {first.endpoint}: address in use" in second.log()
    assert "Traceback" not in second.log()
    assert first.running
    for _ in range(20):
        assert get_on_new_connection(first.endpoint).found


def test_metrics_address_in_use_exits_3_naming_it(nodes: Nodes, tmp_path: pathlib.Path) -> None:
    first = nodes.node()
    config = second_config(first, tmp_path / "second.yaml", metrics=first.metrics_endpoint)
    second = nodes.node(config, ready=False)
    assert second.wait_exit() == 3, second.log()
    log = second.log()
    assert f"regions[0].metrics.listen {first.metrics_endpoint}: address in use" in log
    assert "Traceback" not in log and "Event loop is closed" not in log, log
    assert first.running
