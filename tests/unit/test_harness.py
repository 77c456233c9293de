"""The test harness itself: waits that fail loudly, processes that stop, group documents."""

from __future__ import annotations

import asyncio
import pathlib
import signal
import sys

import pytest

from tests.harness import (
    NotYet,
    Process,
    ProcessFailed,
    RegionPorts,
    TimedOut,
    eventually,
    group_doc,
    load_doc,
    only_regions,
    wait_until,
)

TABLE = {"name": "items", "partition_key": {"name": "pk", "type": "S"}}


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_wait_returns_the_first_truthy_answer_and_retries_what_may_pass() -> None:
    answers = iter([NotYet("a"), OSError("b"), 0, "done"])

    def check() -> object:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert wait_until(check, 5, "the answer", interval=0) == "done"


def test_a_timed_out_wait_says_what_it_waited_for_the_last_answer_and_the_logs() -> None:
    with pytest.raises(TimedOut) as info:
        wait_until(lambda: 0, 0.05, "the impossible", logs=[lambda: "LOG LINES"])
    assert "waiting for the impossible; last: 0" in str(info.value)
    assert "LOG LINES" in str(info.value)


def test_a_wait_raises_at_once_what_it_may_not_retry() -> None:
    def check() -> bool:
        raise KeyError("broken")

    with pytest.raises(KeyError):
        wait_until(check, 60, "never")

    async def failed() -> bool:
        raise ProcessFailed("gone")

    with pytest.raises(ProcessFailed):
        asyncio.run(eventually(failed, 60, "never", retry=(Exception,)))


def test_waiting_for_a_process_that_exits_raises_with_its_log(tmp_path: pathlib.Path) -> None:
    proc = Process("dies", python("print('about to go'); raise SystemExit(4)"), tmp_path / "l")
    proc.start()
    with pytest.raises(ProcessFailed) as info:
        proc.wait_ready(lambda: False, 30, "never ready")
    message = str(info.value)
    assert "dies: exited with code 4 while waiting for never ready" in message
    assert "--- starting dies (start 1 at" in message and "about to go" in message
    assert proc.exit_codes == [4]
    proc.start().wait_exit()
    assert proc.exit_codes == [4, 4] and proc.log().count("about to go") == 2


def test_stop_kills_what_ignores_the_signal_and_says_so_when_asked(
    tmp_path: pathlib.Path,
) -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('up', flush=True); time.sleep(60)"
    )
    proc = Process("stubborn", python(code), tmp_path / "log").start()
    proc.wait_ready(lambda: "up" in proc.log(), 30, "up")
    assert proc.stop(0.2) == -signal.SIGKILL
    proc.start().wait_ready(lambda: proc.log().count("up") == 2, 30, "up again")
    with pytest.raises(ProcessFailed) as info:
        proc.stop(0.2, check=True)
    assert "stubborn: ignored SIGTERM for 0.2s; killed" in str(info.value)
    assert not proc.running


def test_group_documents_on_free_ports_or_on_given_hosts(tmp_path: pathlib.Path) -> None:
    doc = group_doc(tmp_path, ["a", "b"], tables=[TABLE], replication={"batch_size": 7})
    ports = [
        address.rsplit(":", 1)[1]
        for region in doc["regions"]
        for address in (
            region["node"]["listen"],
            region["node"]["peer_listen"],
            region["replicator"]["listen"],
            region["replicator"]["metrics"],
            region["metrics"]["listen"],
        )
    ]
    assert len(set(ports)) == 10
    config = load_doc(doc, tmp_path / "g.yaml")
    assert [r.name for r in config.regions] == ["a", "b"]
    assert str(config.region("b").data_dir) == str(tmp_path / "b")

    fixed = RegionPorts(node=1, replicator=2, metrics=3, replicator_metrics=4, peer=5)
    hosts = {"a": "10.0.0.1", "b": "10.0.0.2"}
    doc = group_doc(tmp_path, ["a", "b"], tables=[TABLE], hosts=hosts, ports=fixed, extra=1)
    assert doc["regions"][1]["replicator"] == {"listen": "10.0.0.2:2", "metrics": "10.0.0.2:4"}
    assert doc["extra"] == 1 and "replication" not in doc
    assert [r["name"] for r in only_regions(doc, ["b"])["regions"]] == ["b"]
