"""Snapshot entries sent as stored bytes (`regionnode/stored_copy.py`), on a real node over
gRPC: stored as they are into a range that holds nothing, merged with last-writer-wins
where something is held, checked at the door, and a copy whose write fails leaves the old
state and resumes."""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

import grpc
import pytest

from meridian.model import hlc, items
from meridian.pb import node_pb2 as pb
from regionnode.store import Store, tombstone_key
from tests.harness import eventually, load_doc
from tests.harness.inprocess import running_group
from tests.integration.group import ORDERS, group_yaml
from tests.integration.test_bootstrap import converged, fill, three_regions, trim_all

PREFIX = b"iorders\x00"


def entry(pk: str, clock_ms: int, origin: str = "eu", tombstone: bool = False) -> pb.StoredItem:
    item = items.from_plain({"pk": pk, "sk": 1} if tombstone else {"pk": pk, "sk": 1, "v": pk})
    out = pb.StoredItem(tombstone=tombstone, item=item, written_ms=5)
    out.version.hlc, out.version.region = hlc.pack(clock_ms), origin
    return out


def request(store: Store, *entries: pb.StoredItem) -> pb.ApplySnapshotRequest:
    schema = store.tables["orders"].schema
    return pb.ApplySnapshotRequest(
        table="orders",
        keys=[schema.storage_key(e.item) for e in entries],
        stored=[e.SerializeToString() for e in entries],
    )


def held(store: Store) -> dict[bytes, bytes]:
    return dict(store.scan_range(PREFIX, b"iorders\x01"))


def test_stored_bytes_into_an_empty_range_are_stored_as_they_are(tmp_path: pathlib.Path) -> None:
    config = load_doc(group_yaml(tmp_path, ["us", "eu"]), tmp_path / "g.yaml")

    async def scenario() -> None:
        async with running_group(config, replicate=False) as g:
            store = g["us"].node.core.store
            live, gone = entry("a", 10), entry("b", 20, tombstone=True)
            req = request(store, live, gone)
            response = await g["us"].peer.ApplySnapshot(req)
            assert (response.applied, response.kept) == (2, 0)
            stored = held(store)
            assert stored[req.keys[0]] == req.stored[0]  # the bytes as the source stored them
            tombstone = pb.StoredItem.FromString(stored[req.keys[1]])
            assert tombstone.tombstone and tombstone.version == gone.version
            assert tombstone.written_ms > 5  # this node's clock: collection counts from here
            assert store.get(tombstone_key(tombstone.written_ms, req.keys[1])) == b""
            assert g["us"].node.core.writer.clock.last > hlc.pack(20)  # the clock observed it

    asyncio.run(scenario())


def test_stored_bytes_where_items_are_held_are_merged(tmp_path: pathlib.Path) -> None:
    """A range that holds anything takes last-writer-wins: a newer item held is kept, and a
    batch sent again changes nothing (a resumed copy may send it twice)."""
    config = load_doc(group_yaml(tmp_path, ["us", "eu"]), tmp_path / "g.yaml")

    async def scenario() -> None:
        async with running_group(config, replicate=False) as g:
            us, store = g["us"], g["us"].node.core.store
            newer = entry("b", 50, "us")
            await us.peer.ApplySnapshot(pb.ApplySnapshotRequest(table="orders", entries=[newer]))
            req = request(store, entry("a", 10), entry("b", 20), entry("c", 30))
            response = await us.peer.ApplySnapshot(req)
            assert (response.applied, response.kept) == (2, 1)
            assert pb.StoredItem.FromString(held(store)[req.keys[1]]).version == newer.version
            before = held(store)
            again = await us.peer.ApplySnapshot(req)
            assert (again.applied, again.kept) == (0, 3)
            assert held(store) == before

    asyncio.run(scenario())


def test_stored_bytes_in_attribute_mode_are_merged_even_into_an_empty_range(
    tmp_path: pathlib.Path,
) -> None:
    """An attribute-mode entry is normalized by its merge: never stored as it came."""
    table = {**ORDERS, "merge": "attribute"}
    config = load_doc(group_yaml(tmp_path, ["us", "eu"], tables=[table]), tmp_path / "g.yaml")

    async def scenario() -> None:
        async with running_group(config, replicate=False) as g:
            store = g["us"].node.core.store
            sent = entry("a", 10)
            for name in ("pk", "sk", "v"):
                sent.attributes.clock[name].CopyFrom(sent.version)
            req = request(store, sent)
            response = await g["us"].peer.ApplySnapshot(req)
            assert response.applied == 1
            stored = held(store)[req.keys[0]]
            assert stored != req.stored[0]  # merged (its written time is this node's)
            merged = pb.StoredItem.FromString(stored)
            assert merged.item == sent.item and merged.version == sent.version
            assert merged.written_ms > 5

    asyncio.run(scenario())


BAD: list[tuple[str, Any, str]] = [
    ("fewer keys", lambda s, r: r.keys.pop(), "keys: 1 keys for 2 stored entries"),
    ("another table", lambda s, r: r.keys.__setitem__(0, b"iother\x00k"), "keys[0]: not a key"),
    ("node-local key", lambda s, r: r.keys.__setitem__(0, b"m:hlc"), "keys[0]: not a key"),
    ("out of order", lambda s, r: r.keys.reverse(), "keys[1]: not a key of table"),
    ("not a stored item", lambda s, r: r.stored.__setitem__(1, b"\xff"), "stored[1]: not a"),
    ("no version", lambda s, r: r.stored.__setitem__(0, b""), "stored[0]: implausible version"),
    ("both kinds", lambda s, r: r.entries.add(), "entries: not with stored entries"),
    ("keys alone", lambda s, r: r.ClearField("stored"), "keys: given without stored entries"),
]


@pytest.mark.parametrize(("case", "spoil", "message"), BAD, ids=[b[0] for b in BAD])
def test_malformed_stored_entries_are_refused_and_change_nothing(
    tmp_path: pathlib.Path, case: str, spoil: Any, message: str
) -> None:
    config = load_doc(group_yaml(tmp_path, ["us", "eu"]), tmp_path / "g.yaml")

    async def scenario() -> None:
        async with running_group(config, replicate=False) as g:
            store = g["us"].node.core.store
            req = request(store, entry("a", 10), entry("b", 10))
            spoil(store, req)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await g["us"].peer.ApplySnapshot(req)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert message in (refused.value.details() or ""), case
            assert held(store) == {}

    asyncio.run(scenario())


def test_a_key_that_is_not_its_items_is_refused_where_items_are_held(
    tmp_path: pathlib.Path,
) -> None:
    """The merge checks each entry in full, its key included, before staging anything."""
    config = load_doc(group_yaml(tmp_path, ["us", "eu"]), tmp_path / "g.yaml")

    async def scenario() -> None:
        async with running_group(config, replicate=False) as g:
            us, store = g["us"], g["us"].node.core.store
            await us.peer.ApplySnapshot(request(store, entry("b", 50)))
            before = held(store)
            req = request(store, entry("a", 10), entry("c", 10))
            req.keys[1] = store.tables["orders"].schema.storage_key(entry("bb", 1).item)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await us.peer.ApplySnapshot(req)
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "keys[1]: not the key of its entry's item" in (refused.value.details() or "")
            assert held(store) == before

    asyncio.run(scenario())


def test_a_failed_write_mid_copy_leaves_the_old_state_and_the_copy_resumes(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An injected failure of one copy batch's write: the node holds exactly the batches its
    stored progress counts (items and progress are one WriteBatch), and the copy resumes
    from there to a converged, ACTIVE region."""
    regions = three_regions(tmp_path, copy_batch=500)
    us, eu, ap = regions["us"], regions["eu"], regions["ap"]
    seen: list[tuple[int, int]] = []  # (items held, entries in the stored progress)

    async def scenario() -> None:
        try:
            for r in (us, eu):
                await r.start_node()
                await r.start_replicator()
            await fill(us, "c", 4000)
            await eventually(lambda: converged([us, eu]), 30, "us and eu converge")
            trim_all(us)
            trim_all(eu)
            await ap.start_node()
            store = ap.node.core.store
            write = store.write
            copies = 0

            def failing(batch: Any) -> None:
                nonlocal copies
                if len(batch) > 500:  # a copy batch: 500 items, progress, clock
                    copies += 1
                    if copies == 3:
                        seen.append((len(held(store)), store.bootstrap.entries))
                        raise OSError("injected write failure")
                write(batch)

            monkeypatch.setattr(store, "write", failing)
            await ap.start_replicator()

            async def active() -> bool:
                info = await ap.peer.NodeInfo(pb.NodeInfoRequest())
                return info.bootstrap.state == "ACTIVE"

            await eventually(active, 60, "ap ACTIVE after the failed write")
            await eventually(lambda: converged([us, eu, ap]), 30, "all three converge")
        finally:
            for r in regions.values():
                await r.stop()

    asyncio.run(scenario())
    assert seen == [(1000, 1000)]  # two batches held and counted; the third neither
