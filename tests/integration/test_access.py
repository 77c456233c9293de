"""Access keys on the client door of a real node: no key, a read-only key and a key limited
to some tables are refused what they may not do, and nothing changes; keys added to the
credentials file are accepted without a restart."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import Callable, Coroutine
from typing import Any

import grpc
import pytest

from meridian.pb import client_pb2_grpc
from meridian.pb import node_pb2 as pb
from meridian.security import access
from meridian.security.grpc_auth import access_key_interceptors
from meridian.security.keystore import write_keys
from meridian.wire.errors import Reason, reason_of
from tests.harness import eventually, load_doc
from tests.harness.inprocess import Region, running_group
from tests.integration.group import ORDERS, group_yaml

Code = grpc.StatusCode
OTHER = {"name": "other", "partition_key": {"name": "pk", "type": "S"}}
READ_WRITE = access.generate(access.Permission.READ_WRITE)
READ_ONLY = access.generate(access.Permission.READ_ONLY)
ORDERS_ONLY = access.generate(access.Permission.READ_WRITE, ["orders"])


def run(body: Callable[[], Coroutine[Any, Any, None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(body(), 60)

    asyncio.run(bounded())


def config_with_keys(tmp_path: pathlib.Path, *keys: access.AccessKey) -> Any:
    creds = tmp_path / "credentials.yaml"
    write_keys(creds, {k.key_id: k for k in keys})
    doc = group_yaml(tmp_path, ["us"], tables=[ORDERS, OTHER])
    doc["auth"] = {"credentials": str(creds)}
    return load_doc(doc, tmp_path / "group.yaml")


def as_key(region: Region, key: access.AccessKey | None) -> Any:
    address = str(region.config.region(region.name).node_listen)
    interceptors = access_key_interceptors(key.key_id, key.secret) if key else None
    return grpc.aio.insecure_channel(address, interceptors=interceptors)


def order(pk: str) -> pb.Item:
    return pb.Item(attributes={"pk": pb.AttributeValue(s=pk), "sk": pb.AttributeValue(n="1")})


async def refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value


async def digests(region: Region) -> list[str]:
    out = []
    for table in ("orders", "other"):
        out.append((await region.stub.Digest(pb.DigestRequest(table=table))).digest)
    return out


def test_keys_decide_who_reads_and_writes(tmp_path: pathlib.Path) -> None:
    config = config_with_keys(tmp_path, READ_WRITE, READ_ONLY, ORDERS_ONLY)

    async def body() -> None:
        async with running_group(config, replicate=False) as g:
            us = g["us"]
            await us.stub.PutItem(pb.PutItemRequest(table="orders", item=order("a")))
            before = await digests(us)
            put = pb.PutItemRequest(table="orders", item=order("b"))
            get = pb.GetItemRequest(table="orders", key=order("a"))
            async with as_key(us, None) as channel:
                stub = client_pb2_grpc.ClientStub(channel)
                for call in (stub.PutItem(put), stub.GetItem(get)):
                    exc = await refused(call)
                    assert (exc.code(), reason_of(exc)) == (
                        Code.UNAUTHENTICATED,
                        Reason.UNAUTHENTICATED,
                    )
            async with as_key(us, READ_ONLY) as channel:
                stub = client_pb2_grpc.ClientStub(channel)
                assert (await stub.GetItem(get)).found
                exc = await refused(stub.PutItem(put))
                assert (exc.code(), reason_of(exc)) == (
                    Code.PERMISSION_DENIED,
                    Reason.PERMISSION_DENIED,
                )
                assert "read-only" in (exc.details() or "")
            async with as_key(us, ORDERS_ONLY) as channel:
                stub = client_pb2_grpc.ClientStub(channel)
                other = pb.PutItemRequest(
                    table="other", item=pb.Item(attributes={"pk": pb.AttributeValue(s="x")})
                )
                exc = await refused(stub.PutItem(other))
                assert exc.code() == Code.PERMISSION_DENIED
                listed = await stub.ListTables(pb.ListTablesRequest())
                assert list(listed.tables) == ["orders"]
                await transactions_stay_inside_the_key(stub, other)
            assert await digests(us) == before  # nothing refused changed anything
            async with as_key(us, READ_WRITE) as channel:
                stub = client_pb2_grpc.ClientStub(channel)
                assert (await stub.PutItem(put)).changed

    run(body)


async def transactions_stay_inside_the_key(
    stub: client_pb2_grpc.ClientStub, other: pb.PutItemRequest
) -> None:
    """Each table a transaction names is checked: one action on a table outside the key
    refuses the whole call; a transaction on the key's own tables is admitted."""
    reads = pb.TransactGetItemsRequest(
        items=[
            pb.GetItemRequest(table="orders", key=order("a")),
            pb.GetItemRequest(table="other", key=other.item),
        ]
    )
    assert (await refused(stub.TransactGetItems(reads))).code() == Code.PERMISSION_DENIED
    writes = pb.TransactWriteItemsRequest(
        items=[
            pb.TransactWriteItem(put=pb.PutItemRequest(table="orders", item=order("t"))),
            pb.TransactWriteItem(put=other),
        ]
    )
    assert (await refused(stub.TransactWriteItems(writes))).code() == Code.PERMISSION_DENIED
    own = pb.TransactGetItemsRequest(items=[pb.GetItemRequest(table="orders", key=order("a"))])
    assert (await stub.TransactGetItems(own)).responses[0].found


def test_a_key_added_to_the_file_is_accepted_without_a_restart(tmp_path: pathlib.Path) -> None:
    config = config_with_keys(tmp_path, READ_WRITE)
    newcomer = access.generate(access.Permission.READ_ONLY)

    async def body() -> None:
        async with running_group(config, replicate=False) as g:
            us = g["us"]
            get = pb.GetItemRequest(table="orders", key=order("a"))
            async with as_key(us, newcomer) as channel:
                stub = client_pb2_grpc.ClientStub(channel)
                assert (await refused(stub.GetItem(get))).code() == Code.UNAUTHENTICATED
                assert config.auth is not None
                keys = {k.key_id: k for k in (READ_WRITE, newcomer)}
                write_keys(config.auth.credentials, keys)

                async def accepted() -> bool:
                    try:
                        await stub.GetItem(get)
                    except grpc.aio.AioRpcError:
                        return False
                    return True

                await eventually(accepted, 10, "the new key accepted")

    run(body)


def test_tables_are_created_and_deleted_only_with_a_key_for_every_table(
    tmp_path: pathlib.Path,
) -> None:
    config = config_with_keys(tmp_path, READ_WRITE, READ_ONLY, ORDERS_ONLY)
    spec = pb.TableSpec(name="carts", partition_key=pb.KeyAttribute(name="id", type=1))

    async def body() -> None:
        async with running_group(config, replicate=False) as g:
            us = g["us"]
            for key in (READ_ONLY, ORDERS_ONLY):
                async with as_key(us, key) as channel:
                    stub = client_pb2_grpc.ClientStub(channel)
                    exc = await refused(stub.CreateTable(pb.CreateTableRequest(spec=spec)))
                    assert exc.code() == Code.PERMISSION_DENIED
                    exc = await refused(stub.DeleteTable(pb.DeleteTableRequest(table="orders")))
                    assert exc.code() == Code.PERMISSION_DENIED
            before = sorted(us.node.store.tables)
            assert "carts" not in before and "orders" in before  # nothing refused changed anything
            async with as_key(us, READ_WRITE) as channel:
                stub = client_pb2_grpc.ClientStub(channel)
                made = await stub.CreateTable(pb.CreateTableRequest(spec=spec))
                assert made.table.spec.name == "carts"
                await stub.DeleteTable(pb.DeleteTableRequest(table="carts"))
            assert sorted(us.node.store.tables) == before

    run(body)
