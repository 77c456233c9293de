"""Errors on the wire: garbage requests are refused cleanly, and every error has a reason.

A real node and a real replicator on free loopback ports; requests are sent as raw bytes
(identity serializers) so that nothing on the client side stops them.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import random
from collections.abc import Callable, Coroutine
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2

from meridian.pb import client_pb2, replication_pb2
from meridian.pb import node_pb2 as pb
from meridian.pb import replicator_pb2 as rpb
from meridian.pb import replicator_pb2_grpc as rpb_grpc
from meridian.wire import errors, peer_token
from meridian.wire.errors import Reason, reason_of
from replicator.handshake import Identity
from replicator.identity import hello, local_identity
from tests.harness import eventually, load_doc
from tests.harness.inprocess import Region, running_group
from tests.integration.group import group_yaml
from tests.protowire import nested_list, nested_map, put_request, string

DEADLINE_S = 60.0
Code = grpc.StatusCode
CLIENT = client_pb2.DESCRIPTOR.services_by_name["Client"]
SERVICES = {
    "node": [CLIENT, health_pb2.DESCRIPTOR.services_by_name["Health"]],
    "peer": [
        replication_pb2.DESCRIPTOR.services_by_name["Replication"],
        health_pb2.DESCRIPTOR.services_by_name["Health"],
    ],
    "replicator": [
        rpb.DESCRIPTOR.services_by_name["Replicator"],
        health_pb2.DESCRIPTOR.services_by_name["Health"],
    ],
}
# A length-delimited field 1 claiming far more bytes than follow: corrupt for any message.
CORRUPT = b"\x0a\xff\xff\xff\xff\x0f" + b"x" * 10


def run(body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(body(), DEADLINE_S)

    asyncio.run(bounded())


def two_regions(tmp_path: pathlib.Path) -> Any:
    return load_doc(group_yaml(tmp_path, ["us", "eu"]), tmp_path / "group.yaml")


def addresses(region: Region) -> dict[str, str]:
    config = region.config.region(region.name)
    return {
        "node": str(config.node_listen),
        "peer": str(config.node_peer_listen),
        "replicator": str(config.replicator_listen),
    }


def channel_to(region: Region, server: str) -> grpc.aio.Channel:
    """A channel to one of the region's servers; the peer door's carries the region's token."""
    address = addresses(region)[server]
    if server != "peer":
        return grpc.aio.insecure_channel(address)
    token = peer_token.read(region.config.region(region.name).data_dir)
    assert token is not None
    return grpc.aio.insecure_channel(address, interceptors=peer_token.interceptors(token))


async def call_raw(
    channel: grpc.aio.Channel, service: ServiceDescriptor, method: MethodDescriptor, body: bytes
) -> None:
    """Send `body` as the request of `method`, reading every response; raises AioRpcError."""
    path = f"/{service.full_name}/{method.name}"
    kind = (method.client_streaming, method.server_streaming)
    if kind == (False, False):
        await channel.unary_unary(path)(body, timeout=5)
    elif kind == (False, True):
        async for _ in channel.unary_stream(path)(body, timeout=5):
            pass
    elif kind == (True, False):
        await channel.stream_unary(path)(iter([body]), timeout=5)
    else:
        async for _ in channel.stream_stream(path)(iter([body]), timeout=5):
            pass


def undecodable(service: ServiceDescriptor, method: MethodDescriptor) -> list[bytes]:
    """The corrupt request, and those of a few random ones that do not decode either."""
    request_type = message_factory.GetMessageClass(method.input_type)
    rng = random.Random(f"{service.full_name}/{method.name}")
    bodies = [CORRUPT]
    for size in (1, 7, 64, 1000):
        body = rng.randbytes(size)
        try:
            request_type.FromString(body)
        except Exception:
            bodies.append(body)
    return bodies


def assert_no_traceback(records: list[logging.LogRecord]) -> None:
    bad = [r for r in records if r.exc_info or r.levelno >= logging.ERROR]
    assert not bad, [r.getMessage() for r in bad]


async def assert_refused(
    channel: grpc.aio.Channel, service: ServiceDescriptor, method: MethodDescriptor, body: bytes
) -> None:
    path = f"/{service.full_name}/{method.name}"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call_raw(channel, service, method, body)
    details, where = info.value.details() or "", f"{path} {body[:8]!r}"
    assert info.value.code() == Code.INVALID_ARGUMENT, where
    assert reason_of(info.value) == Reason.MALFORMED_REQUEST, where
    assert details.startswith(f"{path}: request cannot be decoded: "), where
    if body == CORRUPT:
        assert details.endswith(
            "not a protobuf message of the request's type (Wire format was corrupt)"
        ), where


def test_garbage_sent_to_any_method_is_invalid_argument_without_traceback(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    sent: list[str] = []
    logged: list[logging.LogRecord] = []

    async def body() -> None:
        async with running_group(two_regions(tmp_path)) as regions:
            for server in addresses(regions["us"]):
                async with channel_to(regions["us"], server) as channel:
                    for service in SERVICES[server]:
                        for method in service.methods:
                            for request in undecodable(service, method):
                                await assert_refused(channel, service, method, request)
                                sent.append(f"{server} {method.name}")
            logged.extend(caplog.records)  # what the requests caused, before shutdown

    run(body)
    methods = sum(len(s.methods) for services in SERVICES.values() for s in services)
    assert len(set(sent)) == methods  # every method of both servers
    assert len(sent) > 2 * methods
    assert_no_traceback(logged)
    warnings = [r for r in logged if r.name == "meridian.wire.edge"]
    assert len(warnings) == 3, [r.getMessage() for r in warnings]  # one per server


def test_nesting_beyond_dynamodb_limit_and_bad_utf8_are_invalid_argument(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    put = CLIENT.methods_by_name["PutItem"]
    service = CLIENT

    async def refused(channel: grpc.aio.Channel, request: bytes) -> grpc.aio.AioRpcError:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call_raw(channel, service, put, request)
        assert info.value.code() == Code.INVALID_ARGUMENT, info.value.details()
        return info.value

    async def replicated_deep_item(eu: Region) -> bool:
        key = pb.Item(attributes={"pk": pb.AttributeValue(s="k"), "sk": pb.AttributeValue(n="1")})
        got = await eu.stub.GetItem(pb.GetItemRequest(table="orders", key=key))
        return got.found and got.item.attributes["deep"].HasField("l")

    async def body() -> None:
        async with running_group(two_regions(tmp_path)) as regions:
            us = regions["us"]
            async with grpc.aio.insecure_channel(addresses(us)["node"]) as channel:
                # As deep as DynamoDB allows: accepted, and replicated.
                await call_raw(channel, service, put, put_request(nested_map(32)))
                await call_raw(channel, service, put, put_request(nested_list(32)))
                await eventually(lambda: replicated_deep_item(regions["eu"]), what="replication")
                logged = len(caplog.records)
                for deep in (nested_map(33), nested_map(200)):
                    exc = await refused(channel, put_request(deep))
                    assert reason_of(exc) == Reason.MALFORMED_REQUEST
                    assert (exc.details() or "").endswith(
                        "request cannot be decoded: attribute values nest deeper than 32 "
                        "levels (DynamoDB's limit)"
                    )
                exc = await refused(channel, put_request(nested_list(33)))
                assert reason_of(exc) == Reason.INVALID_ARGUMENT
                assert "nesting exceeds 32 levels (DynamoDB's limit)" in (exc.details() or "")
                for bad in (
                    put_request(string(b"caf\xc3")),
                    put_request(string(b"x"), table=b"\xff\xfe"),
                ):
                    exc = await refused(channel, bad)
                    assert reason_of(exc) == Reason.MALFORMED_REQUEST
                    assert (exc.details() or "").endswith(
                        "request cannot be decoded: a string field is not valid UTF-8"
                    )
                assert_no_traceback(caplog.records[logged:])

    run(body)


def status_trailer(exc: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    """The ErrorInfo in the call's grpc-status-details-bin trailer, read by hand."""
    raw = dict(exc.trailing_metadata() or ())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(raw)
    assert status.code == exc.code().value[0]
    assert status.message == exc.details()
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    assert info.domain == "meridian"
    return info


def test_node_and_replicator_errors_carry_their_reason_in_the_trailer(
    tmp_path: pathlib.Path,
) -> None:
    async def failure(call: Any) -> grpc.aio.AioRpcError:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call
        return info.value

    async def body() -> None:
        async with running_group(two_regions(tmp_path)) as regions:
            us = regions["us"]
            node = us.stub
            key = pb.Item(
                attributes={"pk": pb.AttributeValue(s="k"), "sk": pb.AttributeValue(n="1")}
            )
            await node.PutItem(pb.PutItemRequest(table="orders", item=key))
            cases = [
                (
                    node.GetItem(pb.GetItemRequest(table="nope", key=key)),
                    Code.NOT_FOUND,
                    Reason.NOT_FOUND,
                ),
                (
                    node.PutItem(
                        pb.PutItemRequest(
                            table="orders",
                            item=key,
                            condition_expression="attribute_not_exists(pk)",
                        )
                    ),
                    Code.FAILED_PRECONDITION,
                    Reason.CONDITION_FAILED,
                ),
                (
                    node.PutItem(
                        pb.PutItemRequest(table="orders", item=key, condition_expression="(")
                    ),
                    Code.INVALID_ARGUMENT,
                    Reason.INVALID_ARGUMENT,
                ),
                (
                    node.TransactWriteItems(
                        pb.TransactWriteItemsRequest(
                            items=[
                                pb.TransactWriteItem(
                                    put=pb.PutItemRequest(
                                        table="orders",
                                        item=key,
                                        condition_expression="attribute_not_exists(pk)",
                                    )
                                )
                            ]
                        )
                    ),
                    Code.FAILED_PRECONDITION,
                    Reason.TRANSACTION_CANCELED,
                ),
                (
                    node.PutItem(pb.PutItemRequest(table="orders", item=pb.Item())),
                    Code.INVALID_ARGUMENT,
                    Reason.INVALID_ARGUMENT,
                ),
            ]
            for call, code, reason in cases:
                exc = await failure(call)
                assert exc.code() == code
                assert status_trailer(exc).reason == reason
            me = await local_identity(us.peer)
            stranger = Identity("other", "eu", "node-x", me.tables)
            # eu's own node: its id is pinned by us once their links are up.
            peer = await local_identity(regions["eu"].peer)
            async with grpc.aio.insecure_channel(addresses(us)["replicator"]) as channel:
                replicator = rpb_grpc.ReplicatorStub(channel)
                exc = await failure(replicator.Handshake(hello(stranger, "us")))
                assert exc.code() == Code.FAILED_PRECONDITION
                assert status_trailer(exc).reason == Reason.HANDSHAKE_REFUSED
                # A node error forwarded by the replicator keeps its reason.
                hold = pb.HoldRetentionRequest(holds=[pb.RetentionHold(table="nope")])
                exc = await failure(
                    replicator.Hold(rpb.HoldRequest(hello=hello(peer, "us"), hold=hold))
                )
                assert exc.code() == Code.NOT_FOUND
                assert status_trailer(exc).reason == Reason.NOT_FOUND
                exc = await failure(_drain(replicator.Resync(rpb.ResyncRequest(source="mars"))))
                assert exc.code() == Code.INVALID_ARGUMENT
                assert status_trailer(exc).reason == Reason.INVALID_ARGUMENT

    run(body)


async def _drain(call: Any) -> None:
    async for _ in call:
        pass


def test_blocking_client_reads_the_reason_too(tmp_path: pathlib.Path) -> None:
    """The command-line tools use blocking channels: reason_of works on their errors."""

    async def body() -> None:
        async with running_group(two_regions(tmp_path)) as regions:
            address = addresses(regions["us"])["node"]

            def blocking() -> grpc.RpcError:
                from meridian.wire.channels import connect

                channel, stub = connect(address)
                with channel, pytest.raises(grpc.RpcError) as info:
                    stub.DescribeTable(pb.DescribeTableRequest(table="nope"), timeout=5)
                return info.value

            exc = await asyncio.to_thread(blocking)
            assert reason_of(exc) == Reason.NOT_FOUND
            assert errors.error_info_of(exc) is not None

    run(body)
