"""A region's identity is pinned: another node claiming it is refused (and counted) until an
operator accepts it with `meridian accept-node`, as for a region whose node was replaced."""

from __future__ import annotations

import asyncio
import pathlib
import shutil

import pytest

from meridian.cli import main as cli
from meridian.cli import status
from meridian.model import items
from meridian.pb import node_pb2 as pb
from tests.harness import eventually, load_doc, write_group
from tests.harness.inprocess import Region
from tests.integration.group import group_yaml


def item(pk: str, sk: int) -> pb.Item:
    return items.from_plain({"pk": pk, "sk": sk})


async def converged(regions: list[Region]) -> bool:
    digests = {(await r.stub.Digest(pb.DigestRequest(table="orders"))).digest for r in regions}
    return len(digests) == 1


def link_of(region: Region, peer: str):
    assert region.replicator is not None
    (link,) = [link for link in region.replicator.links if link.peer == peer]
    return link


async def state_is(region: Region, peer: str, state: str, error: str = "") -> bool:
    s = link_of(region, peer).status
    return s.state == state and error in s.error


def refusals(region: Region, source: str, target: str, side: str) -> float:
    assert region.replicator is not None
    return region.replicator.metrics.refusals.labels(source, target, side)._value.get()


def two_regions(tmp_path: pathlib.Path) -> tuple[dict, pathlib.Path]:
    doc = group_yaml(tmp_path, ["us", "eu"])
    return doc, write_group(tmp_path / "group.yaml", doc)


def test_impostor_is_refused_while_the_real_node_restarts_then_a_replacement_is_accepted(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc, path = two_regions(tmp_path)
    config = load_doc(doc, path)
    twin_doc = group_yaml(tmp_path / "twin", ["us", "eu"])
    twin_doc["regions"][0] = doc["regions"][0]  # the impostor "eu" pulls from the real us
    twin = load_doc(twin_doc, tmp_path / "twin.yaml")
    us, eu, impostor = Region("us", config), Region("eu", config), Region("eu", twin)

    async def scenario() -> None:
        try:
            for r in (us, eu):
                await r.start_node()
                await r.start_replicator()
            await us.stub.PutItem(pb.PutItemRequest(table="orders", item=item("a", 1)))
            await eventually(lambda: state_is(eu, "us", "STREAMING"), 10, "eu streaming")
            await eventually(lambda: converged([us, eu]), 10, "first write replicated")
            real_id = (await eu.peer.NodeInfo(pb.NodeInfoRequest())).node_id

            # eu's replicator restarts; another node claims eu meanwhile
            await eu.stop_replicator()
            await impostor.start_node()
            await impostor.start_replicator()
            fake_id = (await impostor.peer.NodeInfo(pb.NodeInfoRequest())).node_id

            async def impostor_refused() -> bool:  # counted where it was refused
                return refusals(us, "us", "eu", "source") >= 1

            await eventually(impostor_refused, 10, "the impostor refused by us")
            await us.stub.PutItem(pb.PutItemRequest(table="orders", item=item("a", 2)))
            regions, _ = await asyncio.to_thread(status.collect, config)
            (us_row,) = [r for r in regions if r["region"] == "us"]
            assert us_row["pins"]["eu"] == real_id
            assert [(n["peer"], n["node_id"]) for n in us_row["refused_nodes"]] == [("eu", fake_id)]
            assert f"refused node {fake_id} claiming eu" in status.render(regions, [], False)

            # the real eu comes back while the impostor keeps trying: it links, not the impostor
            await eu.start_replicator()
            await eventually(lambda: state_is(eu, "us", "STREAMING"), 10, "real eu streaming")
            await eventually(lambda: state_is(us, "eu", "STREAMING"), 10, "us pulls from eu")
            await eventually(lambda: converged([us, eu]), 10, "us's writes reach the real eu")
            await eu.stub.PutItem(pb.PutItemRequest(table="orders", item=item("b", 1)))
            await eventually(lambda: converged([us, eu]), 10, "eu's writes reach us")

            async def refused_again() -> bool:  # it keeps trying, and is refused
                return refusals(us, "us", "eu", "source") > 1

            await eventually(refused_again, 15, "the impostor refused again")
            scan = await impostor.stub.Scan(pb.ScanRequest(table="orders"))
            assert len(scan.items) == 0  # no data went to the impostor
            await impostor.stop()

            # eu's node is replaced: its data directory is lost and it starts anew
            await eu.stop()
            shutil.rmtree(config.region("eu").data_dir)
            await eu.start_node()
            await eu.start_replicator()
            await eu.stub.PutItem(pb.PutItemRequest(table="orders", item=item("c", 1)))
            new_id = (await eu.peer.NodeInfo(pb.NodeInfoRequest())).node_id
            await eventually(
                lambda: state_is(us, "eu", "REFUSED", f"node {new_id} cannot claim it"),
                10,
                "us refuses the new node as a source",
            )
            assert refusals(us, "eu", "us", "target") >= 1
            before = refusals(us, "us", "eu", "source")

            async def copy_refused() -> bool:  # its bootstrap copy from us is refused too
                return refusals(us, "us", "eu", "source") > before

            await eventually(copy_refused, 10, "us refuses to give it a snapshot")

            command = ["accept-node", "--config", str(path), "--region", "us", "--peer", "eu"]
            assert await asyncio.to_thread(cli.main, command) == 2  # which one? both claimed eu
            err = capsys.readouterr().err
            assert "several nodes claimed region 'eu'" in err and fake_id in err and new_id in err
            command += ["--node-id", new_id]
            assert await asyncio.to_thread(cli.main, command) == 0
            out = capsys.readouterr().out
            assert f"was pinned to node {real_id}; now pinned to node {new_id}" in out
            await eventually(lambda: state_is(us, "eu", "STREAMING"), 15, "us pulls from eu")
            await eventually(lambda: state_is(eu, "us", "STREAMING"), 15, "eu pulls from us")
            await eventually(lambda: converged([us, eu]), 20, "convergence after the accept")
            got = await us.stub.GetItem(pb.GetItemRequest(table="orders", key=item("c", 1)))
            assert got.found  # written by the new node before it was accepted
            got = await eu.stub.GetItem(pb.GetItemRequest(table="orders", key=item("a", 2)))
            assert got.found  # written while the old node was away
            # accepting again changes nothing
            assert await asyncio.to_thread(cli.main, [*command, "--json"]) == 0
            assert '"changed": false' in capsys.readouterr().out
        finally:
            for r in (impostor, eu, us):
                await r.stop()

    asyncio.run(scenario())


def test_accept_node_refuses_bad_arguments(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, path = two_regions(tmp_path)
    base = ["accept-node", "--config", str(path)]
    cases = [
        (["--region", "us", "--peer", "us"], 2, "--peer: expected another region"),
        (["--region", "us", "--peer", "mars"], 2, "unknown region 'mars'"),
        (["--region", "us", "--peer", "eu", "--node-id", "zz"], 2, "--node-id: expected 32 hex"),
        (["--region", "us", "--peer", "eu"], 1, "accept-node in us:"),  # replicator not running
    ]
    for args, code, message in cases:
        assert cli.main([*base, *args]) == code, args
        assert message in capsys.readouterr().err, args
    assert cli.main(["accept-node", "--config", str(tmp_path / "nope.yaml"), *cases[0][0]]) == 3


def test_accepting_another_node_ends_the_live_pulls_of_the_pinned_one(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc, path = two_regions(tmp_path)
    config = load_doc(doc, path)
    us, eu = Region("us", config), Region("eu", config)
    other = "0123456789abcdef0123456789abcdef"

    async def accept(node_id: str) -> None:
        command = ["accept-node", "--config", str(path), "--region", "us", "--peer", "eu"]
        assert await asyncio.to_thread(cli.main, [*command, "--node-id", node_id]) == 0
        capsys.readouterr()

    async def scenario() -> None:
        try:
            for r in (us, eu):
                await r.start_node()
                await r.start_replicator()
            await eventually(lambda: state_is(eu, "us", "STREAMING"), 10, "eu pulls from us")
            real_id = (await eu.peer.NodeInfo(pb.NodeInfoRequest())).node_id
            await accept(other)  # while eu's node pulls from us
            await eventually(
                lambda: state_is(eu, "us", "REFUSED", f"pinned to node {other}"),
                10,
                "eu's pull ended and refused",
            )
            assert refusals(us, "us", "eu", "source") >= 1
            await us.stub.PutItem(pb.PutItemRequest(table="orders", item=item("x", 1)))
            got = await eu.stub.GetItem(pb.GetItemRequest(table="orders", key=item("x", 1)))
            assert not got.found
            await accept(real_id)  # and back
            await eventually(lambda: state_is(eu, "us", "STREAMING"), 10, "eu pulls again")
            await eventually(lambda: converged([us, eu]), 10, "the write arrives")
        finally:
            for r in (eu, us):
                await r.stop()

    asyncio.run(scenario())
