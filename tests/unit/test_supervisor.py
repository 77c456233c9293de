"""`meridian run` restarts a crashed child with backoff, but not one that failed to start."""

from __future__ import annotations

import pathlib
import sys

import pytest

from meridian.supervisor import Child, tend


def child(tmp_path: pathlib.Path, name: str, code: int) -> Child:
    c = Child(
        region=name,
        component="node",
        endpoint="127.0.0.1:1",
        command=[sys.executable, "-c", f"print('exiting {code}'); raise SystemExit({code})"],
        log_path=tmp_path / f"{name}.log",
    )
    c.start()
    assert c.proc is not None
    c.proc.wait(timeout=30)
    return c


def test_a_crashed_child_is_restarted_after_its_backoff(tmp_path: pathlib.Path) -> None:
    crashed = child(tmp_path, "a", 1)
    first = crashed.proc
    tend([crashed], now=100.0)
    assert crashed.next_start > 100.0 and crashed.proc is first  # scheduled, not yet
    tend([crashed], now=crashed.next_start)
    assert crashed.proc is not first and crashed.restarts == 1
    assert crashed.proc is not None
    crashed.proc.wait(timeout=30)


def test_a_child_that_fails_at_startup_stays_down(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = child(tmp_path, "b", 3)
    first = failed.proc
    for now in (100.0, 200.0, 10_000.0):
        tend([failed], now=now)
    assert failed.given_up and failed.proc is first and failed.restarts == 0
    err = capsys.readouterr().err
    assert err.count("not restarting") == 1 and "exiting 3" in err
