"""Stream triggers as real processes: a node, `python -m triggers`, and user functions.

A record that keeps failing goes to the dead-letter file while the rest proceed; kill -9
of the runner in the middle of a batch loses nothing (every record is processed at least
once) and the counter example stays exact; a hanging function is timed out and killed
while the node keeps serving; `meridian run` starts and stops the trigger runners.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import random
import signal
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from meridian.model import items
from meridian.pb import node_pb2 as pb
from meridian.wire.channels import connect
from tests.e2e.conftest import Nodes
from tests.e2e.helpers import (
    MeridianRun,
    NodeProcess,
    e2e_group,
    json_of,
    run_cli,
    sample_value,
)
from tests.harness import free_address, wait_until, write_group
from tests.harness.process import STOP_TIMEOUT_S, Process, daemon_argv
from tests.harness.waits import logs_of

pytestmark = pytest.mark.e2e

REPO = pathlib.Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 20.0

# Functions the tests' triggers call; the file sits next to the group file, where the
# worker looks for modules.
HANDLERS = '''
import json, os, sys, time

def _append(name, lines):
    with open(os.environ[name], "a") as f:
        f.write("".join(json.dumps(line) + "\\n" for line in lines))

def seen(event):
    """Log every record (sequence number, key), failing on records marked poison."""
    records = event["Records"]
    if any("poison" in r["dynamodb"].get("NewImage", {}) for r in records):
        raise ValueError("poison record")
    _append("OUT", [
        {"seq": int(r["dynamodb"]["SequenceNumber"]), "pk": r["dynamodb"]["Keys"]["pk"]["S"]}
        for r in records
    ])

def slow_seen(event):
    _append("OUT", [{"seq": int(r["dynamodb"]["SequenceNumber"])} for r in event["Records"]])
    time.sleep(0.05)

def hang_or_seen(event):
    if any("hang" in r["dynamodb"].get("NewImage", {}) for r in event["Records"]):
        _append("PIDS", [os.getpid()])
        time.sleep(3600)
    seen(event)

def slow_count(event):
    """The counter example, one list at a time with pauses: a kill lands mid-batch."""
    from examples.task_counter import handler
    stub = handler.node()
    for list_id, changes in handler.changes_by_list(event["Records"]).items():
        handler.apply(stub, list_id, changes)
        time.sleep(0.02)
'''


def table(name: str, pk: str = "pk", sk: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": name, "partition_key": {"name": pk, "type": "S"}}
    if sk:
        doc["sort_key"] = {"name": sk, "type": "S"}
    return doc


def trigger_group(
    base: pathlib.Path, tables: list[dict[str, Any]], triggers: list[dict[str, Any]]
) -> pathlib.Path:
    """A one-region group file (us-east) with triggers; the handlers module beside it."""
    (base / "e2e_trigger_handlers.py").write_text(HANDLERS)
    doc = e2e_group(base, durability="buffered", tables=tables)
    doc["regions"][0]["triggers"] = {"listen": free_address(), "metrics": free_address()}
    doc["triggers"] = triggers
    return write_group(base / "group.yaml", doc)


def wait_for(
    condition: Callable[[], object], what: str, logs: Callable[[], str], timeout: float = 20.0
) -> None:
    """Poll until ``condition`` holds (a missing or half-written file counts as no); raise
    with the processes' logs at the deadline."""
    wait_until(condition, timeout, what, logs=[logs], retry=(OSError, ValueError))


def _descendants(pid: int) -> list[int]:
    """Child processes (and theirs), from /proc."""
    out: list[int] = []
    try:
        tasks = pathlib.Path(f"/proc/{pid}/task").iterdir()
        children = [int(c) for t in tasks for c in (t / "children").read_text().split()]
    except (OSError, ValueError):
        return out
    for child in children:
        out += [child, *_descendants(child)]
    return out


class TriggerRunner(Process):
    """One `python -m triggers` process (started in the repository, where examples live)."""

    def __init__(self, config: pathlib.Path, region: str, log_path: pathlib.Path) -> None:
        argv = daemon_argv("triggers", config, region)
        super().__init__(f"trigger runner {region}", argv, log_path)
        self.config = config
        self.region = region
        doc = yaml.safe_load(config.read_text())
        (entry,) = [r for r in doc["regions"] if r["name"] == region]
        self.metrics_endpoint: str = entry["triggers"]["metrics"]
        self.endpoint: str = entry["triggers"]["listen"]
        self.data_dir = pathlib.Path(entry["node"]["data_dir"])
        self.children: set[int] = set()

    def logs(self, node: NodeProcess | None = None) -> str:
        return logs_of([self] if node is None else [self, node])

    def wait_healthy(self, timeout: float = READY_TIMEOUT_S) -> TriggerRunner:
        """Ready once its gRPC health check says SERVING (and then its metrics answer)."""
        self.wait_serving(self.endpoint, timeout)
        assert self.metrics_text() is not None, self.logs()
        return self

    def metrics_text(self) -> str | None:
        try:
            url = f"http://{self.metrics_endpoint}/metrics"
            with urllib.request.urlopen(url, timeout=2) as reply:
                return str(reply.read().decode())
        except OSError:
            return None

    def metric(self, name: str, trigger: str) -> float:
        return sample_value(self.metrics_text() or "", name, trigger=trigger)

    def checkpoint(self, trigger: str) -> dict[str, Any]:
        path = self.data_dir.parent / "triggers" / self.region / f"{trigger}.json"
        return dict(json.loads(path.read_text()))

    def _note_children(self) -> None:
        if self.popen is not None:
            self.children.update(_descendants(self.pid))

    def kill9(self) -> None:
        self._note_children()
        super().kill9()

    def stop(
        self, timeout: float = STOP_TIMEOUT_S, sig: int = signal.SIGTERM, *, check: bool = True
    ) -> int | None:
        """SIGTERM, then wait; kill -9 and raise when it does not exit in time."""
        self._note_children()
        return super().stop(timeout, sig, check=check)

    def cleanup(self) -> None:
        """The runner and any worker it left behind are gone after the test."""
        self._note_children()
        super().cleanup()
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def runners() -> Iterator[list[TriggerRunner]]:
    started: list[TriggerRunner] = []
    try:
        yield started
    finally:
        for runner in started:
            runner.cleanup()


def start_runner(
    runners: list[TriggerRunner], config: pathlib.Path, region: str = "us-east"
) -> TriggerRunner:
    runner = TriggerRunner(config, region, config.parent / f"triggers-{region}.log")
    runners.append(runner)
    return runner.start().wait_healthy()


def json_file(path: pathlib.Path) -> list[Any]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def head(node: NodeProcess, table_name: str) -> int:
    channel, stub = connect(node.endpoint)
    with channel:
        reply = stub.DescribeStream(pb.DescribeStreamRequest(table=table_name), timeout=5)
        return int(reply.head_sequence_number)


def batch_write(node: NodeProcess, table_name: str, writes: list[tuple[str, dict]]) -> None:
    """("put", item) / ("delete", key) pairs in one BatchWriteItem call."""
    requests = [
        pb.WriteRequest(put=items.from_plain(obj))
        if kind == "put"
        else pb.WriteRequest(delete_key=items.from_plain(obj))
        for kind, obj in writes
    ]
    channel, stub = connect(node.endpoint)
    with channel:
        stub.BatchWriteItem(pb.BatchWriteItemRequest(table=table_name, writes=requests), timeout=10)


# ---------------------------------------------------------------- dead letters


def test_a_failing_record_goes_to_the_dead_letter_file_while_the_rest_proceed(
    nodes: Nodes, runners: list[TriggerRunner], tmp_path: pathlib.Path
) -> None:
    out, dead = tmp_path / "out.jsonl", tmp_path / "dead.jsonl"
    config = trigger_group(
        tmp_path,
        [table("orders")],
        [
            {
                "name": "seen",
                "table": "orders",
                "function": {"python": "e2e_trigger_handlers:seen"},
                "starting_position": "TRIM_HORIZON",
                "batch_size": 8,
                "batching_window": "300ms",
                "bisect_on_error": True,
                "max_retries": 1,
                "on_failure": {"file": str(dead)},
                "environment": {"OUT": str(out)},
            }
        ],
    )
    node = nodes.node(config)
    runner = start_runner(runners, config)
    logs = lambda: runner.logs(node)  # noqa: E731
    writes = [("put", {"pk": f"o{i:02d}", "n": i}) for i in range(20)]
    writes[6] = ("put", {"pk": "o06", "poison": True})
    batch_write(node, "orders", writes)

    good = {f"o{i:02d}" for i in range(20)} - {"o06"}
    wait_for(lambda: {r["pk"] for r in json_file(out)} == good, "the 19 good records", logs)
    wait_for(lambda: runner.checkpoint("seen")["sequence_number"] == 20, "the checkpoint", logs)
    (entry,) = json_file(dead)
    assert entry["condition"] == "RetryAttemptsExhausted"
    assert entry["error"] == "ValueError: poison record"
    assert entry["attempts"] == 2  # the first try and the one retry, after bisecting
    assert entry["batch"]["size"] == 1
    (record,) = entry["records"]
    assert record["eventName"] == "INSERT"
    assert record["dynamodb"]["Keys"] == {"pk": {"S": "o06"}}
    assert record["dynamodb"]["NewImage"]["poison"] == {"BOOL": True}
    assert record["meridian"]["origin"] == "us-east"
    assert runner.checkpoint("seen")["dead_letters"] == 1

    status = run_cli("triggers", "status", "--config", config, "--json")
    assert status.returncode == 0, status.stderr
    (row,) = json_of(status.stdout)["triggers"]
    assert row["state"] == "RUNNING"
    assert (row["checkpoint"], row["behind"], row["dead_letters"]) == (20, 0, 1)
    assert row["errors"] >= 1 and row["invocations"] > row["errors"]
    assert row["records"] == 19
    human = run_cli("triggers", "status", "--config", config, "--region", "us-east")
    assert "seen" in human.stdout and "RUNNING" in human.stdout, human.stdout
    unknown = run_cli("triggers", "status", "--config", config, "--region", "mars")
    assert unknown.returncode == 2 and "mars" in unknown.stderr, unknown.stderr
    assert runner.metric("meridian_trigger_dead_letters_total", "seen") == 1
    assert runner.stop() == 0
    stopped = json_of(run_cli("triggers", "status", "--config", config, "--json").stdout)
    assert stopped["triggers"][0]["state"] == "NOT_RUNNING"
    assert stopped["triggers"][0]["dead_letters"] == 1  # durable, from the checkpoint file


# ---------------------------------------------------------------- kill -9


def test_kill_9_mid_batch_processes_every_record_and_the_counter_stays_exact(
    nodes: Nodes, runners: list[TriggerRunner], tmp_path: pathlib.Path
) -> None:
    out = tmp_path / "seen.jsonl"
    config = trigger_group(
        tmp_path,
        [table("tasks", "list", "task"), table("task_counts", "list")],
        [
            {
                "name": "count-tasks",
                "table": "tasks",
                "function": {"python": "e2e_trigger_handlers:slow_count"},
                "starting_position": "TRIM_HORIZON",
                "batch_size": 25,
            },
            {
                "name": "audit",
                "table": "tasks",
                "function": {"python": "e2e_trigger_handlers:slow_seen"},
                "starting_position": "TRIM_HORIZON",
                "batch_size": 10,
                "parallelization": 3,
                "environment": {"OUT": str(out)},
            },
        ],
    )
    node = nodes.node(config)
    runner = start_runner(runners, config)
    logs = lambda: runner.logs(node)  # noqa: E731
    rng = random.Random(7)
    lists = [f"list-{n}" for n in range(4)]
    done = threading.Event()
    failures: list[str] = []

    def writer() -> None:
        try:
            for _ in range(30):
                writes: dict[tuple[str, str], tuple[str, dict]] = {}  # one write per key
                for _ in range(15):
                    key = {"list": rng.choice(lists), "task": f"t{rng.randrange(25)}"}
                    if rng.random() < 0.3:
                        writes[key["list"], key["task"]] = ("delete", key)
                    else:
                        writes[key["list"], key["task"]] = ("put", {**key, "v": rng.randrange(3)})
                batch_write(node, "tasks", list(writes.values()))
                time.sleep(0.05)
        except Exception as exc:
            failures.append(repr(exc))
        finally:
            done.set()

    def counting() -> bool:
        assert not failures, failures
        return bool(runner.checkpoint("count-tasks")["sequence_number"] > 20)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        wait_for(counting, "counting", logs)
        runner.kill9()
        time.sleep(0.3)
        runner.start().wait_healthy()
    finally:
        thread.join(60)
    assert done.is_set() and not failures, failures
    last = head(node, "tasks")
    for name in ("count-tasks", "audit"):
        wait_for(
            lambda name=name: runner.checkpoint(name)["sequence_number"] == last,
            f"{name} to catch up with {last} records",
            logs,
            timeout=30,
        )
    seen = Counter(r["seq"] for r in json_file(out))
    assert set(seen) == set(range(1, last + 1))  # every record at least once

    channel, stub = connect(node.endpoint)
    with channel:
        tasks = stub.Scan(pb.ScanRequest(table="tasks"), timeout=10).items
        counts = stub.Scan(pb.ScanRequest(table="task_counts"), timeout=10).items
    expected = Counter(items.to_plain(t)["list"] for t in tasks)
    kept = {c["list"]: int(c["count"]) for c in map(items.to_plain, counts)}
    assert {k: v for k, v in kept.items() if v} == dict(expected), logs()
    assert "--- starting trigger runner" in runner.log()


# ---------------------------------------------------------------- timeouts


def test_a_hanging_function_is_timed_out_and_the_node_keeps_serving(
    nodes: Nodes, runners: list[TriggerRunner], tmp_path: pathlib.Path
) -> None:
    out, dead, pids = tmp_path / "out.jsonl", tmp_path / "dead.jsonl", tmp_path / "pids.jsonl"
    config = trigger_group(
        tmp_path,
        [table("orders")],
        [
            {
                "name": "hangs",
                "table": "orders",
                "function": {"python": "e2e_trigger_handlers:hang_or_seen"},
                "starting_position": "LATEST",
                "timeout": "1s",
                "max_retries": 0,
                "on_failure": {"file": str(dead)},
                "environment": {"OUT": str(out), "PIDS": str(pids)},
            }
        ],
    )
    node = nodes.node(config)
    runner = start_runner(runners, config)
    logs = lambda: runner.logs(node)  # noqa: E731
    wait_for(lambda: runner.checkpoint("hangs") is not None, "the LATEST checkpoint", logs)
    batch_write(node, "orders", [("put", {"pk": "stuck", "hang": True})])
    wait_for(lambda: len(json_file(pids)) == 1, "the function to hang", logs)
    (worker,) = json_file(pids)
    channel, stub = connect(node.endpoint)
    with channel:
        for i in range(5):  # the node answers promptly while the function hangs
            started = time.monotonic()
            key = items.from_plain({"pk": f"after{i}"})
            stub.PutItem(pb.PutItemRequest(table="orders", item=key), timeout=2)
            assert stub.GetItem(pb.GetItemRequest(table="orders", key=key), timeout=2).found
            assert time.monotonic() - started < 1
    wait_for(lambda: len(json_file(dead)) == 1, "the timed-out record", logs)
    (entry,) = json_file(dead)
    assert entry["error"] == "timed out after 1s (worker killed)"
    assert entry["records"][0]["dynamodb"]["Keys"] == {"pk": {"S": "stuck"}}
    wait_for(lambda: not pathlib.Path(f"/proc/{worker}").exists(), "the worker to die", logs)
    wait_for(
        lambda: {r["pk"] for r in json_file(out)} == {f"after{i}" for i in range(5)},
        "the records after it",
        logs,
    )
    assert runner.stop() == 0


# ---------------------------------------------------------------- meridian run


def test_meridian_run_starts_and_stops_trigger_runners(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "out.txt"
    script = tmp_path / "append.py"
    script.write_text(
        "import json, os, sys\n"
        "event = json.load(sys.stdin)\n"
        "with open(os.environ['OUT'], 'a') as f:\n"
        "    for r in event['Records']:\n"
        "        f.write(r['dynamodb']['Keys']['pk']['S'] + '\\n')\n"
    )
    config = trigger_group(
        tmp_path,
        [table("orders")],
        [
            {
                "name": "append",
                "table": "orders",
                "function": {"command": [sys.executable, str(script)]},
                "starting_position": "TRIM_HORIZON",
                "environment": {"OUT": str(out)},
            }
        ],
    )
    log_dir = tmp_path / "logs"
    run = MeridianRun(config, tmp_path / "run.out", log_dir).start()
    logs = run.output
    try:
        wait_for(lambda: "is running" in logs(), "the group to start", logs, timeout=40)
        assert "append" in logs() and "meridian triggers status" in logs()
        put = run_cli("put", "--config", config, "--region", "us-east", '{"pk": "hello"}')
        assert put.returncode == 0, put.stderr
        wait_for(lambda: out.read_text() == "hello\n", "the trigger to run", logs)
        children = _descendants(run.pid)
        assert run.stop(STOP_TIMEOUT_S * 2) == 130, logs()  # interrupted, as by Ctrl-C
        assert not [pid for pid in children if pathlib.Path(f"/proc/{pid}").exists()]
        assert (log_dir / "us-east.triggers.log").exists()
    finally:
        run.cleanup()
