"""The pure collection decisions: which tombstones go, which absent keys a snapshot removes."""

from __future__ import annotations

import pytest

from meridian.model import collection, lww
from meridian.model.collection import Rule, Verdict
from meridian.model.hlc import MAX_MS
from meridian.pb import node_pb2 as pb

HOUR = 3_600_000
NOW = 1_000 * HOUR  # any fixed clock: the rule only compares the times it is given
T = 500 * HOUR  # the tombstone's clock time
PAST, AT, BEFORE = T + 1, T, T - 1  # complete_through values past, at and before it


def tomb(clock_ms: int = T, origin: str = "us", written_ms: int = NOW - 2 * HOUR) -> pb.StoredItem:
    stored = pb.StoredItem(tombstone=True, written_ms=written_ms)
    stored.version.hlc, stored.version.region = clock_ms << 16 | 7, origin
    return stored


def prog(**origins: int) -> dict[str, dict[str, int]]:
    """A progress map of table "t": origin -> complete_through_ms."""
    return {o: {"t": ms} for o, ms in origins.items()}


ALL_PAST = prog(us=PAST, eu=PAST, ap=PAST)


def merged_tomb(deleted: tuple[int, str], **removed: tuple[int, str]) -> pb.StoredItem:
    """An attribute-mode tombstone of our write at T, with the item's deletion and attribute
    removals at (clock ms, origin)."""
    stored = tomb()
    stored.attributes.deleted.hlc = deleted[0] << 16
    stored.attributes.deleted.region = deleted[1]
    for name, (ms, origin) in removed.items():
        stored.attributes.removed[name].hlc, stored.attributes.removed[name].region = (
            ms << 16,
            origin,
        )
    return stored


def rule(own=None, reports=None, peers=("eu", "ap"), max_lifetime_ms=7 * 24 * HOUR) -> Rule:
    return Rule(
        region="us",
        peers=frozenset(peers),
        own=prog(eu=PAST, ap=PAST) if own is None else own,
        reports={"eu": ALL_PAST, "ap": ALL_PAST} if reports is None else reports,
        now_ms=NOW,
        lifetime_ms=HOUR,
        max_lifetime_ms=max_lifetime_ms,
    )


KEPT_FOR = lambda *peers: Verdict(False, lagging=frozenset(peers))  # noqa: E731
FORCED_FOR = lambda *peers: Verdict(True, forced=True, lagging=frozenset(peers))  # noqa: E731

VERDICTS = [
    ("younger than the lifetime", rule(), tomb(written_ms=NOW - HOUR + 1), Verdict(False)),
    ("every peer applied and confirmed", rule(), tomb(), Verdict(True)),
    ("an older write of ap may still come", rule(own=prog(eu=PAST, ap=AT)), tomb(), KEPT_FOR("ap")),
    (
        "eu has not confirmed our delete",
        rule(reports={"eu": prog(us=BEFORE, ap=PAST), "ap": ALL_PAST}),
        tomb(),
        KEPT_FOR("eu"),
    ),
    ("no report from ap yet", rule(reports={"eu": ALL_PAST}), tomb(), KEPT_FOR("ap")),
    (
        "eu's delete: eu needs no confirmation of its own write",
        rule(reports={"eu": prog(), "ap": ALL_PAST}),
        tomb(origin="eu"),
        Verdict(True),
    ),
    (
        "eu's delete: ap has not applied eu's stream past it",
        rule(reports={"eu": ALL_PAST, "ap": prog(us=PAST, eu=AT)}),
        tomb(origin="eu"),
        KEPT_FOR("ap"),
    ),
    (
        "a confirmation in another table does not count",
        rule(reports={"eu": {"us": {"other": PAST}}, "ap": ALL_PAST}),
        tomb(),
        KEPT_FOR("eu"),
    ),
    (
        "both directions lag for eu, one for ap",
        rule(own=prog(eu=BEFORE, ap=PAST), reports={"eu": prog(), "ap": prog(us=BEFORE)}),
        tomb(),
        KEPT_FOR("eu", "ap"),
    ),
    (
        "past the maximum lifetime: forced, naming who lagged",
        rule(own=prog(eu=PAST, ap=BEFORE), max_lifetime_ms=2 * HOUR),
        tomb(),
        FORCED_FOR("ap"),
    ),
    (
        "past the maximum lifetime but confirmed: a normal collection",
        rule(max_lifetime_ms=2 * HOUR),
        tomb(),
        Verdict(True),
    ),
    (
        "a removed region's delete: nobody can confirm it, own streams decide",
        rule(reports={"eu": prog(), "ap": prog()}),
        tomb(origin="sa"),
        Verdict(True),
    ),
    ("a region without peers", rule(own={}, reports={}, peers=()), tomb(), Verdict(True)),
    (
        "attribute mode: every write it stands for is confirmed",
        rule(),
        merged_tomb((T - 5, "eu"), a=(T - 2, "ap")),
        Verdict(True),
    ),
    (
        "attribute mode: ap has not confirmed eu's deletion",
        rule(reports={"eu": ALL_PAST, "ap": prog(us=PAST, eu=T - 5)}),
        merged_tomb((T - 5, "eu")),
        KEPT_FOR("ap"),
    ),
    (
        "attribute mode: ap has not confirmed eu's removal of an attribute",
        rule(reports={"eu": ALL_PAST, "ap": prog(us=PAST, eu=T - 2)}),
        merged_tomb((T - 5, "us"), a=(T - 2, "eu")),
        KEPT_FOR("ap"),
    ),
]


@pytest.mark.parametrize(
    ("the_rule", "stored", "expected"),
    [pytest.param(r, s, e, id=name) for name, r, s, e in VERDICTS],
)
def test_verdict(the_rule: Rule, stored: pb.StoredItem, expected: Verdict) -> None:
    assert the_rule.verdict("t", stored) == expected


def test_horizon_is_just_after_the_tombstone_clock() -> None:
    assert collection.horizon_of(tomb(clock_ms=T)) == T + 1


def test_progress_of_checkpoints() -> None:
    ckpts = [
        pb.Checkpoint(origin="eu", table="a", complete_through_ms=5),
        pb.Checkpoint(origin="eu", table="b", complete_through_ms=6),
        pb.Checkpoint(origin="ap", table="a", complete_through_ms=7),
    ]
    assert collection.progress_of(ckpts) == {"eu": {"a": 5, "b": 6}, "ap": {"a": 7}}


@pytest.mark.parametrize(
    ("report", "expected"),
    [
        pytest.param(None, 0, id="never-reported"),
        pytest.param({"us": {"a": 9, "b": 8}, "ap": {"a": 7, "b": 9}}, 7, id="lowest-counts"),
        pytest.param({"us": {"a": 9}, "ap": {"a": 7, "b": 9}}, 0, id="a-table-missing"),
        pytest.param({"us": {"a": 9, "b": 9}, "ap": {"a": 9, "b": 9}, "eu": {}}, 9, id="own-skip"),
    ],
)
def test_settled_through(report, expected: int) -> None:
    assert collection.settled_through(report, "eu", ["us", "eu", "ap"], ["a", "b"]) == expected


def test_settled_through_without_other_origins_is_unbounded() -> None:
    assert collection.settled_through(None, "eu", ["eu"], ["a"]) == MAX_MS


@pytest.mark.parametrize(
    ("positions", "horizon", "expected"),
    [
        pytest.param({"a": 5, "b": 5}, 0, False, id="no-horizon"),
        pytest.param({"a": 5, "b": 5}, 5, False, id="at-horizon"),
        pytest.param({"a": 5, "b": 4}, 5, True, id="one-table-behind"),
        pytest.param({"a": 5}, 5, True, id="table-never-streamed"),
    ],
)
def test_behind(positions: dict[str, int], horizon: int, expected: bool) -> None:
    assert collection.behind(positions, ["a", "b"], horizon) is expected


def item(clock_ms: int, origin: str, tombstone: bool = False) -> pb.StoredItem:
    stored = pb.StoredItem(tombstone=tombstone)
    stored.version.hlc, stored.version.region = clock_ms << 16, origin
    return stored


COVERAGE = {"us": 100, "ap": 50}  # the source eu applied us through 100, ap through 50

ABSENT = [
    ("the source's own write", item(900, "eu"), True),
    ("us write the source applied", item(99, "us"), True),
    ("us write at the source's coverage", item(100, "us"), False),
    ("ap write the source may not have seen", item(60, "ap"), False),
    ("ap write the source applied", item(49, "ap"), True),
    ("a region the source never heard of", item(1, "sa"), False),
    ("a tombstone stays as it is", item(1, "us", tombstone=True), False),
    ("nothing held", None, False),
]


@pytest.mark.parametrize(
    ("stored", "expected"), [pytest.param(s, e, id=name) for name, s, e in ABSENT]
)
def test_removable(stored: pb.StoredItem | None, expected: bool) -> None:
    assert collection.removable(stored, "eu", COVERAGE) is expected


MERGES = [
    ("nothing held", item(5, "eu"), None, lww.Outcome.APPLY),
    ("newer entry", item(6, "eu"), item(5, "us"), lww.Outcome.APPLY),
    ("older entry", item(4, "eu"), item(5, "us"), lww.Outcome.LOST_TO_NEWER),
    ("same write", item(5, "eu"), item(5, "eu"), lww.Outcome.DUPLICATE),
    ("a removal beats its item", item(5, "eu", True), item(5, "eu"), lww.Outcome.APPLY),
    ("an item never beats its removal", item(5, "eu"), item(5, "eu", True), lww.Outcome.DUPLICATE),
]


@pytest.mark.parametrize(
    ("entry", "stored", "expected"), [pytest.param(e, s, o, id=name) for name, e, s, o in MERGES]
)
def test_merge_outcome(entry: pb.StoredItem, stored: pb.StoredItem | None, expected) -> None:
    assert collection.merge_outcome(entry, stored) is expected
