"""Errors as one line: for tables, status fields and log lines."""

from __future__ import annotations

import grpc
import pytest

from meridian.wire.oneline import describe, one_line


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("", 10, ""),
        ("plain", 10, "plain"),
        ("a\n\tb  c\r\n", 10, "a b c"),
        ("x" * 12, 10, "xxxxxxx..."),
    ],
)
def test_one_line(text: str, limit: int, expected: str) -> None:
    assert one_line(text, limit) == expected


def test_a_grpc_error_is_its_code_and_details() -> None:
    error = grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(),
        details="failed to connect\nto all addresses",
        debug_error_string="UNAVAILABLE: lots\nof detail",
    )
    assert "\n" in str(error)
    assert describe(error) == "UNAVAILABLE: failed to connect to all addresses"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ValueError("bad\nvalue"), "bad value"),
        (TimeoutError(), "TimeoutError"),
    ],
)
def test_other_errors_are_their_message(error: BaseException, expected: str) -> None:
    assert describe(error) == expected
