"""One trigger's pipeline against a fake node and a fake function, in one process.

Covers the wiring of reader, filters, lanes, delivery and checkpoint: where a trigger
starts (TRIM_HORIZON, LATEST, its checkpoint, a recreated table), filtered records moving
the checkpoint, and records lost to stream retention being reported.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
import yaml
from prometheus_client import CollectorRegistry

from meridian.config import GroupConfig, parse
from meridian.daemon import trigger_checkpoint as checkpoint
from meridian.daemon.trigger_checkpoint import Checkpoint
from meridian.model import items
from meridian.pb import node_pb2 as pb
from meridian.wire import errors
from triggers import pipeline
from triggers.delivery import Result
from triggers.metrics import TriggerMetrics

# The fake records' creation time, and the runner's clock a minute later: nothing here
# reads the real clock, so the results do not depend on the day the tests run.
RECORD_TIME_MS = 1_795_350_140_000
NOW_MS = RECORD_TIME_MS + 60_000


class FakeNode:
    """DescribeStream and Subscribe over a list of records, like a node's stream."""

    def __init__(self, count: int, trim: int = 1, stream_id: str = "s1") -> None:
        self.records = [
            pb.StreamRecord(
                event_id=f"e{n}",
                event_name=pb.INSERT if n % 2 else pb.MODIFY,
                sequence_number=n,
                creation_time_ms=RECORD_TIME_MS,
                keys=items.from_plain({"pk": f"k{n % 3}"}),
                new_image=items.from_plain({"pk": f"k{n % 3}", "n": n}),
                version=pb.Version(hlc=n, region="us-east"),
                table="orders",
                view_type=pb.NEW_AND_OLD_IMAGES,
            )
            for n in range(trim, count + 1)
        ]
        self.trim = trim
        self.head = count
        self.stream_id = stream_id
        self.subscriptions: list[int] = []

    async def DescribeStream(self, request: Any, timeout: float = 0) -> Any:
        return pb.DescribeStreamResponse(
            stream_id=self.stream_id,
            head_sequence_number=self.head,
            trim_sequence_number=self.trim,
        )

    async def Subscribe(self, request: Any) -> AsyncIterator[Any]:
        self.subscriptions.append(request.after_sequence_number)
        if request.after_sequence_number + 1 < self.trim:
            # As a node says it: the reason in the trailer, a message for people only.
            status = errors.rich_status(
                grpc.StatusCode.FAILED_PRECONDITION, errors.Reason.TRIMMED_DATA, "gone"
            )
            raise grpc.aio.AioRpcError(
                status.code,
                grpc.aio.Metadata(),
                grpc.aio.Metadata(*status.trailing_metadata),
                details=status.details,
            )
        after = [r for r in self.records if r.sequence_number > request.after_sequence_number]
        for start in range(0, len(after), 4):
            chunk = after[start : start + 4]
            yield pb.SubscribeBatch(
                records=chunk,
                head_sequence_number=self.head,
                scanned_through=chunk[-1].sequence_number,
            )
        await asyncio.Event().wait()  # a live subscription: nothing more to send


class FakeInvoker:
    def __init__(self, calls: list[list[int]], behaviour: Callable[[dict], Result]) -> None:
        self.calls = calls
        self.behaviour = behaviour

    async def invoke(self, payload: str, timeout_s: float) -> Result:
        event = json.loads(payload)
        self.calls.append([int(r["dynamodb"]["SequenceNumber"]) for r in event["Records"]])
        return self.behaviour(event)

    async def close(self) -> None:
        return None


def group(tmp_path: pathlib.Path, **trigger: Any) -> GroupConfig:
    doc = {
        "group": "g",
        "tables": [{"name": "orders", "partition_key": {"name": "pk", "type": "S"}}],
        "regions": [
            {
                "name": "us-east",
                "node": {"listen": "127.0.0.1:7101", "data_dir": str(tmp_path / "us-east")},
                "replicator": {"listen": "127.0.0.1:7201"},
                "metrics": {"listen": "127.0.0.1:9101"},
            }
        ],
        "triggers": [
            {
                "name": "t",
                "table": "orders",
                "function": {"python": "m:f"},
                "starting_position": "TRIM_HORIZON",
                "batch_size": 3,
                "on_failure": {"file": str(tmp_path / "dead.jsonl")},
                **trigger,
            }
        ],
    }
    return parse(yaml.safe_dump(doc), tmp_path / "group.yaml")


def run_task(
    config: GroupConfig,
    node: FakeNode,
    until: Callable[[Checkpoint], bool],
    behaviour: Callable[[dict], Result] = lambda event: Result(True),
    monkeypatch: pytest.MonkeyPatch | None = None,
    now_ms: int = NOW_MS,
) -> tuple[list[list[int]], Checkpoint, TriggerMetrics]:
    calls: list[list[int]] = []
    assert monkeypatch is not None
    monkeypatch.setattr(pipeline, "make_invoker", lambda f, env: FakeInvoker(calls, behaviour))
    region = config.regions[0]
    metrics = TriggerMetrics(CollectorRegistry())
    path = checkpoint.path_for(region, "t")

    async def go() -> Checkpoint:
        task = pipeline.TriggerTask(
            config,
            region,
            config.triggers[0],
            node,  # type: ignore[arg-type]
            metrics,
            clock=lambda: now_ms,
        )
        job = asyncio.create_task(task.run())
        try:
            for _ in range(500):
                saved = checkpoint.load(path)
                if saved is not None and until(saved):
                    return saved
                assert not job.done(), job
                await asyncio.sleep(0.01)
            raise AssertionError(f"checkpoint stuck at {checkpoint.load(path)}; calls {calls}")
        finally:
            job.cancel()
            await asyncio.gather(job, return_exceptions=True)

    return calls, asyncio.run(go()), metrics


def value(metrics: TriggerMetrics, name: str, **labels: str) -> float:
    result = metrics.registry.get_sample_value(
        name, {"region": "us-east", "trigger": "t", **labels}
    )
    return result or 0.0


def test_records_are_batched_in_order_and_the_checkpoint_follows(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls, saved, metrics = run_task(
        group(tmp_path), FakeNode(10), lambda c: c.sequence_number == 10, monkeypatch=monkeypatch
    )
    assert sorted(n for call in calls for n in call) == list(range(1, 11))
    assert all(len(call) <= 3 for call in calls)
    assert (saved.stream_id, saved.dead_letters) == ("s1", 0)
    assert value(metrics, "meridian_trigger_records_total", outcome="processed") == 10
    assert value(metrics, "meridian_trigger_checkpoint_sequence") == 10


def test_filtered_records_are_skipped_but_move_the_checkpoint(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = group(tmp_path, filters=[{"eventName": ["INSERT"]}])
    calls, _, metrics = run_task(
        config, FakeNode(10), lambda c: c.sequence_number == 10, monkeypatch=monkeypatch
    )
    assert sorted(n for call in calls for n in call) == [1, 3, 5, 7, 9]
    assert value(metrics, "meridian_trigger_records_total", outcome="filtered") == 5


def test_a_restart_resumes_after_the_checkpoint(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = group(tmp_path)
    run_task(config, FakeNode(6), lambda c: c.sequence_number == 6, monkeypatch=monkeypatch)
    node = FakeNode(9)
    calls, _, _ = run_task(config, node, lambda c: c.sequence_number == 9, monkeypatch=monkeypatch)
    assert node.subscriptions[0] == 6
    assert sorted(n for call in calls for n in call) == [7, 8, 9]


def test_latest_starts_at_the_head_and_saves_it_at_once(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = group(tmp_path, starting_position="LATEST")
    node = FakeNode(10)
    # The checkpoint is saved before the reader subscribes: wait for both.
    calls, _, _ = run_task(
        config,
        node,
        lambda c: c.sequence_number == 10 and bool(node.subscriptions),
        monkeypatch=monkeypatch,
    )
    assert calls == []
    assert node.subscriptions == [10]


def test_a_recreated_table_starts_from_the_trim_horizon(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = group(tmp_path, starting_position="LATEST")
    path = checkpoint.path_for(config.regions[0], "t")
    checkpoint.save(path, Checkpoint("t", "us-east", "orders", "old-stream", 50, 0))
    calls, _, _ = run_task(
        config,
        FakeNode(4, stream_id="new"),
        lambda c: c.stream_id == "new" and c.sequence_number == 4,
        monkeypatch=monkeypatch,
    )
    assert sorted(n for call in calls for n in call) == [1, 2, 3, 4]


def test_records_trimmed_before_they_were_read_are_reported(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = group(tmp_path)
    path = checkpoint.path_for(config.regions[0], "t")
    checkpoint.save(path, Checkpoint("t", "us-east", "orders", "s1", 2, 0))
    calls, saved, _ = run_task(
        config, FakeNode(8, trim=6), lambda c: c.sequence_number == 8, monkeypatch=monkeypatch
    )
    assert sorted(n for call in calls for n in call) == [6, 7, 8]
    assert saved.trimmed == 3
    (entry,) = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert entry["condition"] == "RecordsTrimmed"
    assert entry["batch"] == {
        "first_sequence_number": "000000000000000000003",
        "last_sequence_number": "000000000000000000005",
        "size": 3,
    }


def test_failures_reach_the_destination_and_are_counted(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = group(tmp_path, max_retries=0, bisect_on_error=True)

    def fail_on_4(event: dict) -> Result:
        bad = any(r["dynamodb"]["SequenceNumber"].endswith("4") for r in event["Records"])
        return Result(False, error="no") if bad else Result(True)

    _, saved, metrics = run_task(
        config, FakeNode(6), lambda c: c.sequence_number == 6, fail_on_4, monkeypatch
    )
    assert saved.dead_letters == 1
    (entry,) = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert [r["eventID"] for r in entry["records"]] == ["e4"]
    assert value(metrics, "meridian_trigger_dead_letters_total") == 1
    assert value(metrics, "meridian_trigger_errors_total") >= 1


def test_records_older_than_the_maximum_age_go_to_the_destination_unread(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = group(tmp_path, max_record_age="1h")
    calls, saved, metrics = run_task(
        config,
        FakeNode(3),
        lambda c: c.sequence_number == 3,
        monkeypatch=monkeypatch,
        now_ms=RECORD_TIME_MS + 2 * 3_600_000,
    )
    assert calls == []
    assert saved.dead_letters == 3
    (entry,) = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert entry["condition"] == "RecordAgeExceeded"
    assert value(metrics, "meridian_trigger_dead_letters_total") == 3
