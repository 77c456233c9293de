"""Tombstone collection: only after the lifetime, and only once no older write can arrive and
every peer holds the delete; after the maximum lifetime anyway, without resurrections."""

from __future__ import annotations

import asyncio
import pathlib

import grpc

from meridian.config import GroupConfig
from meridian.model import hlc, items
from meridian.pb import node_pb2 as pb
from tests.harness import eventually, load_doc
from tests.harness.inprocess import Region, running_group
from tests.integration.group import group_yaml

DAY_MS = 86_400_000
FAR_FUTURE = 10**13  # a wall-clock value that makes every stream record look expired


def key(pk: str) -> pb.Item:
    return items.from_plain({"pk": pk, "sk": 1})


async def tombstones(region) -> int:
    return (await region.stub.Digest(pb.DigestRequest(table="orders"))).tombstones


def test_single_region_collects_after_lifetime_only(tmp_path: pathlib.Path) -> None:
    doc = group_yaml(tmp_path, ["solo"], replication={"tombstone_lifetime": "2s"})
    config = load_doc(doc, tmp_path / "g.yaml")

    async def scenario() -> None:
        async with running_group(config, replicate=False) as g:
            solo = g["solo"]
            for pk in ("a", "b"):
                await solo.stub.PutItem(pb.PutItemRequest(table="orders", item=key(pk)))
                await solo.stub.DeleteItem(pb.DeleteItemRequest(table="orders", key=key(pk)))
            await solo.stub.PutItem(pb.PutItemRequest(table="orders", item=key("b")))
            assert await solo.node.collect_tombstones(hlc.wall_ms()) == 0  # too young
            assert await tombstones(solo) == 1
            assert await solo.node.collect_tombstones(hlc.wall_ms() + 3000) == 1
            digest = await solo.stub.Digest(pb.DigestRequest(table="orders"))
            assert (digest.items, digest.tombstones) == (1, 0)  # the re-put "b" is untouched

    asyncio.run(scenario())


def test_collection_waits_for_every_peer(tmp_path: pathlib.Path) -> None:
    doc = group_yaml(
        tmp_path,
        ["us", "eu", "ap"],
        replication={"tombstone_lifetime": "1s", "heartbeat_interval": "100ms"},
    )
    config = load_doc(doc, tmp_path / "g.yaml")

    async def scenario() -> None:
        async with running_group(config) as g:
            await g["us"].stub.PutItem(pb.PutItemRequest(table="orders", item=key("x")))
            await g["ap"].stop_replicator()  # us stops hearing from ap
            await g["us"].stub.DeleteItem(pb.DeleteItemRequest(table="orders", key=key("x")))
            later = hlc.wall_ms() + 60_000
            await asyncio.sleep(2.5)  # past the lifetime and the commit margin
            # ap could still hold an older write of "x": us must keep the tombstone
            assert await g["us"].node.collect_tombstones(later) == 0
            assert await tombstones(g["us"]) == 1
            await g["ap"].start_replicator()

            async def collected() -> bool:
                await g["us"].node.collect_tombstones(later)
                return await tombstones(g["us"]) == 0

            await eventually(collected, 15, "collection once ap is heard from again")

    asyncio.run(scenario())


def two_regions(tmp_path: pathlib.Path) -> GroupConfig:
    doc = group_yaml(tmp_path, ["us", "eu"], replication={"heartbeat_interval": "100ms"})
    return load_doc(doc, tmp_path / "g.yaml")


async def found(region: Region, pk: str) -> bool:
    got = await region.stub.GetItem(pb.GetItemRequest(table="orders", key=key(pk)))
    return got.found


async def complete_through(region: Region, origin: str) -> int:
    ckpt = region.node.store.checkpoint(origin, "orders")
    return ckpt.complete_through_ms if ckpt else 0


def resyncs(region: Region, source: str) -> float:
    return region.replicator.metrics.resyncs.labels(source, region.name)._value.get()


async def identical(regions: list[Region], later_ms: int) -> bool:
    """Collect what may go, then compare digests."""
    for r in regions:
        await r.node.collect_tombstones(later_ms)
    digests = [await r.stub.Digest(pb.DigestRequest(table="orders")) for r in regions]
    return len({d.digest for d in digests}) == 1


def test_delete_survives_a_one_way_outage_longer_than_retention(tmp_path: pathlib.Path) -> None:
    """eu cannot pull from us while us still pulls from eu; us deletes k; the outage outlasts
    us's stream retention, so eu resyncs from us's snapshot when it heals. us must not have
    collected the tombstone eu never confirmed, and eu must not keep k."""

    async def scenario() -> None:
        async with running_group(two_regions(tmp_path)) as g:
            us, eu = g["us"], g["eu"]
            await us.stub.PutItem(pb.PutItemRequest(table="orders", item=key("k")))
            await eventually(lambda: found(eu, "k"), 10, "k reaches eu")
            await eu.stop_replicator()
            await eu.start_replicator(cut_from={"us"})  # eu cannot pull from us any more
            deleted = await us.stub.DeleteItem(pb.DeleteItemRequest(table="orders", key=key("k")))
            await us.stub.PutItem(pb.PutItemRequest(table="orders", item=key("later")))
            clock = hlc.physical_ms(deleted.version.hlc)

            async def us_is_past_the_delete() -> bool:
                return await complete_through(us, "eu") > clock

            await eventually(us_is_past_the_delete, 10, "us applies eu's stream past the delete")
            later = hlc.wall_ms() + 2 * DAY_MS  # past the lifetime, short of the maximum
            await us.node.collect_tombstones(later)
            kept = await tombstones(us)
            us.node.core.streams.trim(FAR_FUTURE)  # the outage outlasts the retention
            await eu.stop_replicator()
            await eu.start_replicator()  # healed

            async def k_gone_at_eu() -> bool:
                return not await found(eu, "k")

            await eventually(k_gone_at_eu, 20, "the delete reaches eu through the resync")
            assert resyncs(eu, "us") >= 1
            assert kept == 1  # us kept the tombstone eu had not confirmed
            await eventually(lambda: identical([us, eu], later), 20, "us and eu converge")

            async def tombstone_collected() -> bool:  # once eu's confirmation reached us
                await us.node.collect_tombstones(later)
                return await tombstones(us) == 0

            await eventually(tombstone_collected, 20, "us collects the tombstone eu confirmed")

    asyncio.run(scenario())


def test_silent_peer_past_the_max_lifetime_rebuilds_instead_of_resurrecting(
    tmp_path: pathlib.Path,
) -> None:
    """eu is silent (both directions) while us deletes two items, one written by eu, and
    stays away past tombstone_max_lifetime: us collects anyway and holds a rebuild horizon
    for eu. When eu comes back nothing deleted comes back anywhere, eu's write made while it
    was away is kept, and the regions converge."""

    async def scenario() -> None:
        async with running_group(two_regions(tmp_path)) as g:
            us, eu = g["us"], g["eu"]
            await us.stub.PutItem(pb.PutItemRequest(table="orders", item=key("k")))
            mine = await eu.stub.PutItem(pb.PutItemRequest(table="orders", item=key("eu-k")))
            await eventually(lambda: found(eu, "k"), 10, "k reaches eu")

            async def us_is_past_eu_write() -> bool:
                return await complete_through(us, "eu") > hlc.physical_ms(mine.version.hlc)

            await eventually(us_is_past_eu_write, 10, "us applies eu's stream past its write")
            await eu.stop_replicator()  # eu goes silent
            deletes = [
                await us.stub.DeleteItem(pb.DeleteItemRequest(table="orders", key=key(pk)))
                for pk in ("k", "eu-k")
            ]
            await eu.stub.PutItem(pb.PutItemRequest(table="orders", item=key("fresh")))
            await us.stub.PutItem(pb.PutItemRequest(table="orders", item=key("later")))
            us.node.core.streams.trim(FAR_FUTURE)
            later = hlc.wall_ms() + 8 * DAY_MS  # past tombstone_max_lifetime (7d)
            assert await us.node.collect_tombstones(later) == 2  # forced
            newest = max(hlc.physical_ms(d.version.hlc) for d in deletes)
            assert us.node.store.horizons["eu"].horizon_ms == newest + 1
            assert us.node.store.horizons["eu"].tombstones == 2
            assert us.node.metrics.tombstones_forced._value.get() == 2
            await eu.start_replicator()  # eu comes back

            async def nothing_resurrected() -> bool:
                held = {pk: await found(r, pk) for r in (us, eu) for pk in ("k", "eu-k")}
                assert not any(held.values()), held
                return await found(us, "fresh")  # the write eu made while away is kept

            await eventually(nothing_resurrected, 30, "eu rebuilds, us takes eu's new write")
            assert resyncs(eu, "us") >= 1  # eu's position was trimmed at us
            assert resyncs(us, "eu") >= 1  # us does not stream eu's records from before
            await eventually(lambda: identical([us, eu], later), 20, "us and eu converge")
            for r in (us, eu):
                for pk in ("k", "eu-k"):
                    assert not await found(r, pk)

    asyncio.run(scenario())


def stored(pk: str, clock_ms: int, origin: str, tombstone: bool = False) -> pb.StoredItem:
    entry = pb.StoredItem(tombstone=tombstone, item=key(pk))
    entry.version.hlc, entry.version.region = hlc.pack(clock_ms), origin
    return entry


def test_snapshot_merge_removes_only_what_the_source_shows_deleted(tmp_path: pathlib.Path) -> None:
    """A resync from eu: keys held here in the copied ranges but absent from eu's copy go
    when eu covers their version; every other key stays (it may be a write eu has not seen),
    and nothing goes before the copy of the table is done."""
    doc = group_yaml(tmp_path, ["us", "eu", "ap"])
    config = load_doc(doc, tmp_path / "g.yaml")

    async def scenario() -> None:
        async with running_group(config, replicate=False) as g:
            us = g["us"]
            held = [
                stored("a", 10, "eu"),  # eu's own write, absent from its copy: deleted there
                stored("b", 10, "ap"),  # ap's write eu applied (coverage 50): deleted there
                stored("c", 60, "ap"),  # ap's write eu has not seen yet: kept
                stored("d", 10, "us", tombstone=True),  # a tombstone: left to collection
                stored("e", 10, "sa"),  # an origin eu never heard of: kept
                stored("m", 10, "eu"),  # in eu's copy: merged, not removed
                stored("z", 10, "eu"),  # after the last entry: only the last message covers it
            ]
            await us.peer.ApplySnapshot(pb.ApplySnapshotRequest(table="orders", entries=held))
            coverage = [
                pb.Checkpoint(origin="ap", table="orders", complete_through_ms=50),
                pb.Checkpoint(origin="eu", table="orders", sequence_number=9),
            ]
            rng = pb.SnapshotRange(source="eu", session="s1", coverage=coverage)
            first = pb.ApplySnapshotRequest(
                table="orders", entries=[stored("m", 20, "eu")], range=rng
            )
            assert (await us.peer.ApplySnapshot(first)).removed == 0
            assert await found(us, "a")  # noted, not removed before the copy is done
            rng.after.CopyFrom(key("m"))
            rng.to_end = True
            last = pb.ApplySnapshotRequest(table="orders", range=rng, install=coverage)
            assert (await us.peer.ApplySnapshot(last)).removed == 3
            present = {pk: await found(us, pk) for pk in "abcdemz"}
            assert present == dict(a=False, b=False, c=True, d=False, e=True, m=True, z=False)
            gone = await us.stub.DiffKeys(pb.DiffKeysRequest(table="orders"))
            versions = {items.to_plain(e.keys)["pk"]: e for e in gone.entries}
            assert versions["a"].tombstone and versions["a"].version.hlc == hlc.pack(10)
            # a copy that lists its entries out of order is refused: skipped keys would go
            rng.to_end, rng.session = False, "s2"
            bad = pb.ApplySnapshotRequest(
                table="orders", entries=[stored("y", 1, "eu"), stored("x", 1, "eu")], range=rng
            )
            try:
                await us.peer.ApplySnapshot(bad)
                raise AssertionError("entries out of key order were accepted")
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert "ascending key order" in exc.details()

    asyncio.run(scenario())


def test_peer_that_missed_a_dead_region_delete_rebuilds_from_the_collector(
    tmp_path: pathlib.Path,
) -> None:
    """ap deletes k while eu cannot pull from ap, then ap is gone for good. us, past the
    maximum lifetime, drops the tombstone eu never confirmed; eu learns that from us's
    report and rebuilds from us, removing k (nobody else could ever tell it)."""
    doc = group_yaml(tmp_path, ["us", "eu", "ap"], replication={"heartbeat_interval": "100ms"})
    config = load_doc(doc, tmp_path / "g.yaml")

    async def scenario() -> None:
        async with running_group(config) as g:
            us, eu, ap = g["us"], g["eu"], g["ap"]
            put = await ap.stub.PutItem(pb.PutItemRequest(table="orders", item=key("k")))
            await eventually(lambda: found(eu, "k"), 10, "k reaches eu")
            await eu.stop_replicator()
            await eu.start_replicator(cut_from={"ap"})
            deleted = await ap.stub.DeleteItem(pb.DeleteItemRequest(table="orders", key=key("k")))

            async def us_is_past_the_delete() -> bool:
                clock = hlc.physical_ms(deleted.version.hlc)
                return not await found(us, "k") and await complete_through(us, "ap") > clock

            await eventually(us_is_past_the_delete, 10, "us holds ap's delete")
            assert await complete_through(us, "ap") > hlc.physical_ms(put.version.hlc)
            await ap.stop()  # ap is gone
            later = hlc.wall_ms() + 8 * DAY_MS
            collected = await us.node.collect_tombstones(later)

            async def k_gone_at_eu() -> bool:
                return not await found(eu, "k")

            await eventually(k_gone_at_eu, 20, "eu rebuilds from us")
            assert resyncs(eu, "us") >= 1
            assert collected == 1
            assert us.node.metrics.tombstones_forced._value.get() == 1  # eu never confirmed
            assert "eu" in us.node.store.horizons

    asyncio.run(scenario())
