"""ApplyReplicatedStream on a real node, directly and through the replicator's Applier."""

from __future__ import annotations

import pathlib

import grpc
import pytest

from meridian.model import hlc
from meridian.pb import node_pb2 as pb
from meridian.wire import peer_token
from meridian.wire.channels import connect_peer
from replicator.applier import Applier, NodeStub
from tests.integration.test_node import (
    apply_request,
    checkpoint_of,
    digest,
    get,
    head,
    order,
    outcome,
    replicated,
    run,
    running_node,
)


def test_stream_applies_batches_in_order_and_stops_at_the_first_bad_one(
    tmp_path: pathlib.Path,
) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            now = hlc.pack(hlc.wall_ms())
            call = stub.ApplyReplicatedStream()
            await call.write(apply_request([replicated(1, now, order("a", 1, v="one"))]))
            first = await call.read()
            await call.write(apply_request([replicated(2, now + 1, order("a", 1, v="two"))]))
            second = await call.read()
            assert outcome(first) == (1, 0, 0, 0, 0, 1)
            assert outcome(second) == (1, 0, 0, 0, 0, 2)
            assert (await get(stub, "orders", order("a", 1))).item == order("a", 1, v="two")

            start, before = await head(stub, "orders"), await digest(stub, "orders")
            bad = replicated(3, now + 2, order("b", 1), keys=order("b", 2))
            await call.write(apply_request([bad]))
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await call.read()
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert "records[0]" in (info.value.details() or "")
            assert await head(stub, "orders") == start
            assert await digest(stub, "orders") == before
            assert await checkpoint_of(stub, "eu") == 2

    run(body)


def test_applier_reopens_the_stream_after_a_refused_batch(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            now = hlc.pack(hlc.wall_ms())
            applier = Applier(stub)
            try:
                resp = await applier.apply(apply_request([replicated(1, now, order("a", 1))]))
                assert outcome(resp) == (1, 0, 0, 0, 0, 1)
                moved = apply_request([replicated(2, now + 1, order("a", 2))], node_id="eu-2")
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await applier.apply(moved)
                assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
                assert "resync needed" in (info.value.details() or "")

                resp = await applier.apply(apply_request([replicated(2, now + 1, order("a", 2))]))
                assert outcome(resp) == (1, 0, 0, 0, 0, 2)
                assert (await get(stub, "orders", order("a", 2))).found
            finally:
                applier.close()
            assert await checkpoint_of(stub, "eu") == 2

    run(body)


def test_pipelined_batches_apply_in_order_and_none_after_one_not_applied(
    tmp_path: pathlib.Path,
) -> None:
    """A replicator writes the next batch before the previous result is back (Applier.send,
    then receive): the node applies them in order, and a batch whose after_checkpoint the
    checkpoint has not reached (the one before it was refused in part) is skipped whole."""

    async def body() -> None:
        async with running_node(tmp_path / "n") as (_, stub):
            now = hlc.pack(hlc.wall_ms())
            applier = Applier(stub)
            try:
                first = apply_request([replicated(1, now, order("a", 1, v="one"))])
                second = apply_request([replicated(2, now + 1, order("a", 1, v="two"))])
                second.after_checkpoint = 1
                await applier.send(first)
                await applier.send(second)
                assert outcome(await applier.receive()) == (1, 0, 0, 0, 0, 1)
                assert outcome(await applier.receive()) == (1, 0, 0, 0, 0, 2)
                assert (await get(stub, "orders", order("a", 1))).item == order("a", 1, v="two")

                ahead = hlc.pack(hlc.wall_ms() + 3_600_000)  # far beyond the clock offset
                rejected = apply_request([replicated(3, ahead, order("b", 1))])
                rejected.after_checkpoint = 2
                behind_it = apply_request([replicated(4, now + 2, order("c", 1))])
                behind_it.after_checkpoint = 3
                start, before = await head(stub, "orders"), await digest(stub, "orders")
                await applier.send(rejected)
                await applier.send(behind_it)
                assert outcome(await applier.receive()) == (0, 0, 0, 0, 1, 2)
                skipped = await applier.receive()
                assert skipped.skipped
                assert outcome(skipped) == (0, 0, 0, 0, 0, 2)
                assert not (await get(stub, "orders", order("c", 1))).found
                assert await head(stub, "orders") == start
                assert await digest(stub, "orders") == before
            finally:
                applier.close()
            assert await checkpoint_of(stub, "eu") == 2

    run(body)


def relay_of(request: pb.ApplyReplicatedRequest) -> pb.ApplyReplicatedRelay:
    """The request as a replicator relays it: its records as serialized bytes."""
    return pb.ApplyReplicatedRelay.FromString(request.SerializeToString())


def malformed_records(now: int) -> list[tuple[str, bytes, str]]:
    """(case, record bytes as a peer could ship them, what the refusal names)."""
    text = replicated(7, now, order("h", 2, note="NOTE")).SerializeToString()
    untyped = replicated(7, now, order("h", 2))
    untyped.new_image.attributes["x"].Clear()  # an attribute value of no type
    return [
        ("bytes that are not a record", b"\x0a\xff\xff\xff\xff\x0f", "not a protobuf message"),
        ("a record cut short", text[:-1], "not a protobuf message"),
        # the same length: the record's structure stays whole, only the string is not UTF-8
        ("an image string that is not UTF-8", text.replace(b"NOTE", b"\xff\xfeTE"), "UTF-8"),
        ("an image attribute of no type", untyped.SerializeToString(), "no type set"),
    ]


def test_relayed_record_bytes_that_are_malformed_are_refused_and_change_nothing(
    tmp_path: pathlib.Path,
) -> None:
    """The replicator's path (NodeStub, records relayed as bytes, never parsed on the way):
    the node parses them and refuses a batch with one malformed record whole."""

    async def body() -> None:
        async with running_node(tmp_path / "n") as (node, stub):
            token = peer_token.read(tmp_path / "n")
            assert token is not None
            channel, _ = connect_peer(f"127.0.0.1:{node.peer_port}", token)
            applier = Applier(NodeStub(channel))
            now = hlc.pack(hlc.wall_ms())
            try:
                first = relay_of(apply_request([replicated(5, now, order("h", 1))]))
                assert outcome(await applier.apply(first)) == (1, 0, 0, 0, 0, 5)
                start, before = await head(stub, "orders"), await digest(stub, "orders")
                good = replicated(6, now + 1, order("h", 3)).SerializeToString()
                for case, data, named in malformed_records(now + 1):
                    batch = relay_of(apply_request([], source=7))
                    batch.records.extend([good, data])
                    with pytest.raises(grpc.aio.AioRpcError) as info:
                        await applier.apply(batch)
                    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, case
                    assert named in (info.value.details() or ""), (case, info.value.details())
                    assert await head(stub, "orders") == start, case
                    assert await digest(stub, "orders") == before, case
                    assert await checkpoint_of(stub, "eu") == 5, case
                    assert not (await get(stub, "orders", order("h", 3))).found, case
                batch = relay_of(apply_request([], source=6))
                batch.records.append(good)
                assert outcome(await applier.apply(batch)) == (1, 0, 0, 0, 0, 6)
            finally:
                applier.close()
                await channel.close()

    run(body)
