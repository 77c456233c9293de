"""Items and pre-serialized requests shared by the benchmarks.

Requests are serialized before timing starts and sent through byte-level (generic) gRPC
methods, so the figures measure the node, not the client's protobuf work. Items are about
200 bytes serialized: the key (pk string, sk number), a few small attributes and a text
payload; `seq` differs on every write so no write is a no-op (a no-op emits no record).
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator

import grpc

from meridian.model.items import from_plain, to_typed
from meridian.pb import node_pb2 as pb

NODE_SERVICE = "/meridian.client.v1.Client/"
SORT_KEYS_PER_PARTITION = 10
TABLE = "orders"
BULK_TABLE = "bulk"
BULK_ATTRIBUTE_TABLE = "bulk_attribute"  # the same in attribute merge mode

TABLES = [
    {
        "name": TABLE,
        "partition_key": {"name": "pk", "type": "S"},
        "sort_key": {"name": "sk", "type": "N"},
    },
    {
        "name": BULK_TABLE,
        "partition_key": {"name": "pk", "type": "S"},
        "sort_key": {"name": "sk", "type": "N"},
    },
    {
        "name": BULK_ATTRIBUTE_TABLE,
        "partition_key": {"name": "pk", "type": "S"},
        "sort_key": {"name": "sk", "type": "N"},
        "merge": "attribute",
    },
]

_TEMPLATE = from_plain(
    {
        "pk": "p",
        "sk": 0,
        "seq": 0,
        "status": "PENDING",
        "customer": "customer-00042",
        "amount": "129.95",
        "currency": "EUR",
        "note": "".join(random.Random(7).choices(string.ascii_letters, k=40)),
    }
)


def key_parts(n: int, prefix: str = "") -> tuple[str, int]:
    """Key number n: partition `prefix` + n // 10, sort key n % 10 (Query reads 10 items)."""
    return f"{prefix}p{n // SORT_KEYS_PER_PARTITION:08d}", n % SORT_KEYS_PER_PARTITION


def item(n: int, seq: int, prefix: str = "") -> pb.Item:
    out = pb.Item()
    out.CopyFrom(_TEMPLATE)
    pk, sk = key_parts(n, prefix)
    out.attributes["pk"].s = pk
    out.attributes["sk"].n = str(sk)
    out.attributes["seq"].n = str(seq)
    return out


def item_json(n: int, seq: int, prefix: str = "") -> dict:
    """Item n as DynamoDB JSON (the HTTP door's requests)."""
    return to_typed(item(n, seq, prefix))


def key(n: int, prefix: str = "") -> pb.Item:
    pk, sk = key_parts(n, prefix)
    out = pb.Item()
    out.attributes["pk"].s = pk
    out.attributes["sk"].n = str(sk)
    return out


def put_request(n: int, seq: int, prefix: str = "", table: str = TABLE) -> bytes:
    return pb.PutItemRequest(table=table, item=item(n, seq, prefix)).SerializeToString()


def batch_request(numbers: list[int], seq: int, prefix: str = "", table: str = TABLE) -> bytes:
    req = pb.BatchWriteItemRequest(table=table)
    for n in numbers:
        req.writes.add().put.CopyFrom(item(n, seq, prefix))
    return req.SerializeToString()


def get_request(n: int, prefix: str = "", table: str = TABLE) -> bytes:
    return pb.GetItemRequest(table=table, key=key(n, prefix)).SerializeToString()


def query_request(partition: int, prefix: str = "", table: str = TABLE) -> bytes:
    pk, _ = key_parts(partition * SORT_KEYS_PER_PARTITION, prefix)
    request = pb.QueryRequest(table=table, key_condition_expression="pk = :p")
    request.expression_attribute_values[":p"].s = pk
    return request.SerializeToString()


def chunks(total: int, size: int) -> Iterator[list[int]]:
    for start in range(0, total, size):
        yield list(range(start, min(total, start + size)))


def raw_method(channel: grpc.aio.Channel, name: str) -> grpc.aio.UnaryUnaryMultiCallable:
    """A node method taking and returning serialized bytes."""
    return channel.unary_unary(NODE_SERVICE + name)


def item_bytes() -> int:
    """Serialized size of a benchmark item."""
    return item(123456, 1).ByteSize()
