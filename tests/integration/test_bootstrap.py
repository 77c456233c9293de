"""Adding a region to a live group, resuming an interrupted bootstrap, and resync."""

from __future__ import annotations

import asyncio
import pathlib
import time
from typing import Any

import grpc
import pytest

from meridian.model import items
from meridian.pb import node_pb2 as pb
from meridian.pb import replicator_pb2 as rpb
from meridian.pb import replicator_pb2_grpc as rpb_grpc
from regionnode.replication_service import ReplicationService
from tests.harness import eventually, free_port, load_doc
from tests.harness.inprocess import Region
from tests.integration.dynamodb_support import post
from tests.integration.group import group_yaml

GET_ITEM = "DynamoDB_20120810.GetItem"

FAR_FUTURE = 10**13  # a wall-clock value that makes every stream record look expired


def item(pk: str, sk: int, **attrs: object) -> pb.Item:
    return items.from_plain({"pk": pk, "sk": sk, **attrs})


async def fill(region: Region, prefix: str, count: int) -> None:
    for start in range(0, count, 500):
        writes = [
            pb.WriteRequest(put=item(prefix, i, v=i)) for i in range(start, min(count, start + 500))
        ]
        await region.stub.BatchWriteItem(pb.BatchWriteItemRequest(table="orders", writes=writes))


async def digests(regions: list[Region]) -> set[str]:
    return {(await r.stub.Digest(pb.DigestRequest(table="orders"))).digest for r in regions}


async def converged(regions: list[Region]) -> bool:
    return len(await digests(regions)) == 1


def trim_all(region: Region) -> None:
    region.node.core.streams.trim(FAR_FUTURE)


async def status(region: Region) -> rpb.StatusResponse:
    address = str(region.config.region(region.name).replicator_listen)

    async with grpc.aio.insecure_channel(address) as channel:
        return await rpb_grpc.ReplicatorStub(channel).Status(rpb.StatusRequest(), timeout=5)


def three_regions(tmp_path: pathlib.Path, copy_batch: int | None = None) -> dict[str, Region]:
    """us, eu and ap; `copy_batch`: entries per bootstrap message (replication.bootstrap_batch)."""
    replication = {"bootstrap_batch": copy_batch} if copy_batch else None
    doc = group_yaml(tmp_path, ["us", "eu", "ap"], replication=replication)
    config = load_doc(doc, tmp_path / "g.yaml")
    return {name: Region(name, config) for name in ("us", "eu", "ap")}


def test_new_region_bootstraps_from_a_snapshot_under_writes(tmp_path: pathlib.Path) -> None:
    regions = three_regions(tmp_path)
    us, eu, ap = regions["us"], regions["eu"], regions["ap"]

    async def scenario() -> None:
        try:
            for r in (us, eu):
                await r.start_node()
                await r.start_replicator()
            await fill(us, "a", 3000)
            await eventually(lambda: converged([us, eu]), 20, "us and eu converge")
            deleted = await eu.stub.DeleteItem(
                pb.DeleteItemRequest(table="orders", key=item("a", 7))
            )
            assert deleted.changed
            await eventually(lambda: converged([us, eu]), 20, "the delete replicates")
            trim_all(us)
            trim_all(eu)  # history is gone: a new region needs a snapshot
            await ap.start_node()
            await ap.start_replicator()
            writes = asyncio.ensure_future(fill(eu, "during", 1500))  # writes during the copy

            async def active() -> bool:
                return (await status(ap)).region_state == "ACTIVE"

            await eventually(active, 30, "ap ACTIVE")
            await writes
            await eventually(lambda: converged([us, eu, ap]), 30, "all three converge")
            state = (await status(ap)).bootstrap
            assert state.reason == "new region" and state.entries >= 3000
            got = await ap.stub.GetItem(pb.GetItemRequest(table="orders", key=item("a", 7)))
            assert not got.found  # the tombstone came along
            ckpts = (await ap.peer.GetCheckpoints(pb.GetCheckpointsRequest())).checkpoints
            assert {c.origin for c in ckpts} >= {"us", "eu"}
        finally:
            for r in regions.values():
                await r.stop()

    asyncio.run(scenario())


def test_interrupted_bootstrap_resumes_and_converges(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small, slowed batches: the copy takes over a second, so it is surely interrupted.
    apply_snapshot = ReplicationService.ApplySnapshot

    async def slowly(self: ReplicationService, request: Any, context: Any) -> Any:
        await asyncio.sleep(0.05)
        return await apply_snapshot(self, request, context)

    monkeypatch.setattr(ReplicationService, "ApplySnapshot", slowly)
    regions = three_regions(tmp_path, copy_batch=500)
    us, eu, ap = regions["us"], regions["eu"], regions["ap"]

    async def scenario() -> None:
        try:
            for r in (us, eu):
                await r.start_node()
                await r.start_replicator()
            await fill(us, "b", 12000)
            await eventually(lambda: converged([us, eu]), 30, "us and eu converge")
            trim_all(us)
            trim_all(eu)
            await ap.start_node()
            await ap.start_replicator()

            async def copying() -> bool:
                info = await ap.peer.NodeInfo(pb.NodeInfoRequest())
                return info.bootstrap.entries > 0

            await eventually(copying, 30, "the copy to start")

            await ap.stop_replicator()  # interrupted mid-copy
            info = await ap.peer.NodeInfo(pb.NodeInfoRequest())
            assert info.bootstrap.state == "BOOTSTRAPPING" and info.bootstrap.entries < 12000
            # the origin of every write keeps what ap will stream after the copy (eu wrote
            # nothing: whether it holds depends on which region the copy came from)
            assert us.node.core.streams.holds.floor("orders", time.monotonic())
            await fill(us, "after", 100)
            await ap.start_replicator()
            await eventually(lambda: converged([us, eu, ap]), 60, "convergence after resume")
            info = await ap.peer.NodeInfo(pb.NodeInfoRequest())
            assert info.bootstrap.state == "ACTIVE"
        finally:
            for r in regions.values():
                await r.stop()

    asyncio.run(scenario())


def test_link_behind_the_retention_resyncs_instead_of_skipping(tmp_path: pathlib.Path) -> None:
    config = load_doc(group_yaml(tmp_path, ["us", "eu"]), tmp_path / "g.yaml")
    us, eu = Region("us", config), Region("eu", config)

    async def scenario() -> None:
        try:
            for r in (us, eu):
                await r.start_node()
                await r.start_replicator()
            await fill(us, "c", 100)
            await eventually(lambda: converged([us, eu]), 20)
            await eu.stop_replicator()
            await fill(us, "d", 500)
            await us.stub.DeleteItem(pb.DeleteItemRequest(table="orders", key=item("c", 3)))
            trim_all(us)  # eu's checkpoint for us is now older than us's stream
            await eu.start_replicator()
            await eventually(lambda: converged([us, eu]), 30, "resync")
            link = eu.replicator.links[0]
            assert eu.replicator.metrics.resyncs.labels("us", "eu")._value.get() == 1

            async def streaming() -> bool:
                return link.status.state == "STREAMING"

            await eventually(streaming, 10, "streaming again")
            got = await eu.stub.GetItem(pb.GetItemRequest(table="orders", key=item("c", 3)))
            assert not got.found
            # streaming resumes after the resync: a new write arrives normally
            await us.stub.PutItem(pb.PutItemRequest(table="orders", item=item("e", 1)))
            await eventually(lambda: converged([us, eu]), 20, "streaming after resync")
        finally:
            for r in (us, eu):
                await r.stop()

    asyncio.run(scenario())


def test_manual_resync_merges_without_overwriting_newer(tmp_path: pathlib.Path) -> None:
    config = load_doc(group_yaml(tmp_path, ["us", "eu"]), tmp_path / "g.yaml")
    us, eu = Region("us", config), Region("eu", config)

    async def scenario() -> None:

        try:
            for r in (us, eu):
                await r.start_node()
                await r.start_replicator()
            await fill(us, "m", 200)
            await eventually(lambda: converged([us, eu]), 20)
            newer = await eu.stub.PutItem(
                pb.PutItemRequest(table="orders", item=item("m", 1, v="eu"))
            )
            address = str(config.region("eu").replicator_listen)
            async with grpc.aio.insecure_channel(address) as channel:
                stub = rpb_grpc.ReplicatorStub(channel)
                updates = [u async for u in stub.Resync(rpb.ResyncRequest(source="us"))]
            assert updates[-1].state == "DONE" and updates[-1].entries >= 200
            got = await eu.stub.GetItem(pb.GetItemRequest(table="orders", key=item("m", 1)))
            assert got.version == newer.version  # the newer local write survived the merge
            await eventually(lambda: converged([us, eu]), 20)
            async with grpc.aio.insecure_channel(address) as channel:
                stub = rpb_grpc.ReplicatorStub(channel)
                try:
                    [u async for u in stub.Resync(rpb.ResyncRequest(source="mars"))]
                    raise AssertionError("unknown source accepted")
                except grpc.aio.AioRpcError as exc:
                    assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
                    assert "mars" in exc.details()
        finally:
            for r in (us, eu):
                await r.stop()

    asyncio.run(scenario())


def test_reads_while_bootstrapping_are_refused_or_marked(tmp_path: pathlib.Path) -> None:
    async def check(policy: str) -> None:
        doc = group_yaml(
            tmp_path / policy, ["solo"], replication={"reads_while_bootstrapping": policy}
        )
        doc["regions"][0]["api"] = {"listen": f"127.0.0.1:{free_port()}"}
        config = load_doc(doc, tmp_path / f"{policy}.yaml")
        region = Region("solo", config)
        endpoint = f"http://{config.region('solo').api_listen}"
        get_body = {"TableName": "orders", "Key": {"pk": {"S": "k"}, "sk": {"N": "1"}}}

        async def http_get() -> tuple[int, dict[str, str], Any]:
            return await asyncio.to_thread(post, endpoint, GET_ITEM, get_body)

        await region.start_node()
        try:
            key = item("k", 1)
            await region.stub.PutItem(pb.PutItemRequest(table="orders", item=key))
            copying = pb.BootstrapState(
                state="BOOTSTRAPPING", source="eu", entries=5, entries_estimate=10
            )
            await region.peer.ApplySnapshot(
                pb.ApplySnapshotRequest(table="orders", progress=copying)
            )
            call = region.stub.GetItem(pb.GetItemRequest(table="orders", key=key))
            if policy == "refuse":
                try:
                    await call
                    raise AssertionError("read served while bootstrapping")
                except grpc.aio.AioRpcError as exc:
                    assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION
                    assert "bootstrapping from eu" in exc.details()
                status, _, answer = await http_get()
                assert status == 503 and answer["__type"].endswith("#ServiceUnavailable")
            else:
                assert (await call).found
                assert ("meridian-region-state", "BOOTSTRAPPING") in tuple(
                    await call.trailing_metadata()
                )
                status, headers, answer = await http_get()
                assert status == 200 and answer["Item"]
                assert headers["meridian-region-state"] == "BOOTSTRAPPING"
            active = pb.BootstrapState(state="ACTIVE")
            await region.peer.ApplySnapshot(
                pb.ApplySnapshotRequest(table="orders", progress=active)
            )
            call = region.stub.GetItem(pb.GetItemRequest(table="orders", key=key))
            assert (await call).found
            assert "meridian-region-state" not in dict(await call.trailing_metadata())
            status, headers, _ = await http_get()
            assert status == 200 and "meridian-region-state" not in headers
        finally:
            await region.stop()

    asyncio.run(check("refuse"))
    asyncio.run(check("serve"))


def test_retention_hold_keeps_records_until_released(tmp_path: pathlib.Path) -> None:
    config = load_doc(group_yaml(tmp_path, ["us"]), tmp_path / "g.yaml")
    us = Region("us", config)

    async def scenario() -> None:
        await us.start_node()
        try:
            await fill(us, "h", 10)
            holds = [pb.RetentionHold(table="orders", sequence_number=4)]
            await us.peer.HoldRetention(pb.HoldRetentionRequest(holder="ap", holds=holds))
            trim_all(us)
            stream = await us.stub.DescribeStream(pb.DescribeStreamRequest(table="orders"))
            assert stream.trim_sequence_number == 4  # records from 4 on are kept for ap
            await us.peer.HoldRetention(pb.HoldRetentionRequest(holder="ap", release=True))
            trim_all(us)
            stream = await us.stub.DescribeStream(pb.DescribeStreamRequest(table="orders"))
            assert stream.trim_sequence_number == 10  # only the newest record stays
            try:
                await us.peer.HoldRetention(pb.HoldRetentionRequest(holds=holds))
                raise AssertionError("a hold without a holder was accepted")
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
        finally:
            await us.stop()

    asyncio.run(scenario())
