"""Three regions in one process over real gRPC: convergence, loop freedom, restarts, guards."""

from __future__ import annotations

import asyncio
import pathlib
import random

import pytest

from meridian.model import hlc, items
from meridian.pb import node_pb2 as pb
from tests.harness import eventually, load_doc
from tests.harness.inprocess import running_group
from tests.integration.group import ORDERS, group_yaml

REGIONS = ["us", "eu", "ap"]


def item(pk: str, sk: int, **attrs: object) -> pb.Item:
    return items.from_plain({"pk": pk, "sk": sk, **attrs})


def key(pk: str, sk: int) -> pb.Item:
    return items.from_plain({"pk": pk, "sk": sk})


async def digests(group) -> dict[str, str]:
    out = {}
    for name, region in group.items():
        reply = await region.stub.Digest(pb.DigestRequest(table="orders"))
        out[name] = reply.digest
    return out


async def converged(group) -> bool:
    return len(set((await digests(group)).values())) == 1


async def stream(region) -> list[pb.StreamRecord]:
    it = await region.stub.GetShardIterator(
        pb.GetShardIteratorRequest(table="orders", type=pb.TRIM_HORIZON)
    )
    records: list[pb.StreamRecord] = []
    iterator = it.shard_iterator
    while True:
        page = await region.stub.GetRecords(pb.GetRecordsRequest(shard_iterator=iterator))
        if not page.records:
            return records
        records.extend(page.records)
        iterator = page.next_shard_iterator


@pytest.fixture
def config(tmp_path: pathlib.Path):
    return load_doc(group_yaml(tmp_path, REGIONS), tmp_path / "group.yaml")


def test_write_anywhere_read_everywhere_one_record_per_write(config) -> None:
    async def scenario() -> None:
        async with running_group(config) as g:
            acked = {}
            for i, origin in enumerate(REGIONS * 20):
                reply = await g[origin].stub.PutItem(
                    pb.PutItemRequest(table="orders", item=item(f"k{i}", i, origin=origin))
                )
                acked[i] = reply.version
            await eventually(lambda: converged(g), 10, "convergence")
            for name in REGIONS:
                got = await g[name].stub.GetItem(
                    pb.GetItemRequest(table="orders", key=key("k7", 7))
                )
                assert got.found and got.version == acked[7]
                assert items.to_plain(got.item)["origin"] == REGIONS[7 % 3]
            # no ping-pong: every write is exactly one record in every region's stream
            for name in REGIONS:
                records = await stream(g[name])
                assert len(records) == 60
                assert len({(r.version.hlc, r.version.region) for r in records}) == 60
            # traffic drops to heartbeats: nothing more is applied or written once quiet
            heads = [
                (
                    await g[n].stub.DescribeStream(pb.DescribeStreamRequest(table="orders"))
                ).head_sequence_number
                for n in REGIONS
            ]
            applied = [sum(link.status.applied for link in g[n].replicator.links) for n in REGIONS]
            await asyncio.sleep(1.0)
            heads_after = [
                (
                    await g[n].stub.DescribeStream(pb.DescribeStreamRequest(table="orders"))
                ).head_sequence_number
                for n in REGIONS
            ]
            assert heads_after == heads == [60, 60, 60]
            assert [
                sum(link.status.applied for link in g[n].replicator.links) for n in REGIONS
            ] == applied
            assert applied == [40, 40, 40]

    asyncio.run(scenario())


def test_concurrent_conflicting_writes_converge_to_highest_acknowledged_version(config) -> None:
    async def scenario() -> None:
        async with running_group(config) as g:
            rng = random.Random(7)
            highest: dict[int, tuple[int, str]] = {}

            async def client(origin: str) -> None:
                for n in range(60):
                    k = rng.randrange(8)
                    if rng.random() < 0.2:
                        reply = await g[origin].stub.DeleteItem(
                            pb.DeleteItemRequest(table="orders", key=key("hot", k))
                        )
                    else:
                        reply = await g[origin].stub.PutItem(
                            pb.PutItemRequest(table="orders", item=item("hot", k, by=origin, n=n))
                        )
                    if reply.changed:
                        v = (reply.version.hlc, reply.version.region)
                        highest[k] = max(highest.get(k, v), v)

            await asyncio.gather(*(client(o) for o in REGIONS))
            await eventually(lambda: converged(g), 15, "convergence")
            for name in REGIONS:
                page = await g[name].stub.DiffKeys(pb.DiffKeysRequest(table="orders"))
                final = {
                    int(items.to_plain(e.keys)["sk"]): (e.version.hlc, e.version.region)
                    for e in page.entries
                }
                assert final == highest, name
            conflicts = sum(
                link.status.conflicts for n in REGIONS for link in g[n].replicator.links
            )
            assert conflicts > 0  # the workload does collide; losers are counted
            counted = sum(
                g[n].replicator.registry.get_sample_value(
                    "meridian_replication_conflicts_total",
                    {"source": link.peer, "target": n, "outcome": "lost_to_newer"},
                )
                or 0
                for n in REGIONS
                for link in g[n].replicator.links
            )
            assert counted == conflicts  # the metric and `status` count the same thing

    asyncio.run(scenario())


def test_replicator_and_node_restarts_lose_nothing_and_apply_nothing_twice(config) -> None:
    async def scenario() -> None:
        async with running_group(config) as g:
            await g["eu"].stop_replicator()
            for i in range(200):
                await g["us"].stub.PutItem(pb.PutItemRequest(table="orders", item=item("r", i)))
            await g["ap"].stop()  # node and replicator of ap go away under load
            for i in range(200, 300):
                await g["us"].stub.PutItem(pb.PutItemRequest(table="orders", item=item("r", i)))
            await g["eu"].start_replicator()
            await g["ap"].start_node()
            await g["ap"].start_replicator()
            await eventually(lambda: converged(g), 15, "convergence after restarts")
            for name in REGIONS:
                records = await stream(g[name])
                assert len(records) == 300, name
                assert len({r.version.hlc for r in records}) == 300, name

    asyncio.run(scenario())


def test_deletes_replicate_as_tombstones(config) -> None:
    async def scenario() -> None:
        async with running_group(config) as g:
            await g["us"].stub.PutItem(pb.PutItemRequest(table="orders", item=item("d", 1)))
            await eventually(lambda: converged(g), 10)
            await g["ap"].stub.DeleteItem(pb.DeleteItemRequest(table="orders", key=key("d", 1)))
            await eventually(lambda: converged(g), 10)
            for name in REGIONS:
                got = await g[name].stub.GetItem(pb.GetItemRequest(table="orders", key=key("d", 1)))
                assert not got.found
                d = await g[name].stub.Digest(pb.DigestRequest(table="orders"))
                assert (d.items, d.tombstones) == (0, 1)

    asyncio.run(scenario())


def test_clock_beyond_max_offset_is_rejected_and_counted(tmp_path: pathlib.Path) -> None:
    doc = group_yaml(
        tmp_path,
        ["us", "eu"],
        replication={"heartbeat_interval": "200ms", "max_clock_offset": "2s"},
    )
    config = load_doc(doc, tmp_path / "group.yaml")

    async def scenario() -> None:
        async with running_group(config) as g:
            clock = g["us"].node.core.writer.clock
            clock._wall = lambda: hlc.wall_ms() + 1000  # within the offset: applied
            await g["us"].stub.PutItem(pb.PutItemRequest(table="orders", item=item("c", 1)))
            await eventually(lambda: converged(g), 10)
            clock._wall = lambda: hlc.wall_ms() + 60_000  # beyond: refused, never applied
            await g["us"].stub.PutItem(pb.PutItemRequest(table="orders", item=item("c", 2)))
            link = g["eu"].replicator.links[0]

            async def rejected() -> bool:
                return link.status.clock_rejected > 0 and link.status.state == "CLOCK_REJECTED"

            await eventually(rejected, 10, "clock rejection")
            got = await g["eu"].stub.GetItem(pb.GetItemRequest(table="orders", key=key("c", 2)))
            assert not got.found
            assert "ahead of this region's clock" in link.status.error

    asyncio.run(scenario())


THINGS = {"name": "things", "partition_key": {"name": "id", "type": "S"}}


def test_a_table_with_another_schema_is_left_out_and_the_others_flow(
    tmp_path: pathlib.Path,
) -> None:
    doc = group_yaml(tmp_path, ["us", "eu"], tables=[ORDERS, THINGS])
    config = load_doc(doc, tmp_path / "group.yaml")
    other_orders = dict(ORDERS, sort_key={"name": "sk", "type": "S"})
    other = dict(doc, tables=[other_orders, THINGS])
    for region in other["regions"]:
        region["node"] = dict(region["node"], data_dir=str(tmp_path / "other" / region["name"]))
    mismatched = load_doc(other, tmp_path / "other.yaml")

    async def scenario() -> None:
        from tests.harness.inprocess import Region

        async with running_group(config, replicate=False) as g:
            await g["us"].start_replicator()
            await g["eu"].stop()
            eu = Region("eu", mismatched)
            g["eu"] = eu
            await eu.start_node()
            await eu.start_replicator()
            await g["us"].stub.PutItem(pb.PutItemRequest(table="orders", item=item("x", 1)))
            thing = items.from_plain({"id": "t1", "n": 1})
            await g["us"].stub.PutItem(pb.PutItemRequest(table="things", item=thing))

            async def thing_arrived() -> bool:
                got = await eu.stub.GetItem(
                    pb.GetItemRequest(table="things", key=items.from_plain({"id": "t1"}))
                )
                return got.found

            await eventually(thing_arrived, 10, "the matching table replicating")

            async def reported() -> bool:
                states = [g[n].replicator.links[0].status for n in ("us", "eu")]
                return all(
                    s.state == "STREAMING" and "differs in" in s.excluded.get("orders", "")
                    for s in states
                )

            await eventually(reported, 10, "orders left out and reported on both sides")
            scan = await eu.stub.Scan(pb.ScanRequest(table="orders"))
            assert len(scan.items) == 0  # no data of the mismatched table exchanged
            status = await g["eu"].replicator.links[0].node.NodeInfo(pb.NodeInfoRequest())
            schemas = {t.spec.name: t.spec.sort_key.type for t in status.tables}
            assert schemas["orders"] == pb.KEY_TYPE_S  # each region keeps its own declaration
            from replicator.service import region_status

            rep = eu.replicator
            report = await region_status("eu", rep.links[0].node, rep.links, rep.links[0].pins)
            (into_eu,) = report.links
            assert [t.table for t in into_eu.excluded_tables] == ["orders"]

    asyncio.run(scenario())


def test_second_node_claiming_a_region_is_refused(tmp_path: pathlib.Path) -> None:
    doc = group_yaml(tmp_path, ["us", "eu"])
    config = load_doc(doc, tmp_path / "group.yaml")
    twin_doc = group_yaml(tmp_path / "twin", ["us", "eu"])
    twin_doc["regions"][1] = doc["regions"][1]  # the twin "us" pulls from the real eu
    twin = load_doc(twin_doc, tmp_path / "twin.yaml")

    async def scenario() -> None:
        from tests.harness.inprocess import Region

        async with running_group(config) as g:
            await eventually(lambda: _streaming(g["us"]), 10, "us streaming from eu")
            impostor = Region("us", twin)
            await impostor.start_node()
            try:
                await impostor.start_replicator()
                counter = g["eu"].replicator.metrics.refusals.labels("eu", "us", "source")

                async def refused() -> bool:  # us is pinned to the real node in eu
                    return counter._value.get() >= 1

                await eventually(refused, 10, "duplicate region refusal")
                await g["eu"].stub.PutItem(pb.PutItemRequest(table="orders", item=item("y", 1)))
                await eventually(lambda: converged(g), 10)
                scan = await impostor.stub.Scan(pb.ScanRequest(table="orders"))
                assert len(scan.items) == 0
            finally:
                await impostor.stop()

    asyncio.run(scenario())


async def _streaming(region) -> bool:
    return all(link.status.state == "STREAMING" for link in region.replicator.links)
