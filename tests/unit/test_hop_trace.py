"""The opt-in hop trace (meridian/daemon/hop_trace.py) and its reading (bench/hops.py)."""

from __future__ import annotations

import asyncio
import pathlib

import pytest

from bench import hops
from meridian.daemon import hop_trace


def test_a_line_is_time_region_kind_and_fields() -> None:
    assert hop_trace.line(12.5, "us", "recv", ("eu", "t", 7, 1)) == "12.500000 us recv eu t 7 1\n"
    assert hop_trace.line(1.0, "", "commit", (2, 0.12345)) == "1.000000 - commit 2 0.123\n"


def test_untraced_without_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hop_trace, "_out", None)
    hop_trace.start("us", {})
    hop_trace.event("send", "eu", "t", 1, 1)  # nothing to write to: no error, no file
    assert hop_trace._out is None


def test_traced_events_go_to_a_file_per_process(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hop_trace, "_out", None)
    hop_trace.start("us", {hop_trace.HOP_TRACE_ENV: str(tmp_path / "t")})
    try:
        hop_trace.event("recv", "eu", "t", 3, 2)
    finally:
        assert hop_trace._out is not None
        hop_trace._out.close()
    (written,) = tmp_path.glob("t.*")
    _, region, kind, *fields = written.read_text().split()
    assert (region, kind, fields) == ("us", "recv", ["eu", "t", "3", "2"])


LINES = [
    "10.000 us send eu t 5 1",  # batch 5: 1 ms in transit, during a commit of us's writer
    "10.001 us recv eu t 5 1",
    "10.003 us durable eu t 5",
    "10.0015 us commit 1 4.000 1.000",  # ran 10.0005-10.0015
    "20.000 us send eu t 6 1",  # batch 6: 2 ms in transit, no commit meanwhile
    "20.002 us recv eu t 6 1",
    "20.010 us commit 3 0.100 2.000",
    "30.000 us send eu t 7 1",  # outside the window
    "30.001 us recv eu t 7 1",
]


@pytest.mark.parametrize(
    ("hop", "expected_ms"),
    [
        ("send -> recv", [1.0, 2.0]),
        ("send -> recv, during a commit", [1.0]),
        ("send -> recv, otherwise", [2.0]),
        ("recv -> durable", [2.0]),
        ("commit, one op after a pause", [1.0]),
        ("commit, others", [2.0]),
    ],
)
def test_hops_of_the_batches_sent_in_a_window(hop: str, expected_ms: list[float]) -> None:
    found = hops.hops(hops.parse(LINES), 9.0, 25.0)
    assert sorted(found[hop]) == pytest.approx(expected_ms, abs=1e-6)


def test_quantiles() -> None:
    assert hops.quantile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert hops.quantile([1.0, 2.0], 0.99) == 2.0
    assert hops.quantile([], 0.5) != hops.quantile([], 0.5)  # nan


def test_an_event_when_a_future_ends(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hop_trace, "_out", None)
    hop_trace.start("us", {hop_trace.HOP_TRACE_ENV: str(tmp_path / "t")})

    async def settle() -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        hop_trace.on_done(future, "durable", "eu", "t", 4)
        assert not next(tmp_path.glob("t.*")).read_text()  # not before it ends
        future.set_result(None)
        await asyncio.sleep(0)

    try:
        asyncio.run(settle())
    finally:
        assert hop_trace._out is not None
        hop_trace._out.close()
    (written,) = tmp_path.glob("t.*")
    assert written.read_text().split()[1:] == ["us", "durable", "eu", "t", "4"]
