"""The DynamoDB door against moto's DynamoDB on seeded random sequences of operations.

The fast run below is part of `make test`; a longer one:
``MERIDIAN_DOOR_DIFF_OPS=5000 pytest tests/integration/test_dynamodb_differential.py``
(or ``make dynamodb-diff``); ``MERIDIAN_DOOR_DIFF_SEED`` picks the first seed. What is
compared, and where moto differs from DynamoDB, is in tests/dynamodb_moto.py.
"""

from __future__ import annotations

import os
import pathlib

import pytest

pytest.importorskip("moto")

from meridian.pb import node_pb2 as pb
from tests.dynamodb_moto import QUERY_TABLE, SORT, TABLE, moto_client, run
from tests.integration.dynamodb_support import serving_node
from tests.integration.test_node import spec

OPERATIONS = int(os.environ.get("MERIDIAN_DOOR_DIFF_OPS", "300"))
SEED = int(os.environ.get("MERIDIAN_DOOR_DIFF_SEED", "1"))
PER_SEED = 150
TABLES = [spec(TABLE), spec(QUERY_TABLE, sk=(SORT, pb.KEY_TYPE_N))]


@pytest.mark.parametrize("seed", range(SEED, SEED + max(1, OPERATIONS // PER_SEED)))
def test_the_door_agrees_with_moto(tmp_path: pathlib.Path, seed: int) -> None:
    with serving_node(tmp_path, tables=TABLES) as node, moto_client() as moto:
        report = run(seed, min(OPERATIONS, PER_SEED), node.client(), moto)
    # moto raising instead of answering is a moto bug; it must stay rare, or the
    # comparison would silently shrink.
    assert report.moto_failures < report.operations // 10
    assert not report.disagreements, "\n\n".join(report.disagreements[:5])
