"""The rebuild-horizon guards of a link: whom to copy from, and when to rebuild. Pure."""

from __future__ import annotations

import pytest

from meridian.pb import node_pb2 as pb
from replicator import progress

MEMBERS = ["us", "eu", "ap"]
TABLES = ["t"]
H = 1_000


def ckpts(**origins: int) -> list[pb.Checkpoint]:
    return [pb.Checkpoint(origin=o, table="t", complete_through_ms=ms) for o, ms in origins.items()]


def report(region: str, horizons: dict[str, int] | None = None, **origins: int) -> pb.PeerProgress:
    return pb.PeerProgress(
        region=region,
        checkpoints=ckpts(**origins),
        horizons=[pb.RebuildHorizon(peer=p, horizon_ms=ms) for p, ms in (horizons or {}).items()],
    )


@pytest.mark.parametrize(
    ("horizon", "peer_report", "behind"),
    [
        pytest.param(0, report("eu"), False, id="no-horizon"),
        pytest.param(H, report("eu", us=H, ap=H), False, id="settled-at-horizon"),
        pytest.param(H, report("eu", us=H, ap=H - 1), True, id="one-origin-behind"),
        pytest.param(H, report("eu", us=H + 5), True, id="an-origin-never-applied"),
    ],
)
def test_check_source(horizon: int, peer_report: pb.PeerProgress, behind: bool) -> None:
    if behind:
        with pytest.raises(progress.Behind, match="eu fell behind a forced tombstone collection"):
            progress.check_source(horizon, peer_report, MEMBERS, TABLES)
    else:
        progress.check_source(horizon, peer_report, MEMBERS, TABLES)


REBUILDS = [
    ("never reported", None, ckpts(eu=0, ap=0), 0, ("", 0)),
    ("no horizon for us", report("eu", {"ap": H}), ckpts(eu=0, ap=0), 0, ("", 0)),
    ("us applied everything past it", report("eu", {"us": H}), ckpts(eu=H, ap=H), 0, ("", H)),
    ("already rebuilt against it", report("eu", {"us": H}), ckpts(eu=0, ap=0), H, ("", H)),
    ("us lags ap: rebuild", report("eu", {"us": H}), ckpts(eu=H, ap=H - 1), 0, ("rebuild", H)),
    ("a higher horizon: again", report("eu", {"us": H + 1}), ckpts(eu=0), H, ("rebuild", H + 1)),
]


@pytest.mark.parametrize(
    ("peer_report", "own", "rebuilt", "expected"),
    [pytest.param(r, o, b, e, id=name) for name, r, o, b, e in REBUILDS],
)
def test_rebuild_reason(
    peer_report: pb.PeerProgress | None,
    own: list[pb.Checkpoint],
    rebuilt: int,
    expected: tuple[str, int],
) -> None:
    reason, horizon = progress.rebuild_reason(
        peer_report, "us", pb.GetCheckpointsResponse(checkpoints=own), MEMBERS, TABLES, rebuilt
    )
    assert (horizon, bool(reason)) == (expected[1], bool(expected[0]))
    if reason:
        assert reason.startswith("eu dropped tombstones older than") and "rebuild" in reason


def test_note_names_who_is_behind() -> None:
    assert progress.note(None, "us", H, 0, MEMBERS, TABLES) == ""
    theirs = progress.note(report("eu", {"us": H}, us=H, ap=H), "us", 0, H - 1, MEMBERS, TABLES)
    assert theirs.startswith("eu dropped tombstones older than")
    ours = progress.note(report("eu", us=0, ap=H), "us", H, H, MEMBERS, TABLES)
    assert ours.startswith("eu fell behind a forced tombstone collection")
    assert progress.note(report("eu", us=H, ap=H), "us", H, H, MEMBERS, TABLES) == ""


def test_a_peer_without_reports_is_behind_only_a_horizon() -> None:
    progress.check_source(0, None, MEMBERS, TABLES)
    with pytest.raises(progress.Behind, match="reports no progress"):
        progress.check_source(H, None, MEMBERS, TABLES)
