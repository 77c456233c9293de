"""`meridian status` exits 1 unless every region answers and every link streams."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from meridian.cli.status import _link_json, collect, problems, render
from meridian.config import load
from meridian.pb import replicator_pb2 as rpb
from tests.e2e.helpers import e2e_group
from tests.harness import write_group


def region(name: str, state: str = "ACTIVE") -> dict[str, Any]:
    return {"region": name, "state": state}


def link(source: str, target: str, state: str = "STREAMING") -> dict[str, Any]:
    return {"source": source, "target": target, "state": state}


@pytest.mark.parametrize(
    ("regions", "links", "expected"),
    [
        ([region("a"), region("b")], [link("a", "b"), link("b", "a")], []),
        (
            [region("a"), region("b", "UNREACHABLE")],
            [link("a", "b", "UNREACHABLE"), link("b", "a")],
            ["region b: UNREACHABLE"],
        ),
        (
            [region("a"), region("b")],
            [link("a", "b", "DOWN"), link("b", "a", "REFUSED")],
            ["link a -> b: DOWN", "link b -> a: REFUSED"],
        ),
        (
            [region("a", "BOOTSTRAPPING")],
            [link("b", "a", "CONNECTING")],
            ["link b -> a: CONNECTING"],
        ),
        ([region("a")], [link("b", "a", "CLOCK_REJECTED")], ["link b -> a: CLOCK_REJECTED"]),
        (
            [region("a")],
            [dict(link("b", "a"), excluded_tables={"carts": "differs"})],
            ["link b -> a: table carts left out"],
        ),
    ],
)
def test_problems(
    regions: list[dict[str, Any]], links: list[dict[str, Any]], expected: list[str]
) -> None:
    assert problems(regions, links) == expected


# ---------------------------------------------------------------- one line per row

MULTI_LINE = (
    "Unexpected <class 'grpc.aio._call.AioRpcError'>: <AioRpcError of RPC that terminated "
    'with:\n\tstatus = StatusCode.UNAVAILABLE\n\tdetails = "failed to connect"\n\t'
    'debug_error_string = "UNAVAILABLE:failed to connect"\n>'
)


def test_a_multi_line_link_error_is_shown_on_one_line() -> None:
    row = _link_json(rpb.LinkStatus(source="a", target="b", state="DOWN", error=MULTI_LINE))
    assert row["error"] == (
        "Unexpected <class 'grpc.aio._call.AioRpcError'>: <AioRpcError of RPC that terminated "
        'with: status = StatusCode.UNAVAILABLE details = "failed to connect" '
        'debug_error_string = "UNAVAILABLE:failed to connect" >'
    )
    rows = [
        {**row, "error": MULTI_LINE},
        {**row, "source": "c", "error": ""},
    ]
    text = render([region("a"), region("b")], rows, as_json=False)
    assert len(text.splitlines()) == 2 + 1 + 1 + 2, text  # regions, blank, header, links


def test_an_unreachable_replicator_is_one_line_with_its_status_code(
    tmp_path: pathlib.Path,
) -> None:
    config = load(write_group(tmp_path / "group.yaml", e2e_group(tmp_path, ("us", "eu"))))
    regions, links = collect(config, timeout=2)  # nothing listens on the group's ports
    assert [r["state"] for r in regions] == ["UNREACHABLE", "UNREACHABLE"]
    for link in links:
        assert link["error"].startswith(f"replicator {link['target']} unreachable: UNAVAILABLE: ")
        assert "\n" not in link["error"]


def test_tables_left_out_and_set_aside_are_shown() -> None:
    excluded = rpb.LinkStatus(
        source="b",
        target="a",
        state="STREAMING",
        excluded_tables=[rpb.TableMismatch(table="carts", reason="table 'carts' differs in b")],
    )
    regions = [
        {
            **region("a"),
            "set_aside": [
                {"table": "carts", "kept_as": "carts.aside-0-1", "reason": "another came first"}
            ],
        }
    ]
    text = render(regions, [_link_json(excluded)], as_json=False)
    assert "link b -> a: table 'carts' differs in b; this table does not replicate" in text
    assert "a: table carts set aside: another came first" in text
