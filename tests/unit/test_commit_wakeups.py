"""Pure decisions of the commit path: which readers a commit wakes (`stream.wakes`) and where
a synced commit runs (`writer.sync_in_thread`)."""

from __future__ import annotations

import pytest

from regionnode.stream import wakes
from regionnode.writer import INLINE_IDLE_S, INLINE_SYNC_OPS, INLINE_SYNC_S, sync_in_thread

T = "orders"


@pytest.mark.parametrize(
    ("key", "tables", "origins", "woken"),
    [
        # readers of every origin: every commit of their table, whatever it wrote
        ((T, ""), {T}, {T: {"us"}}, True),
        ((T, ""), {T}, {}, True),
        ((T, ""), {"other"}, {"other": {"us"}}, False),
        # a filtered reader: only records of its origin in its table
        ((T, "us"), {T}, {T: {"us"}}, True),
        ((T, "us"), {T}, {T: {"eu", "us"}}, True),
        ((T, "us"), {T}, {T: {"eu"}}, False),
        ((T, "us"), {T, "other"}, {T: {"eu"}, "other": {"us"}}, False),
        ((T, "us"), {"other"}, {"other": {"us"}}, False),
        # a table named without origins (deleted table, shutdown): every reader
        ((T, "us"), {T}, {}, True),
        ((T, "us"), {T, "other"}, {"other": {"eu"}}, True),
    ],
)
def test_which_readers_a_commit_wakes(
    key: tuple[str, str], tables: set[str], origins: dict[str, set[str]], woken: bool
) -> None:
    assert wakes(key, tables, origins) is woken


QUICK, SLOW = INLINE_SYNC_S / 4, INLINE_SYNC_S * 2
IDLE, BUSY = INLINE_IDLE_S * 10, INLINE_IDLE_S / 4


@pytest.mark.parametrize(
    ("ops", "last_sync_s", "idle_s", "in_thread"),
    [
        (1, QUICK, IDLE, False),  # low load, quick disk: on the loop
        (INLINE_SYNC_OPS, 0.0, IDLE, False),  # the first commit
        (1, QUICK, INLINE_IDLE_S, False),
        (INLINE_SYNC_OPS + 1, QUICK, IDLE, True),  # writes came together: group commit
        (1000, QUICK, IDLE, True),
        (1, QUICK, BUSY, True),  # one write right after a commit: more are coming
        (1, SLOW, IDLE, True),  # a slow fsync would hold the loop
        (1, INLINE_SYNC_S, IDLE, True),
        (1000, SLOW, BUSY, True),
    ],
)
def test_where_a_synced_commit_runs(
    ops: int, last_sync_s: float, idle_s: float, in_thread: bool
) -> None:
    assert sync_in_thread(ops, last_sync_s, idle_s) is in_thread
