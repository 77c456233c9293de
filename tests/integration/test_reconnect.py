"""After a peer's replicator comes back, the links pulling from it reconnect at once (its
handshake wakes them), not at the end of their backoff: after every heal, not only the
first (a link that streamed again starts a new run of failures)."""

from __future__ import annotations

import asyncio
import dataclasses
import pathlib
import time

import pytest

from meridian.model import items
from meridian.pb import node_pb2 as pb
from replicator.link import idle_timeout
from tests.harness import NotYet, eventually, load_doc
from tests.harness.inprocess import running_group
from tests.integration.group import group_yaml

SLOW_RETRY_S = 30.0  # the link's every wait is in [3, 30] s: a tenth of base at least


@pytest.fixture
def config(tmp_path: pathlib.Path):
    return load_doc(group_yaml(tmp_path, ["us", "eu"]), tmp_path / "group.yaml")


def link_state(region, peer: str) -> str:
    return next(link.status.state for link in region.replicator.links if link.peer == peer)


def test_a_peer_back_up_wakes_the_link_waiting_to_retry(config) -> None:
    async def scenario() -> None:
        async with running_group(config) as g:

            async def streaming() -> bool:
                states = [link_state(g["us"], "eu"), link_state(g["eu"], "us")]
                if states != ["STREAMING", "STREAMING"]:
                    raise NotYet(f"link states {states}")
                return True

            await eventually(streaming, 15, "both links streaming")
            us = g["us"].replicator
            assert us is not None
            for link in us.links:
                link.settings = dataclasses.replace(
                    link.settings, retry_base_s=SLOW_RETRY_S, retry_cap_s=SLOW_RETRY_S
                )
            await g["eu"].stop_replicator()

            async def waiting() -> bool:
                if link_state(g["us"], "eu") != "DOWN":
                    raise NotYet(f"link eu -> us is {link_state(g['us'], 'eu')}")
                return True

            await eventually(waiting, 10, "link eu -> us down, waiting to retry")
            started = time.monotonic()
            await g["eu"].start_replicator()
            await eventually(streaming, 15, "both links streaming again")
            took = time.monotonic() - started
            assert took < SLOW_RETRY_S / 10, f"link eu -> us took {took:.1f} s to stream again"
            put = pb.PutItemRequest(table="orders", item=items.from_plain({"pk": "a", "sk": 1}))
            await g["eu"].stub.PutItem(put)

            async def arrived() -> bool:
                got = await g["us"].stub.GetItem(
                    pb.GetItemRequest(table="orders", key=items.from_plain({"pk": "a", "sk": 1}))
                )
                if not got.HasField("item"):
                    raise NotYet("the write from eu has not arrived in us")
                return True

            await eventually(arrived, 10, "eu's write in us")

    asyncio.run(scenario())


def test_every_heal_wakes_the_link_not_only_the_first(config) -> None:
    """eu's replicator goes away and comes back twice: after the second heal too, us's link
    from eu streams again at once (its first wake, and the backoff grown by the first
    outage, must not carry over once the link streamed again)."""

    async def scenario() -> None:
        async with running_group(config) as g:

            async def streaming() -> bool:
                states = [link_state(g["us"], "eu"), link_state(g["eu"], "us")]
                if states != ["STREAMING", "STREAMING"]:
                    raise NotYet(f"link states {states}")
                return True

            async def waiting() -> bool:
                if link_state(g["us"], "eu") != "DOWN":
                    raise NotYet(f"link eu -> us is {link_state(g['us'], 'eu')}")
                return True

            await eventually(streaming, 15, "both links streaming")
            us = g["us"].replicator
            assert us is not None
            await g["eu"].stop_replicator()
            await eventually(waiting, 10, "link eu -> us down after the first outage")
            await g["eu"].start_replicator()  # the first heal: the link is woken
            await eventually(streaming, 15, "both links streaming after the first heal")
            # Streams long enough to count as a run of successes (the idle deadline).
            await asyncio.sleep(idle_timeout(us.links[0].settings.heartbeat_s) + 0.5)
            for link in us.links:
                link.settings = dataclasses.replace(
                    link.settings, retry_base_s=SLOW_RETRY_S, retry_cap_s=SLOW_RETRY_S
                )
            await g["eu"].stop_replicator()
            await eventually(waiting, 10, "link eu -> us down after the second outage")
            started = time.monotonic()
            await g["eu"].start_replicator()
            await eventually(streaming, 15, "both links streaming after the second heal")
            took = time.monotonic() - started
            assert took < SLOW_RETRY_S / 10, f"link eu -> us took {took:.1f} s the second time"

    asyncio.run(scenario())
