"""The client door's writes through the real writer and RocksDB: a write that reads a key an
earlier write of the same commit staged (kept as its encoding, `Stage.put_local`) sees that
write. The puts are queued as the door builds them (`ItemOps.put_item` would commit each
alone on an idle writer, `Writer.submit_now`)."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import Awaitable, Callable

from meridian.model import hlc, schema
from meridian.pb import node_pb2 as pb
from regionnode.item_ops import ItemOps, WriteOptions, put_target
from regionnode.local_writes import PutOp
from regionnode.store import Store, Table
from regionnode.writer import Writer

SPEC = pb.TableSpec(
    name="orders",
    partition_key=pb.KeyAttribute(name="pk", type=pb.KEY_TYPE_S),
    sort_key=pb.KeyAttribute(name="sk", type=pb.KEY_TYPE_N),
    view_type=pb.NEW_AND_OLD_IMAGES,
)


def _item(n: int, payload: str) -> pb.Item:
    item = pb.Item()
    item.attributes["pk"].s = f"p{n}"
    item.attributes["sk"].n = str(n)
    item.attributes["payload"].s = payload
    return item


class Node:
    def __init__(self, path: pathlib.Path) -> None:
        self.store = Store(path, sync=False)
        desc = pb.TableDescription(spec=SPEC, schema_fingerprint=schema.fingerprint(SPEC))
        self.store.put_table(Table(schema.Schema(SPEC), desc))
        self.table = self.store.tables["orders"]
        self.writer = Writer(self.store, hlc.HybridClock(0), "us-east", lambda _: None, print)
        self.items = ItemOps(self.store, self.writer)


def _with_node(path: pathlib.Path, body: Callable[[Node], Awaitable[None]]) -> None:
    """Run `body` against a node whose writer task runs meanwhile."""

    async def main() -> None:
        node = Node(path)
        task = asyncio.create_task(node.writer.run())
        try:
            await body(node)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            node.store.close()

    asyncio.run(main())


def test_a_put_sees_the_put_before_it_in_the_same_commit(tmp_path: pathlib.Path) -> None:
    _with_node(tmp_path, _puts_of_one_key)


def _queue_put(node: Node, item: pb.Item, options: WriteOptions) -> asyncio.Future[object]:
    target, raw = put_target(node.table, item)
    op = PutOp(target, item, options.guard(), options.return_values, raw)
    return node.writer.enqueue(op)  # type: ignore[return-value]


async def _puts_of_one_key(node: Node) -> None:
    first, second = _item(1, "first"), _item(1, "second")
    all_old = WriteOptions(return_values=pb.ALL_OLD)
    results = await asyncio.gather(
        _queue_put(node, first, WriteOptions()),
        _queue_put(node, second, all_old),
        _queue_put(node, _item(1, "second"), all_old),  # changes nothing
    )
    assert node.writer.batch_sizes == {(3).bit_length(): 1}  # one commit held all three
    assert results[1].changed and results[1].attributes == first
    assert not results[2].changed and results[2].version == results[1].version
    stored = node.store.get_item(node.table.schema.encode(_item(1, "")))
    assert stored is not None and stored.item == second and stored.version == results[1].version
    records = [pb.StreamRecord.FromString(v) for v in node.store.read_stream("orders", 0, 10)]
    assert [r.event_name for r in records] == [pb.INSERT, pb.MODIFY]
    assert records[1].old_image == first and records[1].new_image == second
