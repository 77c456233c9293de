"""Checkpoint files and dead-letter entries: durable, atomic, readable."""

from __future__ import annotations

import json
import pathlib

import pytest

from meridian.config import Address, KeyAttr, RegionConfig, TableConfig
from meridian.daemon import trigger_checkpoint as checkpoint
from meridian.daemon.trigger_checkpoint import Checkpoint, CheckpointError
from meridian.pb import node_pb2 as pb
from triggers import deadletter
from triggers.events import Record, sequence_text


def region(tmp_path: pathlib.Path) -> RegionConfig:
    address = Address("127.0.0.1", 1)
    return RegionConfig(
        name="us-east",
        node_listen=address,
        node_peer_listen=address,
        data_dir=tmp_path / "var" / "us-east",
        replicator_listen=address,
        metrics_listen=address,
        replicator_metrics_listen=address,
        trigger_metrics_listen=address,
    )


def saved(sequence_number: int = 7) -> Checkpoint:
    return Checkpoint("count", "us-east", "tasks", "abc", sequence_number, 1000, dead_letters=2)


def test_checkpoint_lives_next_to_the_region_data(tmp_path: pathlib.Path) -> None:
    path = checkpoint.path_for(region(tmp_path), "count")
    assert path == tmp_path / "var" / "triggers" / "us-east" / "count.json"


def test_save_then_load(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "t" / "count.json"
    assert checkpoint.load(path) is None
    checkpoint.save(path, saved(7))
    assert checkpoint.load(path) == saved(7)
    checkpoint.save(path, saved(9))
    assert checkpoint.load(path) == saved(9)
    assert sorted(p.name for p in path.parent.iterdir()) == ["count.json"]  # no temp files left


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        '{"format": 2}',
        '{"format": 1, "trigger": "count"}',
        json.dumps({"format": 1, **{"trigger": "c", "region": "r", "table": "t"}, "x": 1}),
        json.dumps(
            {
                "format": 1,
                "trigger": "c",
                "region": "r",
                "table": "t",
                "stream_id": "s",
                "sequence_number": -1,
                "updated_ms": 0,
            }
        ),
    ],
)
def test_a_damaged_checkpoint_is_refused_with_advice(tmp_path: pathlib.Path, text: str) -> None:
    path = tmp_path / "count.json"
    path.write_text(text)
    with pytest.raises(CheckpointError, match="move it away"):
        checkpoint.load(path)


def record(seq: int, images: int = 0) -> Record:
    data = {
        "eventID": f"e{seq}",
        "eventName": "INSERT",
        "dynamodb": {
            "Keys": {"pk": {"S": f"k{seq}"}},
            "NewImage": {"pk": {"S": f"k{seq}"}, "blob": {"S": "x" * images}},
            "SequenceNumber": sequence_text(seq),
        },
    }
    return Record(seq, 0, 10, 0, data, json.dumps(data))


def test_dead_letter_entry_describes_the_batch() -> None:
    entry = deadletter.entry(
        trigger="count",
        region="us-east",
        table="tasks",
        condition="RetryAttemptsExhausted",
        error="ValueError: bad",
        attempts=3,
        records=[record(4), record(5)],
        now_ms=1_795_350_140_956,
    )
    assert entry["time"] == "2026-11-22T12:22:20.956Z"
    assert entry["batch"] == {
        "first_sequence_number": "000000000000000000004",
        "last_sequence_number": "000000000000000000005",
        "size": 2,
    }
    assert [r["eventID"] for r in entry["records"]] == ["e4", "e5"]
    trimmed = deadletter.entry(
        trigger="count",
        region="us-east",
        table="tasks",
        condition="RecordsTrimmed",
        error="gone",
        attempts=0,
        records=[],
        now_ms=0,
        first=10,
        last=19,
    )
    assert trimmed["batch"]["size"] == 10
    assert trimmed["records"] == []


def test_file_destination_appends_json_lines(tmp_path: pathlib.Path) -> None:
    import asyncio

    path = tmp_path / "dlq" / "dead.jsonl"
    destination = deadletter.FileDestination(path)
    asyncio.run(destination.send({"n": 1}))
    asyncio.run(destination.send({"n": 2}))
    assert [json.loads(line) for line in path.read_text().splitlines()] == [{"n": 1}, {"n": 2}]


def _table(sort_key: KeyAttr | None) -> TableConfig:
    return TableConfig("dead", KeyAttr("pk", pb.KEY_TYPE_S), sort_key, pb.NEW_IMAGE, 86400)


def _entry(*records: Record) -> dict:
    return deadletter.entry(
        trigger="count",
        region="us-east",
        table="tasks",
        condition="RetryAttemptsExhausted",
        error="",
        attempts=1,
        records=list(records),
        now_ms=0,
    )


def test_dead_letter_items_are_keyed_by_trigger_region_and_sequence() -> None:
    item = deadletter.dead_letter_item(_entry(record(4)), _table(None))
    assert item.attributes["pk"].s == "count#us-east#000000000000000000004"
    item = deadletter.dead_letter_item(_entry(record(4)), _table(KeyAttr("sk", pb.KEY_TYPE_N)))
    assert item.attributes["pk"].s == "count#us-east"
    assert item.attributes["sk"].n == "4"
    records = item.attributes["records"].l.values
    assert records[0].m.fields["eventID"].s == "e4"


def test_oversized_dead_letter_items_keep_record_identities() -> None:
    entry = _entry(record(1, images=200_000), record(2, images=200_000))
    item = deadletter.dead_letter_item(entry, _table(KeyAttr("sk", pb.KEY_TYPE_S)))
    assert item.ByteSize() < 400 * 1024
    assert item.attributes["records_truncated"].bool
    assert [r.m.fields["eventID"].s for r in item.attributes["records"].l.values] == ["e1", "e2"]
