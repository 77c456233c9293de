"""A replicator whose local node is down answers in one line, without a traceback; at stop
it ends its open pulls with a status before its server goes."""

from __future__ import annotations

import asyncio
import logging
import pathlib
from collections.abc import Coroutine
from typing import Any

import grpc
import pytest

from meridian.daemon.lifecycle import drain
from meridian.pb import replicator_pb2 as rpb
from meridian.pb import replicator_pb2_grpc as rpb_grpc
from tests.harness import eventually, load_doc
from tests.harness.inprocess import running_group
from tests.integration.group import group_yaml


@pytest.fixture
def config(tmp_path: pathlib.Path):
    return load_doc(group_yaml(tmp_path, ["us", "eu"]), tmp_path / "group.yaml")


def test_calls_while_the_local_node_is_down_fail_in_one_line(
    config, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with running_group(config) as g:
            await eventually(lambda: streaming(g), what="both links streaming")  # joined
            await g["us"].stop_node()
            address = str(config.region("us").replicator_listen)
            async with grpc.aio.insecure_channel(address) as channel:
                stub = rpb_grpc.ReplicatorStub(channel)
                with pytest.raises(grpc.aio.AioRpcError) as status:
                    await stub.Status(rpb.StatusRequest(), timeout=10)
                with pytest.raises(grpc.aio.AioRpcError) as handshake:
                    await stub.Handshake(rpb.HandshakeRequest(region="eu"), timeout=10)
            for error in (status.value, handshake.value):
                assert error.code() == grpc.StatusCode.UNAVAILABLE, error
                details = error.details() or ""
                assert "\n" not in details and "AioRpcError" not in details, details

    with caplog.at_level(logging.WARNING):
        asyncio.run(then_drain(scenario()))
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def test_stop_ends_open_pulls_with_a_status(config, caplog: pytest.LogCaptureFixture) -> None:
    stopping = "link us -> eu: DOWN: replicator us stopping"

    async def scenario() -> None:
        async with running_group(config) as g:
            await eventually(lambda: streaming(g), what="both links streaming")
            us = g["us"].replicator
            assert us is not None and us._server is not None
            edge = us._server.edge

            async def serving() -> bool:  # eu's pull is open in us's server
                return bool(edge._streams)

            await eventually(serving, what="eu's pull open in us")
            await us.stop()
            assert not edge._streams  # every call ended before the server stopped

            async def told() -> bool:  # the link's log, as its state moves on at once
                return any(r.getMessage() == stopping for r in caplog.records)

            await eventually(told, what="eu's link told that us stops")

    with caplog.at_level(logging.WARNING):
        asyncio.run(then_drain(scenario()))
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


async def streaming(group: dict) -> bool:
    return all(
        link.status.state == "STREAMING"
        for region in group.values()
        for link in region.replicator.links
    )


async def then_drain(scenario: Coroutine[Any, Any, None]) -> None:
    """The scenario, then the wait a process makes after its stop (meridian.daemon.lifecycle)."""
    await scenario
    await drain(5.0)
