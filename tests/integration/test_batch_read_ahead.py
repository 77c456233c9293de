"""BatchWriteItem reads its keys ahead in one multi-get (`local_writes.read_ahead`): what it
reads must be what one read per key gives, stored items and the writes of earlier operations
of the same commit alike. The put and the batch are queued as the door builds them, so that
one commit holds both (`ItemOps.put_item` would commit the put alone on an idle writer,
`Writer.submit_now`)."""

from __future__ import annotations

import asyncio
import pathlib

from meridian.model import hlc, schema
from meridian.pb import node_pb2 as pb
from regionnode.item_ops import ItemOps, item_target, key_target, put_target
from regionnode.local_writes import BatchOp, PutOp
from regionnode.store import Store, Table
from regionnode.writer import Writer

SPEC = pb.TableSpec(
    name="orders",
    partition_key=pb.KeyAttribute(name="pk", type=pb.KEY_TYPE_S),
    view_type=pb.NEW_AND_OLD_IMAGES,
)


def _key(n: int) -> pb.Item:
    key = pb.Item()
    key.attributes["pk"].s = f"p{n}"
    return key


def _item(n: int, payload: str) -> pb.Item:
    item = _key(n)
    item.attributes["payload"].s = payload
    return item


def test_a_batch_reads_stored_items_and_the_writes_before_it_in_its_commit(
    tmp_path: pathlib.Path,
) -> None:
    async def main() -> None:
        store = Store(tmp_path, sync=False)
        desc = pb.TableDescription(spec=SPEC, schema_fingerprint=schema.fingerprint(SPEC))
        store.put_table(Table(schema.Schema(SPEC), desc))
        table = store.tables["orders"]
        writer = Writer(store, hlc.HybridClock(0), "us-east", lambda _: None, print)
        items = ItemOps(store, writer)
        task = asyncio.create_task(writer.run())
        try:
            await items.batch_write(table, [(_item(1, "stored"), None), (_item(2, "kept"), None)])
            target, raw = put_target(table, _item(1, "put"))
            put = writer.enqueue(PutOp(target, _item(1, "put"), raw=raw))
            writes = [
                _item(1, "batch"),  # over the put staged just before
                _item(2, "kept"),  # equal to the stored item: no change
                _key(3),  # a delete of nothing stored: no change
                _item(4, "new"),
            ]
            staged = []
            for item in writes:
                if "payload" in item.attributes:
                    target = item_target(table, item)
                    staged.append((target.key, target.keys, item))
                else:
                    target = key_target(table, item)
                    staged.append((target.key, target.keys, None))
            _, batch = await asyncio.gather(put, writer.enqueue(BatchOp(table, staged)))
            assert writer.batch_sizes == {1: 1, 2: 1}  # the put and the batch: one commit
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert [v.hlc > 0 for v in batch.versions] == [True, False, False, True]
        records = [pb.StreamRecord.FromString(v) for v in store.read_stream("orders", 0, 10)]
        assert [(r.event_name, r.keys.attributes["pk"].s) for r in records] == [
            (pb.INSERT, "p1"),
            (pb.INSERT, "p2"),
            (pb.MODIFY, "p1"),  # the put
            (pb.MODIFY, "p1"),  # the batch, whose old image is the put's item
            (pb.INSERT, "p4"),
        ]
        assert records[2].old_image == _item(1, "stored")
        assert records[3].old_image == _item(1, "put")
        assert records[3].new_image == _item(1, "batch")
        store.close()

    asyncio.run(main())
