"""Time to live: when an item expires, and which region expires it. Pure functions.

As in DynamoDB, a table's TTL attribute holds a Number of epoch seconds; an item without
it, or whose value is not a Number, never expires. An item expires once that time is at
or before now, unless it is more than five years before now (DynamoDB's guard against values
that are not expiry times, such as counters).

It happens once: the region whose version the item carries (the region of its last write)
expires it as soon as it is due; any other region waits `takeover_s` more, so that normally
one expiry, one tombstone and one REMOVE record reach every region. If that region is down
for longer, the others expire it too; their tombstones meet under last-writer-wins, and a
replicated expiry of an item already deleted writes no second stream record.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from meridian.pb import node_pb2 as pb

SERVICE_TYPE = "Service"
SERVICE_PRINCIPAL = "dynamodb.amazonaws.com"
MAX_EXPIRY_S = (1 << 63) - 1  # index keys hold 8 bytes; later times never come
MAX_AGE_S = 5 * 365 * 86400  # expiry times further in the past are not taken as such


def expiry_of(item: pb.Item, attribute: str) -> int | None:
    """The item's expiry time in whole epoch seconds (a fraction rounds up: the item is
    not expired before the exact time), or None when it never expires."""
    if not attribute:
        return None
    value = item.attributes.get(attribute)
    if value is None or value.WhichOneof("value") != "n":
        return None
    try:
        seconds = Decimal(value.n)
    except InvalidOperation:
        return None
    if not seconds.is_finite():
        return None
    return min(max(0, math.ceil(seconds)), MAX_EXPIRY_S)


def is_expired(item: pb.Item, attribute: str, now_s: float) -> bool:
    """Whether the item's TTL attribute says it has expired at `now_s`."""
    expiry = expiry_of(item, attribute)
    return expiry is not None and expiry <= now_s and not too_old(expiry, now_s)


def too_old(expiry_s: int, now_s: float) -> bool:
    """Whether an expiry time lies so far in the past that it is not one: never expired."""
    return expiry_s < now_s - MAX_AGE_S


def expires_here(
    writer_region: str, region: str, expiry_s: int, now_s: float, takeover_s: int
) -> bool:
    """Whether `region` expires, at `now_s`, an item due at `expiry_s` whose version was
    written by `writer_region`: that region at once, the others after `takeover_s`."""
    if expiry_s > now_s or too_old(expiry_s, now_s):
        return False
    return writer_region == region or expiry_s + takeover_s <= now_s


def service_identity() -> pb.UserIdentity:
    """The identity that expiry deletes carry in their stream records, as DynamoDB's do."""
    return pb.UserIdentity(type=SERVICE_TYPE, principal_id=SERVICE_PRINCIPAL)


def is_expiry(record: pb.StreamRecord | pb.ReplicatedRecord) -> bool:
    identity = record.user_identity
    return identity.type == SERVICE_TYPE and identity.principal_id == SERVICE_PRINCIPAL


def user_identity_json(record: pb.StreamRecord) -> dict[str, str] | None:
    """The record's `userIdentity` as DynamoDB Streams shows it, or None when it has none."""
    if not record.HasField("user_identity"):
        return None
    identity = record.user_identity
    return {"type": identity.type, "principalId": identity.principal_id}
