from __future__ import annotations

from regionnode.holds import RetentionHolds


def test_floor_is_the_lowest_live_hold_of_the_table() -> None:
    holds = RetentionHolds()
    assert holds.floor("t", 0) is None
    holds.hold("eu", "t", 50, until=100)
    holds.hold("ap", "t", 20, until=10)
    holds.hold("ap", "other", 1, until=100)
    assert holds.floor("t", 5) == 20
    assert holds.floor("t", 10) == 50  # ap's hold on t expired
    holds.hold("eu", "t", 70, until=100)  # renewing moves the hold
    assert holds.floor("t", 11) == 70
    holds.release("eu")
    assert holds.floor("t", 11) is None
    assert holds.floor("other", 11) == 1
