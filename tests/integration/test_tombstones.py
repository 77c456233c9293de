"""Tombstone collection: only after the lifetime, and only once no older write can arrive."""

from __future__ import annotations

import asyncio
import pathlib

from regionnode import hlc, items
from regionnode.pb import node_pb2 as pb
from tests.integration.group import eventually, group_yaml, load_doc, running_group


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
