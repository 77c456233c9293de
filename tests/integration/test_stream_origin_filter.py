"""An origin-filtered subscription (`Streams.subscribe`) skips other regions' records without
parsing them when the origin's name is nowhere in their bytes, and parses the rest as before:
the same records come out, and the position still moves past every record read."""

from __future__ import annotations

import asyncio
import pathlib

from meridian.model import schema
from meridian.model.items import from_plain
from meridian.pb import node_pb2 as pb
from regionnode.store import Store, Table, stream_key
from regionnode.stream import Streams

TABLE = "orders"


def _store(path: pathlib.Path, regions: list[tuple[str, str]]) -> Store:
    """A store whose stream holds one record per (origin region, item value), in order."""
    store = Store(path, sync=False)
    spec = pb.TableSpec(
        name=TABLE,
        partition_key=pb.KeyAttribute(name="pk", type=pb.KEY_TYPE_S),
        view_type=pb.NEW_AND_OLD_IMAGES,
    )
    desc = pb.TableDescription(
        spec=spec, stream_id="s1", schema_fingerprint=schema.fingerprint(spec)
    )
    store.put_table(Table(schema.Schema(spec), desc))
    batch = store.new_batch()
    for seq, (region, value) in enumerate(regions, start=1):
        record = pb.StreamRecord(event_name=pb.INSERT, sequence_number=seq, table=TABLE)
        record.keys.CopyFrom(from_plain({"pk": f"k{seq}"}))
        record.new_image.CopyFrom(from_plain({"pk": f"k{seq}", "v": value}))
        record.version.hlc, record.version.region = seq, region
        batch.put(stream_key(TABLE, seq), record.SerializeToString())
    store.write(batch)
    store.tables[TABLE].head = len(regions)
    return store


async def _first_batch(streams: Streams, req: pb.SubscribeRequest) -> pb.SubscribeBatch:
    subscription = streams.subscribe(req)
    try:
        return await asyncio.wait_for(anext(subscription), 5.0)
    finally:
        await subscription.aclose()


# the third record is of "us" but names "eu" in its image: parsed, then left out
REGIONS = [("us", "a"), ("eu", "b"), ("us", "eu"), ("us", "c")]
# (request, sequence numbers sent, scanned through)
CASES = [
    (pb.SubscribeRequest(table=TABLE, origin="eu"), [2], 4),
    (pb.SubscribeRequest(table=TABLE, origin="us"), [1, 3, 4], 4),
    (pb.SubscribeRequest(table=TABLE), [1, 2, 3, 4], 4),
    (pb.SubscribeRequest(table=TABLE, origin="eu", after_sequence_number=2), [], 4),
    (pb.SubscribeRequest(table=TABLE, origin="eu", max_batch=1), [], 1),
    (pb.SubscribeRequest(table=TABLE, origin="ap"), [], 4),
]


def test_filtered_subscription_skips_other_regions_records(tmp_path: pathlib.Path) -> None:
    store = _store(tmp_path / "n", REGIONS)
    streams = Streams(store)

    async def body() -> None:
        for req, sequences, scanned in CASES:
            batch = await _first_batch(streams, req)
            assert not batch.stored
            assert [r.sequence_number for r in batch.records] == sequences, req
            assert all(r.version.region == req.origin for r in batch.records if req.origin)
            assert batch.scanned_through == scanned, req
            assert batch.head_sequence_number == 4

    try:
        asyncio.run(body())
    finally:
        store.close()


def test_a_stored_subscription_sends_the_stored_bytes_of_the_same_records(
    tmp_path: pathlib.Path,
) -> None:
    """Replication's subscription (`stored`): the same records and positions, each as the
    exact bytes stored (both images), none parsed into `records`."""
    store = _store(tmp_path / "n", REGIONS)
    streams = Streams(store)
    raw = store.read_stream(TABLE, 0, 10)

    async def body() -> None:
        for plain, sequences, scanned in CASES:
            req = pb.SubscribeRequest()
            req.CopyFrom(plain)
            req.stored = True
            batch = await _first_batch(streams, req)
            assert not batch.records
            assert list(batch.stored) == [raw[seq - 1] for seq in sequences], req
            assert batch.scanned_through == scanned, req
            assert batch.head_sequence_number == 4

    try:
        asyncio.run(body())
    finally:
        store.close()


def test_a_commit_wakes_only_the_readers_of_its_records_origins(tmp_path: pathlib.Path) -> None:
    store = _store(tmp_path / "n", [("us", "a")])
    streams = Streams(store)

    async def body() -> None:
        us = asyncio.ensure_future(streams.wait(TABLE, "us"))
        everyone = asyncio.ensure_future(streams.wait(TABLE))
        await asyncio.sleep(0)
        streams.notify({TABLE: {"eu"}})
        await asyncio.wait_for(everyone, 5.0)
        await asyncio.sleep(0.05)
        assert not us.done()  # another region's record: the filtered reader sleeps on
        streams.notify({TABLE: {"eu", "us"}})
        await asyncio.wait_for(us, 5.0)

    try:
        asyncio.run(body())
    finally:
        store.close()


def test_a_filtered_reader_reports_its_position_past_other_regions_commits(
    tmp_path: pathlib.Path,
) -> None:
    """Not woken by another region's commit, it still reports the position it scanned
    through (its idle look at the head), and its own region's record wakes it."""
    store = _store(tmp_path / "n", [("us", "a")])
    streams = Streams(store)

    def commit(region: str, seq: int) -> None:
        record = pb.StreamRecord(event_name=pb.INSERT, sequence_number=seq, table=TABLE)
        record.version.hlc, record.version.region = seq, region
        batch = store.new_batch()
        batch.put(stream_key(TABLE, seq), record.SerializeToString())
        store.write(batch)
        store.tables[TABLE].head = seq
        streams.notify({TABLE: {region}})

    async def body() -> None:
        subscription = streams.subscribe(
            pb.SubscribeRequest(table=TABLE, origin="us", after_sequence_number=1)
        )
        try:
            first = asyncio.ensure_future(anext(subscription))
            await asyncio.sleep(0.05)
            commit("eu", 2)
            progress = await asyncio.wait_for(first, 5.0)
            assert (list(progress.records), progress.scanned_through) == ([], 2)
            commit("us", 3)
            batch = await asyncio.wait_for(anext(subscription), 5.0)
            assert [r.sequence_number for r in batch.records] == [3]
        finally:
            await subscription.aclose()

    try:
        asyncio.run(body())
    finally:
        store.close()
