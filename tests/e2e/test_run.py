"""`meridian run` as a new user meets it: a second run of a running group is refused in one
line, the banner's commands work, and Ctrl-C stops the group with exit code 130."""

from __future__ import annotations

import os
import pathlib
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
import yaml

from tests.e2e.helpers import (
    MERIDIAN,
    free_port,
    group_doc,
    json_of,
    run_cli,
    write_group,
)

REGIONS = ("us-east", "eu-west")
DEADLINE_S = 30.0


class Run:
    """`meridian run CONFIG` in the background, its output in a file; always stopped."""

    def __init__(self, config: pathlib.Path, name: str) -> None:
        self.config = config
        self.log_dir = config.parent / f"{name}-logs"
        self.out_path = config.parent / f"{name}.out"
        with self.out_path.open("wb") as out:
            self.proc = subprocess.Popen(
                [*MERIDIAN, "run", str(config), "--log-dir", str(self.log_dir)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def output(self) -> str:
        logs = [f"--- {p.name}\n{p.read_text(errors='replace')}" for p in self.log_dir.glob("*")]
        return "\n".join([self.out_path.read_text(errors="replace"), *logs])

    def wait_banner(self) -> str:
        deadline = time.monotonic() + DEADLINE_S
        while "is running" not in (text := self.out_path.read_text(errors="replace")):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no banner (exit {self.proc.returncode})\n{self.output()}")
            time.sleep(0.1)
        return text

    def wait_exit(self, timeout: float = DEADLINE_S) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running after {timeout}s\n{self.output()}") from None

    def stop(self, signum: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            return self.proc.wait(DEADLINE_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # and every child still in its session
            self.proc.wait()
            raise AssertionError(f"ignored signal {signum}\n{self.output()}") from None


@pytest.fixture
def runs() -> Iterator[list[Run]]:
    started: list[Run] = []
    try:
        yield started
    finally:
        for run in started:
            run.stop()


def one_line_of(run: Run) -> str:
    lines = [line for line in run.out_path.read_text().splitlines() if line.strip()]
    assert len(lines) == 1, run.output()
    return lines[0]


def test_a_second_run_is_refused_in_one_line_and_ctrl_c_exits_130(
    tmp_path: pathlib.Path, runs: list[Run]
) -> None:
    doc = group_doc(tmp_path, REGIONS)
    config = write_group(tmp_path / "group.yaml", doc)
    first = Run(config, "first")
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
    second = Run(config, "second")
    runs.append(second)
    assert second.wait_exit() == 3
    line = one_line_of(second)
    assert line.startswith("meridian run: ports or data directories of ") and "in use" in line
    assert not second.log_dir.exists()

    # other ports, the same data directories: refused too
    other = yaml.safe_load(config.read_text())
    for region in other["regions"]:
        region["node"]["listen"] = f"127.0.0.1:{free_port()}"
        region["replicator"] = {"listen": f"127.0.0.1:{free_port()}"}
        region["metrics"]["listen"] = f"127.0.0.1:{free_port()}"
        region["replicator"]["metrics"] = f"127.0.0.1:{free_port()}"
    third = Run(write_group(tmp_path / "same-data.yaml", other), "third")
    runs.append(third)
    assert third.wait_exit() == 3
    assert "(data of us-east)" in one_line_of(third)

    # the first group is untouched, and Ctrl-C stops it with 130
    status = run_cli("status", "--config", config)
    assert status.returncode == 0, status.stdout + status.stderr
    assert first.stop(signal.SIGINT) == 130, first.output()


def test_sigterm_stops_the_group_with_143(tmp_path: pathlib.Path, runs: list[Run]) -> None:
    config = write_group(tmp_path / "group.yaml", group_doc(tmp_path, ("us-east",)))
    run = Run(config, "run")
    runs.append(run)
    run.wait_banner()
    assert run.stop(signal.SIGTERM) == 143, run.output()
    assert "Traceback" not in run.output()


def _args(command_line: str) -> list[str]:
    """A banner line's arguments after `meridian`."""
    words = shlex.split(command_line)
    return words[words.index("meridian") + 1 :]
