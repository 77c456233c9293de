"""The group-wide table catalog with real nodes and replicators: tables created, deleted and
created again at runtime in one region follow in every region; a concurrent CreateTable with
another key schema loses to the earlier one and its data is kept aside; a group file that
disagrees with the catalog stops the node at startup."""

from __future__ import annotations

import asyncio
import pathlib

import grpc
import pytest

from meridian.daemon.errors import StartupError
from meridian.model import items, schema
from meridian.model.items import ItemError
from meridian.pb import node_pb2 as pb
from meridian.pb import replicator_pb2 as rpb
from meridian.wire.errors import reason_of
from regionnode.node import Node, NodeSettings
from regionnode.store import Store
from regionnode.time_to_live import set_time_to_live
from tests.harness import eventually, load_doc
from tests.harness.inprocess import Region, running_group
from tests.integration.group import ORDERS, group_yaml

REGIONS = ["us", "eu", "ap"]


def carts(pk_type: int = pb.KEY_TYPE_S) -> pb.TableSpec:
    return pb.TableSpec(name="carts", partition_key=pb.KeyAttribute(name="id", type=pk_type))


def cart(cart_id: object, **attrs: object) -> pb.Item:
    return items.from_plain({"id": cart_id, **attrs})


async def scan(region: Region, table: str = "carts") -> list[dict[str, object]]:
    reply = await region.stub.Scan(pb.ScanRequest(table=table))
    return sorted((items.to_plain(i) for i in reply.items), key=_canonical)


def _canonical(row: dict[str, object]) -> str:
    """A row's sort key whatever the order of its attributes (an item's map has none)."""
    return str(sorted(row.items()))


async def has_table(region: Region, name: str, present: bool = True) -> bool:
    assert region.node is not None
    return (name in region.node.store.tables) == present


@pytest.fixture
def config(tmp_path: pathlib.Path):
    return load_doc(group_yaml(tmp_path, REGIONS), tmp_path / "group.yaml")


def test_a_table_created_at_runtime_replicates_everywhere(config) -> None:
    async def scenario() -> None:
        async with running_group(config) as g:
            await g["us"].peer.CreateTable(pb.CreateTableRequest(spec=carts()))
            for name in ("eu", "ap"):
                await eventually(lambda n=name: has_table(g[n], "carts"), 10, f"carts in {name}")
            await g["us"].stub.PutItem(pb.PutItemRequest(table="carts", item=cart("c1", n=1)))
            await g["ap"].stub.PutItem(pb.PutItemRequest(table="carts", item=cart("c2", n=2)))
            expected = [{"id": "c1", "n": 1}, {"id": "c2", "n": 2}]
            for name in REGIONS:
                await eventually(
                    lambda n=name: _equals(scan(g[n]), expected), 10, f"both carts in {name}"
                )
            # the YAML table kept flowing all along
            await g["eu"].stub.PutItem(
                pb.PutItemRequest(table="orders", item=items.from_plain({"pk": "o", "sk": 1}))
            )
            await eventually(lambda: _count(scan(g["us"], "orders"), 1), 10, "orders in us")

    asyncio.run(scenario())


def test_delete_is_group_wide_and_a_new_table_starts_empty(config) -> None:
    async def scenario() -> None:
        async with running_group(config) as g:
            await g["us"].peer.CreateTable(pb.CreateTableRequest(spec=carts()))
            await eventually(lambda: has_table(g["eu"], "carts"), 10, "carts in eu")
            for i in range(20):
                await g["us"].stub.PutItem(pb.PutItemRequest(table="carts", item=cart(f"old{i}")))
            for name in REGIONS:
                await eventually(lambda n=name: _count(scan(g[n]), 20), 10, f"old carts in {name}")
            await g["eu"].peer.DeleteTable(pb.DeleteTableRequest(table="carts"))
            for name in REGIONS:
                await eventually(
                    lambda n=name: has_table(g[n], "carts", present=False), 10, f"gone in {name}"
                )
            await g["ap"].peer.CreateTable(pb.CreateTableRequest(spec=carts(pb.KEY_TYPE_N)))
            await g["ap"].stub.PutItem(pb.PutItemRequest(table="carts", item=cart(7, new=True)))
            for name in REGIONS:
                await eventually(
                    lambda n=name: _equals(scan(g[n]), [{"id": 7, "new": True}]),
                    10,
                    f"only the new cart in {name}",
                )
            await asyncio.sleep(1.0)  # several heartbeats: nothing of the old table comes back
            for name in REGIONS:
                assert await scan(g[name]) == [{"id": 7, "new": True}]
                entry = g[name].node.core.catalog.entry("carts")
                assert entry.generation == 1

    asyncio.run(scenario())


def test_a_settings_change_reaches_every_region(config) -> None:
    """core.catalog.update_spec: how features change a table's settings group-wide."""

    async def scenario() -> None:
        async with running_group(config) as g:

            def shorter(spec: pb.TableSpec) -> None:
                spec.retention_seconds = 3600

            changed = g["us"].node.core.catalog.update_spec("orders", shorter)
            assert changed.spec.retention_seconds == 3600
            for name in REGIONS:

                async def applied(n: str = name) -> bool:
                    spec = g[n].node.store.tables["orders"].description.spec
                    return spec.retention_seconds == 3600

                await eventually(applied, 10, f"the new retention in {name}")
            set_time_to_live(g["eu"].node.core, "orders", "expires_at", True)
            for name in REGIONS:

                async def ttl_on(n: str = name) -> bool:
                    spec = g[n].node.store.tables["orders"].description.spec
                    return spec.ttl_attribute == "expires_at"

                await eventually(ttl_on, 10, f"time to live on in {name}")
            with pytest.raises(
                ItemError, match="key schema and merge mode of a table cannot change"
            ):
                g["eu"].node.core.catalog.update_spec(
                    "orders", lambda spec: setattr(spec.sort_key, "type", pb.KEY_TYPE_S)
                )

    asyncio.run(scenario())


def test_a_concurrent_create_with_another_schema_is_set_aside(config) -> None:
    async def scenario() -> None:
        async with running_group(config, replicate=False) as g:
            await g["us"].peer.CreateTable(pb.CreateTableRequest(spec=carts(pb.KEY_TYPE_S)))
            await g["eu"].peer.CreateTable(pb.CreateTableRequest(spec=carts(pb.KEY_TYPE_N)))
            await g["us"].stub.PutItem(pb.PutItemRequest(table="carts", item=cart("s1")))
            await g["eu"].stub.PutItem(pb.PutItemRequest(table="carts", item=cart(1)))
            for region in g.values():
                await region.start_replicator()
            for name in REGIONS:  # us created first: its key schema wins everywhere
                await eventually(
                    lambda n=name: _equals(scan(g[n]), [{"id": "s1"}]), 10, f"us carts in {name}"
                )
            status = await g["eu"].replicator.links[0].node.NodeInfo(pb.NodeInfoRequest())
            assert [a.table for a in status.set_aside] == ["carts"]
            kept_as = status.set_aside[0].kept_as
            assert kept_as.startswith("carts.aside-0-")
            assert await scan(g["eu"], kept_as) == [{"id": 1}]  # eu's write is kept, not lost
            report = await g["eu"].replicator.links[0].node.NodeInfo(pb.NodeInfoRequest())
            assert "came first" in report.set_aside[0].reason
            assert g["eu"].node.registry.get_sample_value("meridian_node_tables_set_aside") == 1
            assert g["us"].node.registry.get_sample_value("meridian_node_tables_set_aside") == 0

    asyncio.run(scenario())


def test_status_reports_tables_set_aside(config) -> None:
    async def scenario() -> None:
        from replicator.service import region_status

        async with running_group(config, replicate=False) as g:
            await g["us"].peer.CreateTable(pb.CreateTableRequest(spec=carts(pb.KEY_TYPE_S)))
            await g["eu"].peer.CreateTable(pb.CreateTableRequest(spec=carts(pb.KEY_TYPE_N)))
            for region in g.values():
                await region.start_replicator()
            rep = g["eu"].replicator

            async def reported() -> rpb.StatusResponse:
                status = await region_status("eu", rep.links[0].node, rep.links, rep.links[0].pins)
                assert [a.table for a in status.set_aside] == ["carts"], status
                return status

            await eventually(_passes(reported), 10, "eu's status reporting carts set aside")

    asyncio.run(scenario())


def test_a_group_file_that_disagrees_with_the_catalog_stops_the_node(
    tmp_path: pathlib.Path,
) -> None:
    doc = group_yaml(tmp_path, ["us"])
    config = load_doc(doc, tmp_path / "group.yaml")
    other = dict(doc, tables=[dict(ORDERS, sort_key={"name": "sk", "type": "S"})])
    changed = load_doc(other, tmp_path / "changed.yaml")

    async def scenario() -> None:
        node = Node(_settings(config))
        await node.start()
        await node.stop()
        again = Node(_settings(changed))
        with pytest.raises(StartupError) as info:
            await again.start()
        message = str(info.value)
        assert "\n" not in message
        for part in (
            "table 'orders'",
            "sort key sk (S)",
            "sort key sk (N)",
            "declare it with that key schema",
        ):
            assert part in message, message

    asyncio.run(scenario())


def _settings(config) -> NodeSettings:
    settings = NodeSettings.from_config(config, "us")
    settings.metrics_listen = None  # a restarted node in the same process: no port to free
    return settings


async def _equals(rows, expected) -> bool:
    return await rows == sorted(expected, key=_canonical)


async def _count(rows, n: int) -> bool:
    return len(await rows) == n


def _passes(check):
    async def run() -> bool:
        try:
            await check()
        except AssertionError:
            return False
        return True

    return run


def test_a_changed_stream_setting_in_the_group_file_takes_effect_at_start(
    tmp_path: pathlib.Path,
) -> None:
    doc = group_yaml(tmp_path, ["us"])
    config = load_doc(doc, tmp_path / "group.yaml")
    edited = dict(doc, tables=[dict(ORDERS, stream={"view_type": "KEYS_ONLY"})])
    changed = load_doc(edited, tmp_path / "changed.yaml")

    async def scenario() -> None:
        node = Node(_settings(config))
        await node.start()
        await node.stop()
        again = Node(_settings(changed))
        await again.start()
        try:
            assert again.store.tables["orders"].description.spec.view_type == pb.KEYS_ONLY
            assert again.core is not None
            assert again.core.catalog.entry("orders").spec.view_type == pb.KEYS_ONLY
        finally:
            await again.stop()

    asyncio.run(scenario())


def test_records_of_another_incarnation_are_refused(config) -> None:
    async def scenario() -> None:
        async with running_group(config, replicate=False) as g:
            peer = g["us"].peer
            record = pb.StreamRecord(
                sequence_number=1,
                event_name=pb.INSERT,
                keys=items.from_plain({"pk": "x", "sk": 1}),
                new_image=items.from_plain({"pk": "x", "sk": 1}),
                version=pb.Version(hlc=1 << 16, region="eu"),
                table="orders",
            )
            stale = pb.ApplyReplicatedRequest(
                origin="eu", table="orders", records=[record], incarnation="7:0000"
            )
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await peer.ApplyReplicated(stale)
            assert reason_of(refused.value) == "TABLE_CHANGED"
            snapshot = pb.ApplySnapshotRequest(
                table="orders",
                entries=[pb.StoredItem(item=record.new_image, version=record.version)],
                incarnation="7:0000",
            )
            with pytest.raises(grpc.aio.AioRpcError) as refused_copy:
                await peer.ApplySnapshot(snapshot)
            assert reason_of(refused_copy.value) == "TABLE_CHANGED"
            assert await scan(g["us"], "orders") == []  # nothing landed
            current = g["us"].node.core.catalog.entry("orders")
            stale.incarnation = current.schema_fingerprint
            applied = await peer.ApplyReplicated(stale)
            assert applied.applied == 1

    asyncio.run(scenario())


def test_a_crash_between_entry_and_table_is_repaired_at_start(tmp_path: pathlib.Path) -> None:
    """The catalog entry is stored before the local table follows it: a node that stopped
    in between creates (or drops) the table when it starts again."""
    doc = group_yaml(
        tmp_path,
        ["us"],
        tables=[ORDERS, {"name": "things", "partition_key": {"name": "id", "type": "S"}}],
    )
    config = load_doc(doc, tmp_path / "group.yaml")

    async def scenario() -> None:
        node = Node(_settings(config))
        await node.start()
        await node.stop()
        store = Store(config.region("us").data_dir, sync=False)
        try:
            entry = pb.TableDescription(spec=carts(), version=pb.Version(hlc=5, region="us"))
            entry.created.CopyFrom(entry.version)
            entry.schema_fingerprint = schema.fingerprint(entry.spec)
            store.put_catalog_entry(entry)  # created here, then the crash
            gone = store.catalog_entries()["things"]
            gone.state = pb.TABLE_STATE_DELETED  # deleted here, then the crash
            store.put_catalog_entry(gone)
        finally:
            store.close()
        again = Node(_settings(config))
        await again.start()
        try:
            assert sorted(again.store.tables) == ["carts", "orders"]
        finally:
            await again.stop()

    asyncio.run(scenario())
