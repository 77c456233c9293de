"""The peer comparison's decisions: pacing, which loads, which samples, the report's rows."""

from __future__ import annotations

import asyncio
import math
import random

import pytest

from bench import peerload, peers, report


@pytest.mark.parametrize(
    ("rate", "elapsed", "sent", "expected"),
    [
        (100, 0.0, 0, 0),
        (100, 0.01, 0, 1),  # one tick at 100/s
        (100, 0.005, 0, 0),  # not yet a whole write
        (500, 0.01, 0, 5),
        (500, 0.02, 5, 5),
        (500, 0.02, 10, 0),  # on schedule
        (500, 0.02, 12, 0),  # ahead never goes negative
        (500, 1.0, 100, 400),  # behind: catches up
        (10_000, 1.0, 0, peerload.MAX_BATCH),  # far behind: one batch at most per tick
    ],
)
def test_due(rate, elapsed, sent, expected):
    assert peerload.due(rate, elapsed, sent) == expected


def test_pacing_over_a_run_sends_the_offered_number():
    sent = 0
    for tick in range(1, 101):  # one second of 10 ms ticks
        sent += peerload.due(730, tick * peerload.TICK_S, sent)
    assert sent == 730


@pytest.mark.parametrize(("count", "keys"), [(5, 100), (100, 100), (150, 100), (0, 10)])
def test_pick_keys_distinct_and_in_range(count, keys):
    chosen = peerload.pick_keys(random.Random(3), count, keys)
    assert len(chosen) == min(count, keys)
    assert len(set(chosen)) == len(chosen)
    assert all(0 <= k < keys for k in chosen)


def test_values_differ_and_have_the_item_size():
    assert peerload.value(1) != peerload.value(2)
    assert len(peerload.value(1)) == peerload.VALUE_BYTES


@pytest.mark.parametrize(
    ("loads", "expected"),
    [
        (((100, 15.0), (500, 15.0), (1000, 15.0)), [(100, 15.0), (500, 15.0)]),
        (((3000, 5.0), (500, 5.0)), [(500, 5.0), (3000, 5.0)]),  # ascending, whatever the order
        (((200, 1.0),), [(200, 1.0)]),
        ((), []),
    ],
)
def test_lowest_loads(loads, expected):
    assert peers.lowest_loads(loads) == expected


def test_lag_figures_keeps_the_writes_of_the_window():
    samples = [
        (1010.0, 1000.0, 1004.0),  # inside: visible 10, applied 4
        (2003.0, 2000.0, None),  # inside, no apply stamp (Redis): visible 3
        (1500.0, 998.0, 999.0),  # written before the window (beyond the 1 ms slack)
        (3500.0, 3002.0, 3003.0),  # written after it
    ]
    figures = peers.lag_figures(samples, 1000.0, 3000.0)
    assert figures["received"] == 2
    assert figures["visible_lag_ms"]["p50"] == 3.0
    assert figures["visible_lag_ms"]["max"] == 10.0
    assert figures["apply_lag_ms"]["count"] == 1
    assert figures["apply_lag_ms"]["p50"] == 4.0


@pytest.mark.parametrize(
    ("achieved", "acked", "received", "expected"),
    [
        (100.0, 1500, 1500, True),
        (95.0, 1425, 1425, True),  # 95% of the offered rate
        (94.0, 1410, 1410, False),
        (100.0, 1500, 1499, False),  # a write never arrived
    ],
)
def test_sustained(achieved, acked, received, expected):
    assert peers.sustained(100, achieved, acked, received) is expected


@pytest.mark.parametrize(
    ("system", "meridian", "peer", "values", "met"),
    [
        ("postgres", {"p50": 10.0, "p99": 30.0}, {"p50": 2.0, "p99": 15.0}, [5.0, 2.0], True),
        ("postgres", {"p50": 10.0, "p99": 60.0}, {"p50": 2.0, "p99": 15.0}, [5.0, 4.0], False),
        ("redis", {"p50": 10.0, "p99": 60.0}, {"p50": 0.5, "p99": 3.0}, [20.0, 20.0], None),
        ("postgres", {}, {"p50": 2.0, "p99": 15.0}, [None, None], None),  # Meridian not run
        ("postgres", {"p50": 1.0, "p99": 2.0}, {"p50": 0.0, "p99": 1.0}, [None, 2.0], True),
    ],
)
def test_ratio_rows(system, meridian, peer, values, met):
    rows = report.ratio_rows(system, 500, meridian, peer)
    assert [r.id for r in rows] == [
        f"peers.{system}.500.ratio_p50",
        f"peers.{system}.500.ratio_p99",
    ]
    assert [r.value for r in rows] == values
    assert all(r.unit == "x" for r in rows)
    assert rows[1].met is met  # the goal is on PostgreSQL's p99 only
    assert rows[0].met is None
    for row in rows:
        assert (row.value is None) == bool(row.note)  # a missing ratio says why


def _load(rate: int, p50: float, p99: float) -> dict:
    return {
        "offered_per_s": rate,
        "visible_lag_ms": {"count": 10, "p50": p50, "p99": p99, "max": p99},
        "load": {"achieved_per_s": float(rate)},
        "sustained": True,
        "expected_records": 10,
        "received_records": 10,
        "drain_wait_s": 0.0,
    }


def _only_peers(peer_results: dict) -> dict:
    """A `--only peers` result: Meridian's lag at 100/s, then the peers'."""
    return {
        "regions": ["a", "b", "c"],
        "replication": {"loads": [_load(100, 16.0, 40.0)], "highest_sustained_per_s": 100},
        "peers": peer_results,
    }


def test_rows_of_measured_and_skipped_peers():
    results = _only_peers(
        {
            "loads": [[100, 15.0]],
            "postgres": {"loads": [_load(100, 2.0, 5.0)]},
            "redis": {"skipped": "redis-server is not installed and installing it needs root"},
        }
    )
    rows = {row.id: row for row in report.rows(results)}
    assert rows["lag.100.p50"].value == 16.0
    assert rows["lag.100.p50"].ratio is None  # no raw limits in this mode
    assert rows["peers.postgres.100.p50"].value == 2.0
    assert rows["peers.postgres.100.p99"].value == 5.0
    assert rows["peers.postgres.100.ratio_p50"].value == 8.0
    assert rows["peers.postgres.100.ratio_p99"].value == 8.0
    assert rows["peers.postgres.100.ratio_p99"].met is False
    assert rows["peers.redis"].value is None
    assert rows["peers.redis"].note == (
        "skipped: redis-server is not installed and installing it needs root"
    )
    text = report.table(list(rows.values()))
    assert "8.00x" in text and "MISSED" in text


def test_rows_when_the_phase_is_skipped():
    results = _only_peers({"skipped": "not run in smoke mode"})
    (row,) = [row for row in report.rows(results) if row.id.startswith("peers")]
    assert row.id == "peers" and row.value is None
    assert row.note == "skipped: not run in smoke mode"


def test_a_peer_load_with_no_row_seen():
    empty = {**_load(100, 0, 0), "visible_lag_ms": {"count": 0}}
    results = _only_peers({"loads": [[100, 15.0]], "postgres": {"loads": [empty]}, "redis": {}})
    rows = {row.id: row for row in report.rows(results)}
    assert rows["peers.postgres.100.p50"].value is None
    assert rows["peers.postgres.100.p50"].note == "no replicated row seen"
    assert "peers.postgres.100.ratio_p50" not in rows
    assert rows["peers.redis"].note == "skipped: not run"


def test_ratio_format():
    assert report._fmt(2.456, "x") == "2.46x"
    assert report._fmt(40.23, "x") == "40.2x"
    assert report._fmt(math.nan, "x") == "-"


def test_baseline_column_shows_values_where_this_run_has_no_ratio():
    """`--only peers` measures no raw limits: its lag rows are compared with the baseline's
    values, not with the baseline's ratios to a limit this run did not measure."""
    baseline = {
        "figures": [
            {"id": "lag.100.p50", "value": 15.8, "unit": "ms", "ratio": 43.45},
            {"id": "peers.postgres.100.ratio_p99", "value": 6.0, "unit": "x", "ratio": None},
        ]
    }
    results = _only_peers({"loads": [[100, 15.0]], "postgres": {"loads": [_load(100, 2.0, 5.0)]}})
    cells = {c[0]: c for c in report._cells(report.rows(results), baseline)}
    assert cells["replication lag p50 at 100 writes/s over 3 regions"][-1] == "15.80 ms"
    assert cells["  Meridian lag p99 / PostgreSQL's at 100/s"][-1] == "6.00x"


def test_not_root_cannot_install(monkeypatch, tmp_path):
    from bench import peerhosts

    monkeypatch.setattr(peerhosts.os, "geteuid", lambda: 1000)
    reason = peerhosts.apt_install("redis-server", tmp_path / "apt.log")
    assert reason == "redis-server is not installed and installing it needs root"
    assert not (tmp_path / "apt.log").exists()  # nothing was run
    assert peerhosts.find(lambda: None, "redis-server", tmp_path / "apt.log") == (None, reason)


SETPRIV = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]


@pytest.mark.parametrize(
    ("euid", "user", "expected"),
    [
        (1000, "postgres", ["postgres", "-D", "d"]),
        (0, None, ["postgres", "-D", "d"]),
        (
            0,
            "postgres",
            [*SETPRIV, "postgres", "-D", "d"],
        ),
    ],
)
def test_run_as(monkeypatch, euid, user, expected):
    from bench import peerhosts

    monkeypatch.setattr(peerhosts.os, "geteuid", lambda: euid)
    assert peerhosts.run_as(user, ["postgres", "-D", "d"]) == expected


def test_a_peer_that_cannot_be_installed_is_skipped_with_the_reason(monkeypatch, tmp_path):
    from bench import peerhosts

    monkeypatch.setattr(peerhosts.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(peerhosts, "postgres_bindir", lambda: None)
    monkeypatch.setattr(peerhosts, "redis_binary", lambda: None)
    (tmp_path / "logs").mkdir()
    result = asyncio.run(peers.measure(tmp_path, [(100, 1.0)], 10))
    assert result["postgres"] == {
        "skipped": "postgresql is not installed and installing it needs root"
    }
    assert result["redis"] == {
        "skipped": "redis-server is not installed and installing it needs root"
    }
    assert not (tmp_path / "peers").exists()  # nothing was started
