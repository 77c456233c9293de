"""TLS between regions and to the client door, on real servers with certificates this test
makes: mutual TLS between replicators with region identities, refusals of plaintext, of
another CA and of a region certificate claiming another region, operators-only commands,
certificates rotated on disk without a restart, and metrics over HTTPS with basic auth."""

from __future__ import annotations

import asyncio
import base64
import pathlib
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine
from typing import Any

import grpc
import pytest

from meridian.pb import node_pb2 as pb
from meridian.pb import replicator_pb2 as rpb
from meridian.pb import replicator_pb2_grpc as rpb_grpc
from meridian.security import certs
from meridian.security.tls import peer_channel_options
from meridian.wire.errors import Reason, reason_of
from replicator.identity import hello, local_identity
from tests.harness import eventually, load_doc
from tests.harness.inprocess import Region, running_group
from tests.integration.group import group_yaml
from tests.unit.security_support import server_certificate

Code = grpc.StatusCode
GROUP = "it"


def run(body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(body(), 60)

    asyncio.run(bounded())


def tls_doc(tmp_path: pathlib.Path, regions: list[str]) -> dict[str, Any]:
    """A group with a tls section, and the certificates `meridian certs` would write."""
    doc = group_yaml(tmp_path, regions)
    layout = certs.Layout(tmp_path / "certs")
    certs.write_group_layout(layout.directory, GROUP, {r: ["127.0.0.1"] for r in regions})
    ca, _ = layout.ca
    cert, key = layout.operator
    doc["tls"] = {"ca": str(ca), "operator": {"cert": str(cert), "key": str(key)}}
    for region in doc["regions"]:
        cert, key = layout.region(region["name"])
        region["tls"] = {"cert": str(cert), "key": str(key)}
    return doc


def config_of(tmp_path: pathlib.Path, doc: dict[str, Any]) -> Any:
    return load_doc(doc, tmp_path / "group.yaml")


def channel(port_or_address: str, ca: bytes, pair: certs.Issued | None, region: str) -> Any:
    credentials = grpc.ssl_channel_credentials(
        ca, pair.key_pem() if pair else None, pair.cert_pem() if pair else None
    )
    return grpc.aio.secure_channel(
        port_or_address, credentials, options=peer_channel_options(GROUP, region)
    )


def issued(tmp_path: pathlib.Path, stem: str) -> certs.Issued:
    return certs.load_issued(*certs.Layout(tmp_path / "certs").pair(stem))


async def item_in(region: Region, pk: str) -> bool:
    key = pb.Item(attributes={"pk": pb.AttributeValue(s=pk), "sk": pb.AttributeValue(n="1")})
    got = await region.stub.GetItem(pb.GetItemRequest(table="orders", key=key))
    return bool(got.found)


def test_regions_replicate_over_mutual_tls(tmp_path: pathlib.Path) -> None:
    async def body() -> None:
        async with running_group(config_of(tmp_path, tls_doc(tmp_path, ["us", "eu"]))) as g:
            item = pb.Item(
                attributes={"pk": pb.AttributeValue(s="a"), "sk": pb.AttributeValue(n="1")}
            )
            await g["us"].stub.PutItem(pb.PutItemRequest(table="orders", item=item))
            await eventually(lambda: item_in(g["eu"], "a"), 15, "the item in eu")

    run(body)


def test_plaintext_and_other_cas_are_refused(tmp_path: pathlib.Path) -> None:
    config = config_of(tmp_path, tls_doc(tmp_path, ["us", "eu"]))
    stranger_ca = certs.new_ca(GROUP)
    stranger = certs.issue_region(stranger_ca, GROUP, "eu", loopback=True)
    ca = certs.Layout(tmp_path / "certs").ca[0].read_bytes()

    async def body() -> None:
        async with running_group(config) as g:
            us = g["us"].config.region("us")
            for address in (str(us.replicator_listen), str(us.node_listen)):
                async with grpc.aio.insecure_channel(address) as plain:
                    with pytest.raises(grpc.aio.AioRpcError) as info:
                        await rpb_grpc.ReplicatorStub(plain).Status(rpb.StatusRequest(), timeout=5)
                    assert info.value.code() == Code.UNAVAILABLE, address
            # a certificate of another CA: the replicator's handshake fails
            async with channel(str(us.replicator_listen), ca, stranger, "us") as other:
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await rpb_grpc.ReplicatorStub(other).Status(rpb.StatusRequest(), timeout=5)
                assert info.value.code() == Code.UNAVAILABLE
            # and a client trusting another CA does not accept the region's server
            other_ca = stranger_ca.cert_pem()
            async with channel(str(us.replicator_listen), other_ca, stranger, "us") as other:
                with pytest.raises(grpc.aio.AioRpcError):
                    await rpb_grpc.ReplicatorStub(other).Status(rpb.StatusRequest(), timeout=5)

    run(body)


def test_a_region_certificate_cannot_claim_another_region(tmp_path: pathlib.Path) -> None:
    """eu's certificate claiming region ap (a member), and us's claiming eu: refused at the
    handshake, counted on the refusing side; no snapshot leaves the region."""
    config = config_of(tmp_path, tls_doc(tmp_path, ["us", "eu", "ap"]))
    ca = certs.Layout(tmp_path / "certs").ca[0].read_bytes()

    async def body() -> None:
        async with running_group(config) as g:
            us = g["us"]
            address = str(config.region("us").replicator_listen)
            me = await local_identity(g["eu"].peer)
            claims = {"ap": me, "eu": await local_identity(g["eu"].peer)}
            for claimed, who in (("ap", issued(tmp_path, "eu")), ("eu", issued(tmp_path, "us"))):
                fake = type(me)(me.group, claimed, claims[claimed].node_id, me.tables)
                async with channel(address, ca, who, "us") as ch:
                    stub = rpb_grpc.ReplicatorStub(ch)
                    with pytest.raises(grpc.aio.AioRpcError) as info:
                        await stub.Handshake(hello(fake, "us"), timeout=5)
                    assert reason_of(info.value) == Reason.HANDSHAKE_REFUSED
                    assert f"not {claimed!r}" in (info.value.details() or "")
                    request = rpb.SnapshotPullRequest(
                        hello=hello(fake, "us"), snapshot=pb.SnapshotRequest(table="orders")
                    )
                    with pytest.raises(grpc.aio.AioRpcError) as info:
                        async for _ in stub.Snapshot(request, timeout=5):
                            raise AssertionError("a snapshot was served")
                    assert reason_of(info.value) == Reason.HANDSHAKE_REFUSED
            assert us.replicator is not None
            refusals = us.replicator.registry.get_sample_value(
                "meridian_replication_handshake_refusals_total",
                {"source": "us", "target": "ap", "side": "source"},
            )
            assert refusals is not None and refusals >= 2

    run(body)


def test_operator_commands_need_an_operators_certificate(tmp_path: pathlib.Path) -> None:
    config = config_of(tmp_path, tls_doc(tmp_path, ["us", "eu"]))
    ca = certs.Layout(tmp_path / "certs").ca[0].read_bytes()

    async def body() -> None:
        async with running_group(config) as g:
            address = str(config.region("us").replicator_listen)
            for who, expected in (("eu", Reason.PERMISSION_DENIED), ("operator", None)):
                async with channel(address, ca, issued(tmp_path, who), "us") as ch:
                    stub = rpb_grpc.ReplicatorStub(ch)
                    request = rpb.AcceptNodeRequest(peer="nowhere")
                    with pytest.raises(grpc.aio.AioRpcError) as info:
                        await stub.AcceptNode(request, timeout=5)
                    # an operator gets past the door, to the argument check
                    assert reason_of(info.value) == (expected or Reason.INVALID_ARGUMENT), who
                    status = await stub.Status(rpb.StatusRequest(), timeout=5)
                    assert status.region == "us"  # any certificate of the group may look
            assert g["us"].replicator is not None

    run(body)


def test_a_certificate_rotated_on_disk_is_served_without_a_restart(
    tmp_path: pathlib.Path,
) -> None:
    config = config_of(tmp_path, tls_doc(tmp_path, ["us", "eu"]))
    layout = certs.Layout(tmp_path / "certs")
    ca_file = layout.ca[0]
    operator_cert, operator_key = layout.operator

    async def body() -> None:
        async with running_group(config) as g:
            port = int(str(config.region("us").node_listen).rsplit(":", 1)[1])
            before = server_certificate(port, ca_file, operator_cert, operator_key)
            ca = certs.load_issued(*layout.ca)
            renewed = certs.issue_region(ca, GROUP, "us", ["127.0.0.1"], loopback=True)
            certs.write_issued(*layout.region("us"), renewed, force=True)
            after = server_certificate(port, ca_file, operator_cert, operator_key)
            assert after.serial_number == renewed.cert.serial_number != before.serial_number
            assert await item_in(g["us"], "none") is False  # and it still serves calls

    run(body)


def test_metrics_over_https_with_basic_auth(tmp_path: pathlib.Path) -> None:
    doc = tls_doc(tmp_path, ["us"])
    doc["regions"][0]["metrics"]["listen"] = (
        "0.0.0.0:" + doc["regions"][0]["metrics"]["listen"].rsplit(":", 1)[1]
    )
    (tmp_path / "pw").write_text("s3cret\n")
    auth = {"username": "prom", "password_file": str(tmp_path / "pw")}
    doc["regions"][0]["metrics"]["basic_auth"] = auth
    config = config_of(tmp_path, doc)
    port = config.region("us").metrics_listen.port
    context = ssl.create_default_context(cafile=str(certs.Layout(tmp_path / "certs").ca[0]))

    def fetch(url: str, password: str | None) -> int:
        request = urllib.request.Request(url)
        if password is not None:
            token = base64.b64encode(f"prom:{password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=5, context=context) as reply:
                return int(reply.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    async def body() -> None:
        async with running_group(config, replicate=False, metrics=True):
            url = f"https://127.0.0.1:{port}/metrics"
            codes = [await asyncio.to_thread(fetch, url, p) for p in (None, "wrong", "s3cret")]
            assert codes == [401, 401, 200]
            with pytest.raises(OSError):  # plain HTTP to the HTTPS endpoint
                await asyncio.to_thread(fetch, f"http://127.0.0.1:{port}/metrics", "s3cret")

    run(body)
