"""The trigger examples (examples/group.yaml) against a real node and trigger runner.

One region of the example group on free ports runs all three examples: the per-list task
counter, the SQLite FTS5 search index (and its search command), and the archive of removed
items.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from meridian.model import items
from meridian.pb import node_pb2 as pb
from meridian.wire.channels import connect
from tests.e2e.conftest import Nodes
from tests.e2e.test_triggers import REPO, TriggerRunner, batch_write, head, wait_for
from tests.harness import free_address, region_doc, write_group

pytestmark = pytest.mark.e2e

EXAMPLE = REPO / "examples" / "group.yaml"


class Example:
    def __init__(self, base: pathlib.Path, node: Any, runner: TriggerRunner) -> None:
        self.base = base
        self.node = node
        self.runner = runner

    def logs(self) -> str:
        return self.runner.logs(self.node)

    def settle(self, table: str, trigger: str) -> None:
        """Wait until the trigger has finished every record of its table."""
        last = head(self.node, table)
        wait_for(
            lambda: self.runner.checkpoint(trigger)["sequence_number"] >= last,
            f"{trigger} to reach {last}",
            self.logs,
        )

    def scan(self, table: str) -> list[dict[str, Any]]:
        channel, stub = connect(self.node.endpoint)
        with channel:
            reply = stub.Scan(pb.ScanRequest(table=table), timeout=10)
        return [items.to_plain(item) for item in reply.items]


def example_group(base: pathlib.Path) -> pathlib.Path:
    """examples/group.yaml with one region (us-east) on free ports and files under base."""
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["regions"] = [region_doc("us-east", base / "data" / "us-east")]
    doc["regions"][0]["triggers"] = {"listen": free_address(), "metrics": free_address()}
    doc["durability"] = "buffered"
    for trigger in doc["triggers"]:
        trigger.pop("regions", None)
        if "file" in trigger.get("on_failure", {}):
            trigger["on_failure"]["file"] = str(base / f"{trigger['name']}.dead.jsonl")
        if "SEARCH_INDEX_DB" in trigger.get("environment", {}):
            trigger["environment"]["SEARCH_INDEX_DB"] = str(base / "search.db")
    return write_group(base / "group.yaml", doc)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Example]:
    base = tmp_path_factory.mktemp("examples")
    nodes = Nodes(base)
    config = example_group(base)
    runner = TriggerRunner(config, "us-east", base / "triggers.log")
    try:
        node = nodes.node(config)
        runner.start().wait_healthy()
        yield Example(base, node, runner)
        assert runner.stop() == 0, runner.log()
    finally:
        runner.cleanup()
        nodes.cleanup()


def test_task_counter_counts_tasks_per_list(example: Example) -> None:
    tasks = [{"list": f"l{i % 3}", "task": f"t{i}", "title": "x"} for i in range(30)]
    batch_write(example.node, "tasks", [("put", t) for t in tasks])
    batch_write(example.node, "tasks", [("put", {**t, "title": "y"}) for t in tasks[:10]])
    batch_write(
        example.node, "tasks", [("delete", {"list": "l0", "task": f"t{i}"}) for i in (0, 3)]
    )
    example.settle("tasks", "count-tasks")
    counts = {c["list"]: c["count"] for c in example.scan("task_counts")}
    expected = Counter(t["list"] for t in example.scan("tasks"))
    assert counts == dict(expected) == {"l0": 8, "l1": 10, "l2": 10}


def search(example: Example, query: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "examples.search_index.search",
            "--db",
            str(example.base / "search.db"),
            "--json",
            query,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_search_index_follows_puts_updates_and_deletes(example: Example) -> None:
    docs = [
        {"id": "d1", "title": "Replication lag", "body": "how far behind a region is"},
        {"id": "d2", "title": "Tombstones", "body": "deletes remembered with their version"},
        {"id": "d3", "title": "Triggers", "body": "functions run on stream records"},
    ]
    batch_write(example.node, "docs", [("put", d) for d in docs])
    example.settle("docs", "index-docs")
    assert [hit["id"] for hit in search(example, "region")] == ["d1"]
    assert [hit["id"] for hit in search(example, "stream OR version")] in (
        ["d2", "d3"],
        ["d3", "d2"],
    )
    batch_write(
        example.node,
        "docs",
        [("put", {**docs[0], "body": "measured in seconds"}), ("delete", {"id": "d2"})],
    )
    example.settle("docs", "index-docs")
    assert search(example, "region") == []
    assert [hit["id"] for hit in search(example, "seconds")] == ["d1"]
    assert search(example, "tombstones") == []
    hit = search(example, "functions")[0]
    assert (hit["id"], hit["title"]) == ("d3", "Triggers") and "[functions]" in hit["snippet"]


def test_archive_keeps_removed_items(example: Example) -> None:
    batch_write(example.node, "items", [("put", {"id": f"i{n}", "n": n}) for n in range(5)])
    batch_write(example.node, "items", [("delete", {"id": "i1"}), ("delete", {"id": "i3"})])
    batch_write(example.node, "items", [("put", {"id": "i1", "n": 10})])
    batch_write(example.node, "items", [("delete", {"id": "i1"})])
    example.settle("items", "archive-removed")
    archived = sorted(example.scan("items_archive"), key=lambda a: (a["id"], a["removed_at"]))
    assert [(a["id"], a["n"]) for a in archived] == [("i1", 1), ("i1", 10), ("i3", 3)]
    assert all(a["removed_in"] == "us-east" and a["removed_time"].endswith("Z") for a in archived)
    assert example.scan("dead_letters") == []


def test_ttl_archive_keeps_expired_sessions_only(example: Example) -> None:
    """A session whose expires_at has passed (a minute before the test's own clock; the node
    process expires by its wall clock) is expired by the node and archived; a session a
    client deletes, and one that does not expire, are not."""
    batch_write(
        example.node,
        "sessions",
        [
            ("put", {"id": "s1", "user": "ann", "expires_at": int(time.time()) - 60}),
            ("put", {"id": "s2", "user": "bob"}),
            ("put", {"id": "s3", "user": "cy"}),
        ],
    )
    batch_write(example.node, "sessions", [("delete", {"id": "s3"})])
    wait_for(
        lambda: [s["id"] for s in example.scan("sessions")] == ["s2"],
        "the node to expire s1",
        example.logs,
    )
    example.settle("sessions", "archive-expired")
    (archived,) = example.scan("sessions_archive")
    assert (archived["id"], archived["user"], archived["expired"]) == ("s1", "ann", True)
    assert archived["removed_in"] == "us-east"
    assert example.scan("dead_letters") == []
