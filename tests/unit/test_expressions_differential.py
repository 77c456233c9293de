"""The expression engine against moto's DynamoDB on seeded random requests.

The fast run below is part of the unit tests. A longer run:
``MERIDIAN_DIFF_CASES=20000 pytest tests/unit/test_expressions_differential.py``
(or ``make expressions-diff``); ``MERIDIAN_DIFF_SEED`` picks the first seed. What is
compared, and where moto differs from DynamoDB, is in tests/expressions_moto.py.
"""

from __future__ import annotations

import os

import pytest

pytest.importorskip("moto")

from tests.expressions_moto import run

CASES = int(os.environ.get("MERIDIAN_DIFF_CASES", "800"))
SEED = int(os.environ.get("MERIDIAN_DIFF_SEED", "1"))
PER_SEED = 400


@pytest.mark.parametrize("seed", range(SEED, SEED + max(1, CASES // PER_SEED)))
def test_engine_agrees_with_moto(seed: int) -> None:
    report = run(seed, min(CASES, PER_SEED))
    # moto raising instead of answering is a moto bug; it must stay rare, or the
    # comparison would silently shrink.
    assert report.moto_failures < report.cases // 10
    assert not report.disagreements, "\n\n".join(report.disagreements[:5])
