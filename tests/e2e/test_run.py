"""`meridian run` as a new user meets it: a second run of a running group is refused in one
line, the banner's commands work, and Ctrl-C stops the group with exit code 130."""

from __future__ import annotations

import pathlib
import shlex
import signal
import time
from collections.abc import Iterator

import pytest
import yaml

from tests.e2e.helpers import MeridianRun, e2e_group, json_of, run_cli
from tests.harness import free_address, write_group

REGIONS = ("us-east", "eu-west")
DEADLINE_S = 30.0


def start_run(config: pathlib.Path, name: str) -> MeridianRun:
    """`meridian run CONFIG` in the background, its output in NAME.out; always stopped."""
    out = config.parent / f"{name}.out"
    return MeridianRun(config, out, config.parent / f"{name}-logs").start()


@pytest.fixture
def runs() -> Iterator[list[MeridianRun]]:
    started: list[MeridianRun] = []
    try:
        yield started
    finally:
        for run in started:
            run.stop()


def one_line_of(run: MeridianRun) -> str:
    lines = [line for line in run.log_path.read_text().splitlines() if line.strip()]
    assert len(lines) == 1, run.output()
    return lines[0]


def test_a_second_run_is_refused_in_one_line_and_ctrl_c_exits_130(
    tmp_path: pathlib.Path, runs: list[MeridianRun]
) -> None:
    doc = e2e_group(tmp_path, REGIONS)
    config = write_group(tmp_path / "group.yaml", doc)
    first = start_run(config, "first")
    runs.append(first)
    banner = first.wait_banner()

    # the banner's own commands work against the group
    put = next(line for line in banner.splitlines() if "meridian put" in line)
    get = next(line for line in banner.splitlines() if "meridian get" in line)
    assert run_cli(*_args(put)).returncode == 0
    deadline = time.monotonic() + DEADLINE_S
    while (got := run_cli(*_args(get))).stdout.strip() in ("", "null"):
        assert got.returncode == 0 and time.monotonic() < deadline, got.stderr
        time.sleep(0.1)
    # as the README has it: the stream tail after the put shows the put, from trim-horizon
    region = ["--config", config, "--region", REGIONS[-1]]
    tail = run_cli("stream", "tail", *region, "--from", "trim-horizon", "--count", "1")
    assert tail.returncode == 0 and json_of(tail.stdout)["eventName"] == "INSERT", tail

    # the same file again: refused at once, in one line, nothing started
    second = start_run(config, "second")
    runs.append(second)
    assert second.wait_exit() == 3
    line = one_line_of(second)
    assert line.startswith("meridian run: ports or data directories of ") and "in use" in line
    assert not second.log_dir.exists()

    # other ports, the same data directories: refused too
    other = yaml.safe_load(config.read_text())
    for region in other["regions"]:
        region["node"]["listen"] = free_address()
        region["replicator"] = {"listen": free_address()}
        region["metrics"]["listen"] = free_address()
        region["replicator"]["metrics"] = free_address()
    third = start_run(write_group(tmp_path / "same-data.yaml", other), "third")
    runs.append(third)
    assert third.wait_exit() == 3
    assert "(data of us-east)" in one_line_of(third)

    # the first group is untouched, and Ctrl-C stops it with 130
    status = run_cli("status", "--config", config)
    assert status.returncode == 0, status.stdout + status.stderr
    assert first.stop(sig=signal.SIGINT) == 130, first.output()


def test_sigterm_stops_the_group_with_143(tmp_path: pathlib.Path, runs: list[MeridianRun]) -> None:
    config = write_group(tmp_path / "group.yaml", e2e_group(tmp_path, ("us-east",)))
    run = start_run(config, "run")
    runs.append(run)
    run.wait_banner()
    assert run.stop(sig=signal.SIGTERM) == 143, run.output()
    assert "Traceback" not in run.output()


def _args(command_line: str) -> list[str]:
    """A banner line's arguments after `meridian`."""
    words = shlex.split(command_line)
    return words[words.index("meridian") + 1 :]
