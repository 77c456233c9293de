"""When a peer's handshake ends a link's reconnect wait (replicator.link.wake_now), and when a
session ends a run of failures (replicator.link.ended_a_run)."""

from __future__ import annotations

import pytest

from replicator.link import ended_a_run, wake_now


@pytest.mark.parametrize(
    ("waiting", "woken", "expected"),
    [
        (True, False, True),  # waiting to reconnect: the peer is back, try now
        (True, True, False),  # already woken since it last streamed: back off as usual
        (False, False, False),  # in a session (or streaming): nothing to cut short
        (False, True, False),
    ],
)
def test_a_peer_handshake_wakes_a_waiting_link_once_per_run_of_failures(
    waiting: bool, woken: bool, expected: bool
) -> None:
    assert wake_now(waiting, woken) is expected


@pytest.mark.parametrize(
    ("streamed_s", "heartbeat_s", "expected"),
    [
        (None, 1.0, False),  # never streamed (refused, peer down): the run of failures goes on
        (0.5, 1.0, False),  # failed right after it started: keeps backing off
        (2.99, 1.0, False),
        (3.0, 1.0, True),  # streamed as long as the idle deadline (3 heartbeats)
        (600.0, 1.0, True),  # streamed for minutes: the next failure starts a new run
        (1.9, 0.1, False),  # the idle deadline is at least 2 s
        (2.0, 0.1, True),
    ],
)
def test_a_session_that_streamed_long_enough_ends_a_run_of_failures(
    streamed_s: float | None, heartbeat_s: float, expected: bool
) -> None:
    assert ended_a_run(streamed_s, heartbeat_s) is expected
