"""A second replicator on an address in use fails to start, naming the group file's key."""

from __future__ import annotations

import asyncio
import pathlib
import socket

import pytest
from prometheus_client import CollectorRegistry

from meridian.daemon.errors import StartupError
from replicator.replicator import Replicator
from tests.harness import load_doc
from tests.harness.inprocess import Region
from tests.integration.group import group_yaml


def test_second_replicator_on_the_same_address_is_a_startup_failure(
    tmp_path: pathlib.Path,
) -> None:
    config = load_doc(group_yaml(tmp_path, ["us", "eu"]), tmp_path / "g.yaml")
    eu = Region("eu", config)

    async def scenario() -> None:
        second = Replicator(config, "eu", CollectorRegistry(), serve_metrics=False, node_wait_s=5)
        try:
            await eu.start_node()
            await eu.start_replicator()
            with pytest.raises(StartupError) as info:
                await second.start()
            address = config.region("eu").replicator_listen
            assert str(info.value) == f"regions[1].replicator.listen {address}: address in use"
        finally:
            await second.stop()
            await eu.stop()

    asyncio.run(scenario())


def test_a_dynamodb_door_on_an_address_in_use_is_a_startup_failure(
    tmp_path: pathlib.Path,
) -> None:
    doc = group_yaml(tmp_path, ["us"])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        doc["regions"][0]["api"] = {"listen": address}
        us = Region("us", load_doc(doc, tmp_path / "g.yaml"))

        async def scenario() -> None:
            try:
                with pytest.raises(StartupError) as info:
                    await us.start_node()
                assert str(info.value) == f"regions[0].api.listen {address}: address in use"
            finally:
                await us.stop()

        asyncio.run(scenario())
