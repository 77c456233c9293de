"""Time to live on real nodes and replicators: the sweeper expires due items as versioned
deletes with the service identity, once per region's stream, never a newer write; reads can
hide expired items. Every node's TTL clock is injected (epoch seconds near 1000)."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import Iterable
from typing import Any

from meridian.model import items, ttl
from meridian.pb import node_pb2 as pb
from regionnode.time_to_live import set_time_to_live
from tests.harness import eventually, load_doc
from tests.harness.inprocess import Region, running_group
from tests.integration.group import ORDERS, group_yaml

SWEEP = {"interval": "50ms", "takeover": "60s"}


class Clock:
    """The TTL clock of every node of a group, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def install(self, regions: Iterable[Region]) -> None:
        for region in regions:
            assert region.node is not None and region.node.core is not None
            region.node.core.writer.ctx.ttl_clock = self


def config(tmp_path: pathlib.Path, regions: list[str], hide: bool = False, sweep: Any = None):
    table = {**ORDERS, "ttl": {"attribute": "exp", "hide_expired": hide}}
    replication = {"heartbeat_interval": "100ms", "ttl": sweep or SWEEP}
    doc = group_yaml(tmp_path, regions, tables=[table], replication=replication)
    return load_doc(doc, tmp_path / "g.yaml")


def item(pk: str, **attributes: Any) -> pb.Item:
    return items.from_plain({"pk": pk, "sk": 1, **attributes})


def key(pk: str) -> pb.Item:
    return items.from_plain({"pk": pk, "sk": 1})


async def put(region: Region, pk: str, **attributes: Any) -> pb.WriteResult:
    return await region.stub.PutItem(pb.PutItemRequest(table="orders", item=item(pk, **attributes)))


async def get(region: Region, pk: str) -> dict[str, Any] | None:
    got = await region.stub.GetItem(pb.GetItemRequest(table="orders", key=key(pk)))
    return items.to_plain(got.item) if got.found else None


async def gone(region: Region, pk: str) -> bool:
    return await get(region, pk) is None


def records(region: Region, pk: str) -> list[pb.StreamRecord]:
    """The region's stream records of one item, oldest first."""
    assert region.node is not None
    out = []
    for raw in region.node.store.read_stream("orders", 0, 100_000):
        record = pb.StreamRecord.FromString(raw)
        if items.to_plain(record.keys)["pk"] == pk:
            out.append(record)
    return out


def removes(region: Region, pk: str) -> list[pb.StreamRecord]:
    return [r for r in records(region, pk) if r.event_name == pb.REMOVE]


def expired_count(region: Region) -> float:
    assert region.node is not None
    return region.node.metrics.ttl_expired.labels("orders")._value.get()


def test_the_sweeper_expires_due_items_only(tmp_path: pathlib.Path) -> None:
    async def scenario() -> None:
        async with running_group(config(tmp_path, ["solo"]), replicate=False) as g:
            solo = g["solo"]
            clock = Clock(500)
            clock.install([solo])
            await put(solo, "due", exp=1000, v=1)
            await put(solo, "later", exp=2000)
            await put(solo, "extended", exp=1000)
            await put(solo, "forever")
            await put(solo, "text", exp="1000")
            await put(solo, "extended", exp=5000)  # a newer write moved its expiry
            clock.now = 1500
            await eventually(lambda: gone(solo, "due"), 10, "the due item is expired")
            await asyncio.sleep(0.3)  # a few more sweeps: nothing else goes
            for pk in ("later", "extended", "forever", "text"):
                assert await get(solo, pk) is not None, pk
            (remove,) = removes(solo, "due")
            assert ttl.is_expiry(remove)
            assert remove.version.region == "solo"
            assert items.to_plain(remove.old_image) == {"pk": "due", "sk": 1, "exp": 1000, "v": 1}
            assert expired_count(solo) == 1
            lag = solo.node.metrics.ttl_lag.labels("orders")._value.get()
            assert lag == 0  # nothing due is left in the index
            clock.now = 2000
            await eventually(lambda: gone(solo, "later"), 10, "the later item is expired")
            assert await get(solo, "extended") is not None
            assert expired_count(solo) == 2

    asyncio.run(scenario())


def test_enabling_ttl_indexes_existing_items(tmp_path: pathlib.Path) -> None:
    """Items written before UpdateTimeToLive expire too (the sweeper indexes them once)."""
    doc = group_yaml(tmp_path, ["solo"], replication={"ttl": SWEEP})

    async def scenario() -> None:
        async with running_group(load_doc(doc, tmp_path / "g.yaml"), replicate=False) as g:
            solo = g["solo"]
            Clock(1500).install([solo])
            await put(solo, "old", exp=1000)
            await asyncio.sleep(0.2)
            assert await get(solo, "old") is not None  # no TTL on the table yet
            set_time_to_live(solo.node.core, "orders", "exp", True)
            await eventually(lambda: gone(solo, "old"), 10, "the older item is expired")
            assert ttl.is_expiry(removes(solo, "old")[0])

    asyncio.run(scenario())


def test_hidden_expired_items_are_not_read(tmp_path: pathlib.Path) -> None:
    sweep = {"interval": "1h"}  # never swept during the test: reads alone hide them

    async def scenario() -> None:
        async with running_group(config(tmp_path, ["solo"], True, sweep), replicate=False) as g:
            solo = g["solo"]
            clock = Clock(500)
            clock.install([solo])
            await put(solo, "a", exp=1000)
            await put(solo, "b", exp=3000)
            await put(solo, "c")
            clock.now = 2000
            assert await get(solo, "a") is None
            assert await get(solo, "b") is not None
            got = await solo.stub.BatchGetItem(
                pb.BatchGetItemRequest(table="orders", keys=[key("a"), key("b"), key("c")])
            )
            assert sorted(items.to_plain(i)["pk"] for i in got.items) == ["b", "c"]
            scan = await solo.stub.Scan(pb.ScanRequest(table="orders"))
            assert sorted(items.to_plain(i)["pk"] for i in scan.items) == ["b", "c"]
            query = await solo.stub.Query(
                pb.QueryRequest(
                    table="orders",
                    key_condition_expression="pk = :p",
                    expression_attribute_values={":p": pb.AttributeValue(s="a")},
                )
            )
            assert list(query.items) == []
            tx = await solo.stub.TransactGetItems(
                pb.TransactGetItemsRequest(
                    items=[pb.GetItemRequest(table="orders", key=key(k)) for k in ("a", "b")]
                )
            )
            assert [r.found for r in tx.responses] == [False, True]
            clock.now = 500
            assert await get(solo, "a") is not None  # hidden, not deleted

    asyncio.run(scenario())


def test_one_expiry_gives_one_remove_in_every_stream(tmp_path: pathlib.Path) -> None:
    """The writer region expires the item; the others apply its delete (with the identity)
    and do not expire it themselves."""

    async def scenario() -> None:
        async with running_group(config(tmp_path, ["us", "eu", "ap"])) as g:
            regions = list(g.values())
            clock = Clock(500)
            clock.install(regions)
            await put(g["us"], "x", exp=1000)
            for region in regions:
                await eventually(lambda r=region: get(r, "x"), 10, f"x reaches {region.name}")
            clock.now = 1001
            for region in regions:
                await eventually(lambda r=region: gone(r, "x"), 10, f"x expires in {region.name}")
            await asyncio.sleep(0.5)  # sweeps and replication settle
            for region in regions:
                (remove,) = removes(region, "x")
                assert ttl.is_expiry(remove), region.name
                assert remove.version.region == "us"
            assert [expired_count(r) for r in regions] == [1, 0, 0]

    asyncio.run(scenario())


def test_regions_expiring_at_once_still_give_one_remove_each(tmp_path: pathlib.Path) -> None:
    """Past the takeover every region may expire the item; their deletes meet under
    last-writer-wins, and a delete of a deleted item writes no second REMOVE."""

    async def scenario() -> None:
        async with running_group(config(tmp_path, ["us", "eu", "ap"])) as g:
            regions = list(g.values())
            clock = Clock(500)
            clock.install(regions)
            await put(g["us"], "y", exp=1000)
            for region in regions:
                await eventually(lambda r=region: get(r, "y"), 10, f"y reaches {region.name}")
            await g["us"].stop_replicator()  # nobody hears of us's own expiry for a while
            clock.now = 1061  # past the takeover: each region expires y
            for region in regions:
                await eventually(lambda r=region: gone(r, "y"), 10, f"y expires in {region.name}")
            await g["us"].start_replicator()

            async def converged() -> bool:
                digests = [await r.stub.Digest(pb.DigestRequest(table="orders")) for r in regions]
                return len({d.digest for d in digests}) == 1

            await eventually(converged, 15, "the regions hold the same tombstone")
            await asyncio.sleep(0.5)
            for region in regions:
                assert len(removes(region, "y")) == 1, region.name
            assert sum(expired_count(r) for r in regions) >= 2

    asyncio.run(scenario())


def test_a_newer_write_that_extends_the_ttl_wins_everywhere(tmp_path: pathlib.Path) -> None:
    """us expires z while eu, cut off, extends it; eu's write is stamped later and wins."""

    async def scenario() -> None:
        async with running_group(config(tmp_path, ["us", "eu", "ap"])) as g:
            regions = list(g.values())
            clock = Clock(500)
            clock.install(regions)
            await put(g["us"], "z", exp=1000)
            for region in regions:
                await eventually(lambda r=region: get(r, "z"), 10, f"z reaches {region.name}")
            for region in regions:
                await region.stop_replicator()
            clock.now = 1001
            await eventually(lambda: gone(g["us"], "z"), 10, "us expires z")
            expiry = removes(g["us"], "z")[0].version
            extended = await put(g["eu"], "z", exp=5000)
            assert (extended.version.hlc, "eu") > (expiry.hlc, expiry.region)
            for region in regions:
                await region.start_replicator()
            for region in regions:

                async def extended_in(r: Region = region) -> bool:
                    found = await get(r, "z")
                    return found is not None and found["exp"] == 5000

                await eventually(extended_in, 15, f"the extension wins in {region.name}")

    asyncio.run(scenario())


def test_the_sweeper_paces_its_deletes(tmp_path: pathlib.Path) -> None:
    """300 items due with max_deletes_per_second 100: one sweep takes at least 3 s, and
    client writes go through meanwhile."""
    sweep = {"interval": "1h", "max_deletes_per_second": 100}

    async def scenario() -> None:
        async with running_group(config(tmp_path, ["solo"], sweep=sweep), replicate=False) as g:
            solo = g["solo"]
            clock = Clock(500)
            clock.install([solo])
            writes = [pb.WriteRequest(put=item(f"e{n}", exp=1000)) for n in range(300)]
            await solo.stub.BatchWriteItem(pb.BatchWriteItemRequest(table="orders", writes=writes))
            clock.now = 1500
            assert solo.node is not None and solo.node.sweeper is not None
            started = asyncio.get_running_loop().time()
            sweeping = asyncio.create_task(solo.node.sweeper.sweep())
            await put(solo, "client", v=1)
            assert not sweeping.done()  # the write did not wait for the sweep
            assert await sweeping == 300
            assert asyncio.get_running_loop().time() - started >= 2.9
            assert expired_count(solo) == 300

    asyncio.run(scenario())


def test_expiry_resumes_after_a_restart(tmp_path: pathlib.Path) -> None:
    """The index is durable: items written before a restart expire after it, and the table
    is not indexed again (its marker survived)."""
    sweep = {"interval": "1h"}  # swept only when the test asks

    async def scenario() -> None:
        async with running_group(config(tmp_path, ["solo"], sweep=sweep), replicate=False) as g:
            solo = g["solo"]
            clock = Clock(500)
            clock.install([solo])
            assert solo.node is not None and solo.node.sweeper is not None
            assert await solo.node.sweeper.sweep() == 0  # indexes the (empty) table once
            await put(solo, "a", exp=1000)
            await solo.stop_node()
            await solo.start_node()
            clock.install([solo])
            clock.now = 1500
            marker = b"m:ttlidx:orders"
            assert solo.node is not None and solo.node.store.get(marker) == b"exp"
            assert solo.node.sweeper is not None
            assert await solo.node.sweeper.sweep() == 1
            assert await get(solo, "a") is None

    asyncio.run(scenario())


def test_ttl_turned_off_and_on_by_another_path_indexes_again(tmp_path: pathlib.Path) -> None:
    """A spec change that does not come through set_time_to_live (the group-wide catalog):
    the sweeper notices TTL is off, and when it is on again indexes what was written."""
    sweep = {"interval": "1h"}

    async def scenario() -> None:
        async with running_group(config(tmp_path, ["solo"], sweep=sweep), replicate=False) as g:
            solo = g["solo"]
            clock = Clock(500)
            clock.install([solo])
            assert solo.node is not None and solo.node.sweeper is not None
            sweeper, store = solo.node.sweeper, solo.node.store
            await sweeper.sweep()
            table = store.tables["orders"]
            table.description.spec.ttl_attribute = ""
            store.put_table(table)
            await sweeper.sweep()
            assert store.get(b"m:ttlidx:orders") is None
            await put(solo, "b", exp=1000)  # not indexed: TTL is off
            table.description.spec.ttl_attribute = "exp"
            store.put_table(table)
            clock.now = 1500
            assert await sweeper.sweep() == 1
            assert await get(solo, "b") is None

    asyncio.run(scenario())
