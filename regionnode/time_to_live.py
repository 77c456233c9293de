"""Changing a table's time to live: the one place that does (UpdateTimeToLive calls it).

It changes this node's table spec; the sweeper indexes the table's existing items for the
new attribute at its next pass. Until the group-wide table catalog carries the change to
every region, each region's setting is its own.
"""

from __future__ import annotations

from meridian.model.items import ItemError
from meridian.pb import node_pb2 as pb
from meridian.wire.errors import NotFound
from regionnode.rpc import Core


def check_change(spec: pb.TableSpec, attribute: str, enabled: bool) -> None:
    """Refuse what DynamoDB refuses: enabling when enabled, disabling when disabled or
    under another attribute name (to change the attribute, disable, then enable)."""
    if not 1 <= len(attribute) <= 255:
        raise ItemError("TimeToLiveSpecification.AttributeName: expected 1 to 255 characters")
    current = spec.ttl_attribute
    if enabled and current:
        raise ItemError("TimeToLive is already enabled")
    if not enabled and not current:
        raise ItemError("TimeToLive is already disabled")
    if not enabled and current != attribute:
        raise ItemError(
            f"TimeToLive is active on a different AttributeName: current AttributeName is {current}"
        )


def set_time_to_live(core: Core, table: str, attribute: str, enabled: bool) -> pb.TableSpec:
    """Enable time to live on `attribute`, or disable it; the table's new spec."""
    found = core.store.tables.get(table)
    if found is None:
        raise NotFound(f"table {table!r} does not exist")
    spec = found.description.spec
    check_change(spec, attribute, enabled)
    spec.ttl_attribute = attribute if enabled else ""
    if not enabled:
        spec.ttl_hide_expired = False
    core.store.put_table(found)
    core.store.forget_ttl_index(table)  # items written from now on are not indexed
    return spec
