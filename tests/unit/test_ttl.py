"""Time to live decisions: when an item expires and which region expires it (table-driven)."""

from __future__ import annotations

import pytest

from meridian.model import items, render, ttl
from meridian.pb import node_pb2 as pb


def item(**attributes: object) -> pb.Item:
    return items.from_plain({"pk": "a", **attributes})


EXPIRY = [
    ("number", item(exp=1000), "exp", 1000),
    ("string-never", item(exp="1000"), "exp", None),
    ("missing-never", item(other=5), "exp", None),
    ("no-attribute-set", item(exp=1000), "", None),
    ("negative-is-long-past", item(exp=-5), "exp", 0),
    ("list-never", item(exp=[1000]), "exp", None),
]


@pytest.mark.parametrize(
    ("it", "attribute", "expected"), [pytest.param(i, a, e, id=n) for n, i, a, e in EXPIRY]
)
def test_expiry_of(it: pb.Item, attribute: str, expected: int | None) -> None:
    assert ttl.expiry_of(it, attribute) == expected


def test_a_fraction_of_a_second_rounds_up() -> None:
    it = pb.Item()
    it.attributes["exp"].n = "1000.5"
    assert ttl.expiry_of(it, "exp") == 1001
    assert not ttl.is_expired(it, "exp", 1000.9)
    assert ttl.is_expired(it, "exp", 1001)


FIVE_YEARS = 5 * 365 * 86400


@pytest.mark.parametrize(
    ("now", "expired"),
    [
        (999.9, False),
        (1000, True),
        (1000.1, True),
        (5000, True),
        (1000 + FIVE_YEARS, True),
        (1001 + FIVE_YEARS, False),  # too far past to be an expiry time (DynamoDB's rule)
    ],
)
def test_is_expired_at_or_after_the_time(now: float, expired: bool) -> None:
    assert ttl.is_expired(item(exp=1000), "exp", now) is expired


WHO = [
    # writer region, this region, now, expected: due at 1000, takeover after 60 s
    ("writer-when-due", "us", "us", 1000, True),
    ("writer-not-yet", "us", "us", 999, False),
    ("other-waits", "us", "eu", 1000, False),
    ("other-still-waits", "us", "eu", 1059, False),
    ("other-takes-over", "us", "eu", 1060, True),
    ("other-never-early", "us", "eu", 999, False),
    ("writer-not-when-ancient", "us", "us", 1001 + FIVE_YEARS, False),
    ("other-not-when-ancient", "us", "eu", 1001 + FIVE_YEARS, False),
]


@pytest.mark.parametrize(
    ("writer", "region", "now", "expected"),
    [pytest.param(w, r, n, e, id=i) for i, w, r, n, e in WHO],
)
def test_which_region_expires(writer: str, region: str, now: float, expected: bool) -> None:
    assert ttl.expires_here(writer, region, 1000, now, 60) is expected


def test_service_identity_and_its_json() -> None:
    record = pb.StreamRecord()
    assert ttl.user_identity_json(record) is None
    assert not ttl.is_expiry(record)
    record.user_identity.CopyFrom(ttl.service_identity())
    assert ttl.is_expiry(record)
    assert ttl.user_identity_json(record) == {
        "type": "Service",
        "principalId": "dynamodb.amazonaws.com",
    }


def test_stream_tail_shows_the_identity_of_an_expiry() -> None:
    record = pb.StreamRecord(event_name=pb.REMOVE, keys=items.from_plain({"pk": "a"}))
    assert "userIdentity" not in render.stream_record_json(record)
    record.user_identity.CopyFrom(ttl.service_identity())
    shown = render.stream_record_json(record)
    assert shown["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
