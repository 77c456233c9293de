"""Changing a table's time to live: the one place that does (UpdateTimeToLive calls it).

`ttl_change` is the change to a table spec; `set_time_to_live` applies it through the
group-wide table catalog (`core.catalog.update_spec`), which carries it to every region. Each
region's sweeper indexes the table's existing items for a new attribute at its next pass.
"""

from __future__ import annotations

from collections.abc import Callable

from meridian.model.items import ItemError
from meridian.pb import node_pb2 as pb
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


def ttl_change(attribute: str, enabled: bool) -> Callable[[pb.TableSpec], None]:
    """The change to a spec that enables time to live on `attribute`, or disables it;
    ItemError (changing nothing) when DynamoDB would refuse it."""

    def change(spec: pb.TableSpec) -> None:
        check_change(spec, attribute, enabled)
        spec.ttl_attribute = attribute if enabled else ""
        if not enabled:
            spec.ttl_hide_expired = False

    return change


def set_time_to_live(core: Core, table: str, attribute: str, enabled: bool) -> pb.TableSpec:
    """Enable time to live on `attribute`, or disable it, in every region of the group (the
    table catalog carries the change); the table's new spec."""
    entry = core.catalog.update_spec(table, ttl_change(attribute, enabled))
    core.store.forget_ttl_index(table)  # re-enabling indexes again what was written meanwhile
    return entry.spec
