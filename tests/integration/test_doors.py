"""The node's two doors, attacked from outside: the client door has no replication calls,
the peer door admits only the region's token, and the node checks every replicated record
itself (origin, clock) whatever the caller claims. Nothing changes for a refused call."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import Callable, Coroutine
from typing import Any

import grpc
import pytest

from meridian.model import hlc
from meridian.pb import node_pb2 as pb
from meridian.pb import replication_pb2
from meridian.wire import peer_token
from meridian.wire.errors import Reason, reason_of
from tests.harness import load_doc
from tests.harness.inprocess import Region, running_group
from tests.integration.group import group_yaml
from tests.integration.test_node import order, replicated

Code = grpc.StatusCode
REPLICATION = replication_pb2.DESCRIPTOR.services_by_name["Replication"]
TEN_YEARS_MS = 10 * 365 * 86_400_000


def run(body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(body(), 60)

    asyncio.run(bounded())


def two_regions(tmp_path: pathlib.Path) -> Any:
    return load_doc(group_yaml(tmp_path, ["us", "eu"]), tmp_path / "group.yaml")


def attacks(us: Region) -> dict[str, bytes]:
    """The calls an attacker makes, as serialized requests by method name."""
    now = hlc.wall_ms()
    far = [replicated(1, hlc.pack(10**12), order("x", 1), origin="eu")]
    return {
        # origin eu with sequence 10^12: would move us's checkpoint of eu to 10^12
        "ApplyReplicated": pb.ApplyReplicatedRequest(
            origin="eu", table="orders", records=far, source_sequence=10**12
        ).SerializeToString(),
        "DeleteTable": pb.DeleteTableRequest(table="orders").SerializeToString(),
        "HoldRetention": pb.HoldRetentionRequest(
            holder="eu", holds=[pb.RetentionHold(table="orders", sequence_number=1)]
        ).SerializeToString(),
        "ApplySnapshot": pb.ApplySnapshotRequest(
            table="orders",
            entries=[
                pb.StoredItem(
                    item=order("x", 2), version=pb.Version(hlc=hlc.pack(now), region="eu")
                )
            ],
        ).SerializeToString(),
        "Snapshot": pb.SnapshotRequest(table="orders").SerializeToString(),
    }


async def call(channel: grpc.aio.Channel, method: str, body: bytes) -> None:
    path = f"/{REPLICATION.full_name}/{method}"
    if REPLICATION.methods_by_name[method].server_streaming:
        async for _ in channel.unary_stream(path)(body, timeout=5):
            pass
    else:
        await channel.unary_unary(path)(body, timeout=5)


async def state(us: Region) -> tuple[bytes, list[pb.Checkpoint], list[str]]:
    digest = await us.stub.Digest(pb.DigestRequest(table="orders"))
    ckpts = await us.peer.GetCheckpoints(pb.GetCheckpointsRequest())
    tables = await us.stub.ListTables(pb.ListTablesRequest())
    return digest.SerializeToString(), list(ckpts.checkpoints), list(tables.tables)


def test_replication_calls_are_not_on_the_client_door(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_group(two_regions(tmp_path), replicate=False) as regions:
            us = regions["us"]
            await us.stub.PutItem(pb.PutItemRequest(table="orders", item=order("k", 1)))
            before = await state(us)
            client_door = str(us.config.region("us").node_listen)
            async with grpc.aio.insecure_channel(client_door) as channel:
                for method, request in attacks(us).items():
                    with pytest.raises(grpc.aio.AioRpcError) as info:
                        await call(channel, method, request)
                    assert info.value.code() == Code.UNIMPLEMENTED, method
            assert await state(us) == before

    run(body)


def test_the_peer_door_refuses_calls_without_the_regions_token(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_group(two_regions(tmp_path), replicate=False) as regions:
            us = regions["us"]
            await us.stub.PutItem(pb.PutItemRequest(table="orders", item=order("k", 1)))
            before = await state(us)
            peer_door = str(us.config.region("us").node_peer_listen)
            wrong = peer_token.interceptors("0" * 64)
            for interceptors in (None, wrong):
                async with grpc.aio.insecure_channel(
                    peer_door, interceptors=interceptors
                ) as channel:
                    for method, request in attacks(us).items():
                        with pytest.raises(grpc.aio.AioRpcError) as info:
                            await call(channel, method, request)
                        assert info.value.code() == Code.UNAUTHENTICATED, method
                        assert reason_of(info.value) == Reason.UNAUTHENTICATED, method
                        assert "region's token" in (info.value.details() or ""), method
            assert await state(us) == before

    run(body)


def test_the_node_checks_replicated_records_whoever_sends_them(tmp_path: pathlib.Path) -> None:
    """Even with the token, records of an unknown or its own region are refused, and the
    clock limit is the node's own: a request cannot lift it (the old field 4, sent raw)."""

    async def body() -> None:
        async with running_group(two_regions(tmp_path), replicate=False) as regions:
            us = regions["us"]
            await us.stub.PutItem(pb.PutItemRequest(table="orders", item=order("k", 1)))
            before = await state(us)
            clock_before = (await us.peer.NodeInfo(pb.NodeInfoRequest())).hlc
            now = hlc.wall_ms()
            for origin in ("not-a-region", "us", ""):
                record = replicated(1, hlc.pack(now), order("y", 1), origin=origin or "eu")
                request = pb.ApplyReplicatedRequest(
                    origin=origin, table="orders", records=[record], source_sequence=1
                )
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await us.peer.ApplyReplicated(request)
                assert info.value.code() == Code.INVALID_ARGUMENT, origin
                assert "another region of the group (eu)" in (info.value.details() or "")
            ahead = replicated(1, hlc.pack(now + TEN_YEARS_MS), order("z", 1), origin="eu")
            request = pb.ApplyReplicatedRequest(
                origin="eu", table="orders", records=[ahead], source_sequence=1
            )
            no_limit = b"\x20\x00"  # field 4 (varint) = 0: "no clock limit" in the old API
            path = f"/{REPLICATION.full_name}/ApplyReplicated"
            raw = us.peer_channel
            assert raw is not None
            reply = pb.ApplyReplicatedResponse.FromString(
                await raw.unary_unary(path)(request.SerializeToString() + no_limit, timeout=5)
            )
            assert (reply.applied, reply.clock_rejected) == (0, 1)
            assert (await us.peer.NodeInfo(pb.NodeInfoRequest())).hlc < hlc.pack(now + 60_000)
            assert clock_before < hlc.pack(now + 60_000)
            assert await state(us) == before

    run(body)


def test_a_refused_call_stays_refused_after_admitted_calls_of_the_same_method(
    tmp_path: pathlib.Path,
) -> None:
    """A door decides every call anew: an admitted call of a method must not open that
    method to the calls after it (handlers are cached per method below the guard)."""

    async def body() -> None:
        async with running_group(two_regions(tmp_path), replicate=False) as regions:
            us = regions["us"]
            before = await us.peer.GetCheckpoints(pb.GetCheckpointsRequest())  # admitted
            await us.peer.NodeInfo(pb.NodeInfoRequest())
            peer_door = str(us.config.region("us").node_peer_listen)
            async with grpc.aio.insecure_channel(peer_door) as channel:
                for method in ("GetCheckpoints", "NodeInfo"):
                    path = f"/{REPLICATION.full_name}/{method}"
                    with pytest.raises(grpc.aio.AioRpcError) as info:
                        await channel.unary_unary(path)(b"", timeout=5)
                    assert info.value.code() == Code.UNAUTHENTICATED, method
            assert await us.peer.GetCheckpoints(pb.GetCheckpointsRequest()) == before

    run(body)
