"""A table in attribute merge mode, three regions in one process over real gRPC: concurrent
updates of different attributes all survive, a delete keeps only later attributes, the
stream records of merged applies, and the merge mode fixed at creation."""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

import grpc
import pytest

from meridian.config import GroupConfig
from meridian.daemon.errors import StartupError
from meridian.model import hlc, items
from meridian.pb import node_pb2 as pb
from meridian.pb import replicator_pb2 as rpb
from meridian.pb import replicator_pb2_grpc as rpb_grpc
from tests.harness import eventually, load_doc
from tests.harness.inprocess import Region, running_group
from tests.integration import test_ttl as ttl_support
from tests.integration.group import ORDERS, group_yaml

REGIONS = ["us", "eu", "ap"]
KEY = items.from_plain({"pk": "p", "sk": 1})


def config_with(
    tmp_path: pathlib.Path, merge: str, view: str = "NEW_AND_OLD_IMAGES"
) -> GroupConfig:
    table = {**ORDERS, "merge": merge, "stream": {"view_type": view}}
    return load_doc(group_yaml(tmp_path, REGIONS, tables=[table]), tmp_path / "group.yaml")


async def put(region: Region, **attrs: Any) -> None:
    item = items.from_plain({"pk": "p", "sk": 1, **attrs})
    await region.stub.PutItem(pb.PutItemRequest(table="orders", item=item))


async def update(region: Region, expression: str, **values: Any) -> None:
    await region.stub.UpdateItem(
        pb.UpdateItemRequest(
            table="orders",
            key=KEY,
            update_expression=expression,
            expression_attribute_values=items.from_plain(
                {f":{name}": value for name, value in values.items()}
            ).attributes,
        )
    )


async def shown(region: Region) -> dict[str, Any] | None:
    got = await region.stub.GetItem(pb.GetItemRequest(table="orders", key=KEY))
    return items.to_plain(got.item) if got.found else None


async def digests(group: dict[str, Region]) -> set[str]:
    return {
        (await region.stub.Digest(pb.DigestRequest(table="orders"))).digest
        for region in group.values()
    }


async def everywhere(group: dict[str, Region], expected: dict[str, Any] | None) -> None:
    """Wait until every region shows `expected` and holds the same state."""

    async def check() -> bool:
        return all([await shown(r) == expected for r in group.values()]) and (
            len(await digests(group)) == 1
        )

    await eventually(check, 15, f"every region to show {expected}")


async def stream(region: Region) -> list[pb.StreamRecord]:
    it = await region.stub.GetShardIterator(
        pb.GetShardIteratorRequest(table="orders", type=pb.TRIM_HORIZON)
    )
    page = await region.stub.GetRecords(pb.GetRecordsRequest(shard_iterator=it.shard_iterator))
    return list(page.records)


async def cut(group: dict[str, Region]) -> None:
    """Stop replication everywhere: writes made now are concurrent."""
    for region in group.values():
        await region.stop_replicator()


async def heal(group: dict[str, Region]) -> None:
    for region in group.values():
        await region.start_replicator()


BASE = {"pk": "p", "sk": 1, "a": "0", "b": "0", "gone": "x"}


def test_concurrent_updates_of_different_attributes_all_survive(tmp_path: pathlib.Path) -> None:
    async def scenario() -> None:
        async with running_group(config_with(tmp_path, "attribute")) as g:
            await put(g["us"], a="0", b="0", gone="x")
            await everywhere(g, BASE)
            await cut(g)
            await update(g["us"], "SET a = :a", a="us")
            await update(g["eu"], "SET b = :b", b="eu")
            await update(g["ap"], "SET c = :c REMOVE gone", c="ap")
            assert await shown(g["eu"]) == {**BASE, "b": "eu"}  # each sees only its own
            assert len(await digests(g)) == 3  # and `meridian verify` sees the difference
            await heal(g)
            merged = {"pk": "p", "sk": 1, "a": "us", "b": "eu", "c": "ap"}
            await everywhere(g, merged)
            for name, region in g.items():
                records = await stream(region)
                # the put, this region's update and one record per merged apply: no record
                # for what changed nothing
                assert len(records) == 4, name
                last = records[-1]
                assert last.event_name == pb.MODIFY
                assert items.to_plain(last.new_image) == merged, name
                assert items.to_plain(last.old_image) != merged, name  # as it was here
                assert last.version.region != name  # the origin's write, not this region's
                assert set(last.attributes.clock) >= {"a", "b", "c"}  # the merged state

    asyncio.run(scenario())


def test_a_losing_attribute_write_is_listed_as_a_conflict(tmp_path: pathlib.Path) -> None:
    async def scenario() -> None:
        async with running_group(config_with(tmp_path, "attribute")) as g:
            await put(g["us"], a="0", b="0", gone="x")
            await everywhere(g, BASE)
            await cut(g)
            await update(g["us"], "SET a = :a, c = :c", a="us", c="us")
            await asyncio.sleep(0.01)  # eu's write of a is the newer one
            await update(g["eu"], "SET a = :a", a="eu")
            await heal(g)
            await everywhere(g, {**BASE, "a": "eu", "c": "us"})
            listed = (await g["eu"].stub.ListConflicts(pb.ListConflictsRequest())).conflicts
            [conflict] = listed  # us's write of c applied here; its write of a lost
            assert list(conflict.attributes) == ["a"]
            assert (conflict.loser.region, conflict.winner.region) == ("us", "eu")
            assert conflict.winner.hlc > conflict.loser.hlc
            assert conflict.rule == "higher clock wins" and conflict.keys == KEY
            us_listed = (await g["us"].stub.ListConflicts(pb.ListConflictsRequest())).conflicts
            assert not us_listed  # eu's write won there: nothing of it lost

    asyncio.run(scenario())


def test_a_delete_keeps_only_the_attributes_written_after_it(tmp_path: pathlib.Path) -> None:
    async def scenario() -> None:
        async with running_group(config_with(tmp_path, "attribute")) as g:
            await put(g["us"], a="0", b="0", gone="x")
            await everywhere(g, BASE)
            await cut(g)
            await update(g["ap"], "SET b = :b", b="before the delete")
            await asyncio.sleep(0.01)  # later clocks (the regions share this machine's)
            await g["us"].stub.DeleteItem(pb.DeleteItemRequest(table="orders", key=KEY))
            await asyncio.sleep(0.01)
            await update(g["eu"], "SET a = :a", a="after the delete")
            await heal(g)
            await everywhere(g, {"pk": "p", "sk": 1, "a": "after the delete"})
            # a put replaces the item in every region, whatever attribute versions it had
            await put(g["ap"], z="new")
            await everywhere(g, {"pk": "p", "sk": 1, "z": "new"})

    asyncio.run(scenario())


def test_item_mode_keeps_last_writer_wins_for_the_whole_item(tmp_path: pathlib.Path) -> None:
    """The same concurrent updates in the default mode: one region's update is lost."""

    async def scenario() -> None:
        async with running_group(config_with(tmp_path, "item")) as g:
            await put(g["us"], a="0", b="0", gone="x")
            await everywhere(g, BASE)
            await cut(g)
            await update(g["us"], "SET a = :a", a="us")
            await asyncio.sleep(0.01)
            await update(g["eu"], "SET b = :b", b="eu")
            await heal(g)
            await everywhere(g, {**BASE, "b": "eu"})

    asyncio.run(scenario())


@pytest.mark.parametrize(("first", "then"), [("item", "attribute"), ("attribute", "item")])
def test_a_table_keeps_its_merge_mode(tmp_path: pathlib.Path, first: str, then: str) -> None:
    async def scenario() -> None:
        region = Region("us", config_with(tmp_path, first))
        await region.start_node()
        await region.stop()
        region = Region("us", config_with(tmp_path, then))
        with pytest.raises(StartupError, match=f"'orders' exists with merge mode {first}, not"):
            await region.start_node()

    asyncio.run(scenario())


def test_a_resync_merges_the_snapshot_attribute_by_attribute(tmp_path: pathlib.Path) -> None:
    """A snapshot entry merges like a record: eu keeps its own newer attribute and takes
    us's newer one, where last-writer-wins would take us's item whole."""

    async def scenario() -> None:
        config = config_with(tmp_path, "attribute")
        async with running_group(config, replicate=False) as g:
            await put(g["us"], a="0", b="0")
            await asyncio.sleep(0.01)
            await update(g["eu"], "SET b = :b", b="eu")
            await asyncio.sleep(0.01)
            await update(g["us"], "SET a = :a", a="us")
            # no streaming between the regions, only the resync (served by us's replicator)
            await g["us"].start_replicator(cut_from=["eu", "ap"])
            await g["eu"].start_replicator(cut_from=["us", "ap"])
            address = str(config.region("eu").replicator_listen)
            async with grpc.aio.insecure_channel(address) as channel:
                stub = rpb_grpc.ReplicatorStub(channel)
                updates = [u async for u in stub.Resync(rpb.ResyncRequest(source="us"))]
            assert updates[-1].state == "DONE"
            assert await shown(g["eu"]) == {"pk": "p", "sk": 1, "a": "us", "b": "eu"}
            assert await shown(g["us"]) == {"pk": "p", "sk": 1, "a": "us", "b": "0"}

    asyncio.run(scenario())


def _record(seq: int, clock: int, stamped: dict[str, int], **attrs: Any) -> pb.StreamRecord:
    """eu's record of item p/1 with `attrs`, whose attributes have the given clocks."""
    record = pb.StreamRecord(
        sequence_number=seq,
        event_name=pb.INSERT,
        creation_time_ms=hlc.wall_ms(),
        table="orders",
        version=pb.Version(hlc=clock, region="eu"),
    )
    record.keys.CopyFrom(KEY)
    record.new_image.CopyFrom(items.from_plain({"pk": "p", "sk": 1, **attrs}))
    for name, at in stamped.items():
        record.attributes.clock[name].hlc, record.attributes.clock[name].region = at, "eu"
    return record


def test_replicated_states_are_checked_then_merged(tmp_path: pathlib.Path) -> None:
    async def scenario() -> None:
        async with running_group(config_with(tmp_path, "attribute"), replicate=False) as g:
            us = g["us"]
            await put(us, a="us")
            await asyncio.sleep(0.01)  # the records below are newer than the put
            now = hlc.pack(hlc.wall_ms())
            keys = {"pk": now, "sk": now}
            bad = [
                ("version without value", _record(1, now, {**keys, "b": now})),
                ("value without version", _record(1, now, keys, b="eu")),
                ("version newer than its record", _record(1, now, {**keys, "b": now + 1}, b="x")),
            ]
            before = await digests({"us": us})
            for case, record in bad:
                request = pb.ApplyReplicatedRequest(
                    origin="eu", table="orders", records=[record], source_sequence=1
                )
                with pytest.raises(grpc.aio.AioRpcError) as err:
                    await us.peer.ApplyReplicated(request)
                assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, case
                assert "records[0]" in (err.value.details() or ""), case
                assert await digests({"us": us}) == before, case
            good = _record(1, now, {"b": now}, b="eu")  # eu set b; its key is older here
            request = pb.ApplyReplicatedRequest(
                origin="eu", table="orders", records=[good], source_sequence=1
            )
            reply = await us.peer.ApplyReplicated(request)
            assert reply.applied == 1
            assert await shown(us) == {"pk": "p", "sk": 1, "a": "us", "b": "eu"}
            reply = await us.peer.ApplyReplicated(  # the same state again changes nothing
                pb.ApplyReplicatedRequest(
                    origin="eu", table="orders", records=[_record(2, now, {"b": now}, b="eu")]
                )
            )
            assert (reply.applied, reply.duplicate) == (0, 1)

    asyncio.run(scenario())


def test_a_keys_only_stream_shows_no_attribute_versions(tmp_path: pathlib.Path) -> None:
    async def scenario() -> None:
        config = config_with(tmp_path, "attribute", view="KEYS_ONLY")
        async with running_group(config, replicate=False) as g:
            await put(g["us"], secret="x")
            (record,) = await stream(g["us"])
            assert record.keys == KEY
            assert not record.HasField("new_image")
            assert not record.HasField("attributes")

    asyncio.run(scenario())


def ttl_config(tmp_path: pathlib.Path) -> GroupConfig:
    table = {**ORDERS, "merge": "attribute", "ttl": {"attribute": "exp"}}
    replication = {"heartbeat_interval": "100ms", "ttl": {"interval": "50ms", "takeover": "60s"}}
    doc = group_yaml(tmp_path, REGIONS, tables=[table], replication=replication)
    return load_doc(doc, tmp_path / "g.yaml")


def test_ttl_expiry_is_an_item_tombstone_once_per_stream(tmp_path: pathlib.Path) -> None:
    """An expiry in attribute mode deletes like DeleteItem, in every region; regions that
    expire the item at once give one REMOVE each; a later write elsewhere survives it."""

    async def scenario() -> None:
        async with running_group(ttl_config(tmp_path)) as g:
            clock = ttl_support.Clock(500)
            clock.install(g.values())
            await put(g["us"], a="0", exp=1000)
            await everywhere(g, {"pk": "p", "sk": 1, "a": "0", "exp": 1000})
            await g["us"].stop_replicator()  # nobody hears of us's own expiry for a while
            clock.now = 1061  # past the takeover: each region expires the item
            for name, region in g.items():
                await eventually(lambda r=region: ttl_support.gone(r, "p"), 10, f"{name} expiry")
            await g["us"].start_replicator()
            await everywhere(g, None)
            await asyncio.sleep(0.5)
            for name, region in g.items():
                assert len(ttl_support.removes(region, "p")) == 1, name
            await update(g["eu"], "SET b = :b", b="after")  # recreates it with only b
            await everywhere(g, {"pk": "p", "sk": 1, "b": "after"})

    asyncio.run(scenario())
