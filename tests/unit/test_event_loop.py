"""Which event loop the daemons run on (meridian/daemon/event_loop.py)."""

from __future__ import annotations

import asyncio
import sys

import pytest
import uvloop

from meridian.daemon import event_loop
from meridian.daemon.event_loop import EVENT_LOOP_ENV, choose
from triggers import main as triggers_main


@pytest.mark.parametrize(
    ("env", "installed", "expected"),
    [
        ({}, True, "uvloop"),
        ({}, False, "asyncio"),
        ({EVENT_LOOP_ENV: ""}, True, "uvloop"),
        ({EVENT_LOOP_ENV: "asyncio"}, True, "asyncio"),
        ({EVENT_LOOP_ENV: "asyncio"}, False, "asyncio"),
        ({EVENT_LOOP_ENV: "uvloop"}, True, "uvloop"),
    ],
)
def test_choose(env: dict[str, str], installed: bool, expected: str) -> None:
    assert choose(env, installed) == expected


@pytest.mark.parametrize(
    ("env", "installed", "message"),
    [
        ({EVENT_LOOP_ENV: "trio"}, True, "expected one of uvloop, asyncio, got 'trio'"),
        ({EVENT_LOOP_ENV: "uvloop"}, False, "uvloop is not installed"),
    ],
)
def test_choose_refuses(env: dict[str, str], installed: bool, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        choose(env, installed)


def test_the_factory_makes_the_chosen_loop() -> None:
    name, factory = event_loop.loop_factory({})
    assert name == "uvloop" and factory is not None
    with asyncio.Runner(loop_factory=factory) as runner:
        assert isinstance(runner.get_loop(), uvloop.Loop)
    assert event_loop.loop_factory({EVENT_LOOP_ENV: "asyncio"}) == ("asyncio", None)


def test_the_trigger_runner_runs_on_asyncios_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its worker pipes need asyncio's transports (BrokenPipeError after a worker exits)."""
    asked: dict[str, object] = {}

    def run_daemon(*args: object, **kwargs: object) -> int:
        asked.update(kwargs)
        return 0

    monkeypatch.setattr(triggers_main, "run_daemon", run_daemon)
    assert triggers_main.run_triggers("group.yaml", "us-east") == 0
    assert asked == {"uvloop": False}
    assert event_loop.loop_factory(event_loop.ASYNCIO) == ("asyncio", None)


def test_tune_threads_shortens_the_switch_interval() -> None:
    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)
        event_loop.tune_threads()
        assert sys.getswitchinterval() == pytest.approx(event_loop.SWITCH_INTERVAL_S)
        assert event_loop.SWITCH_INTERVAL_S < 0.005  # Python's default
    finally:
        sys.setswitchinterval(before)
