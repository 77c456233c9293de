"""How a snapshot of stored bytes is cut into messages (`regionnode/snapshot.py`)."""

from __future__ import annotations

import asyncio

import pytest

from meridian.pb import node_pb2 as pb
from regionnode import snapshot


def cut(sizes: list[int], per_batch: int) -> list[pb.SnapshotBatch]:
    pairs = iter([(b"k%03d" % i, b"v" * size) for i, size in enumerate(sizes)])
    first = pb.SnapshotBatch(entries_estimate=len(sizes))

    async def collect() -> list[pb.SnapshotBatch]:
        return [b async for b in snapshot._stored_batches(pairs, first, per_batch)]

    return asyncio.run(collect())


BIG = snapshot.MAX_BATCH_BYTES // 2

CASES = [
    ("empty table", [], 3, [0]),
    ("fewer than a batch", [1, 1], 3, [2]),
    ("exactly a batch", [1, 1, 1], 3, [3, 0]),
    ("by count", [1] * 7, 3, [3, 3, 1]),
    ("by bytes", [BIG, BIG, BIG], 100, [2, 1]),
    ("default count", [1] * 2001, 0, [2000, 1]),
]


@pytest.mark.parametrize(("case", "sizes", "per_batch", "counts"), CASES, ids=[c[0] for c in CASES])
def test_stored_bytes_are_cut_by_count_and_size(
    case: str, sizes: list[int], per_batch: int, counts: list[int]
) -> None:
    batches = cut(sizes, per_batch)
    assert [len(b.stored) for b in batches] == counts, case
    assert [len(b.keys) for b in batches] == counts
    assert batches[0].entries_estimate == len(sizes)  # the first message carries the header
    assert [b.done for b in batches] == [False] * (len(counts) - 1) + [True]
    keys = [k for b in batches for k in b.keys]
    assert keys == [b"k%03d" % i for i in range(len(sizes))]
    assert [len(v) for b in batches for v in b.stored] == sizes
    assert not any(b.entries for b in batches)  # nothing decoded
