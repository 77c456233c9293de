"""When a peer's handshake ends a link's reconnect wait (replicator.link.wake_now)."""

from __future__ import annotations

import pytest

from replicator.link import wake_now


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
