"""Creating a table in a node's store, or accepting one that exists with the same key schema."""

from __future__ import annotations

import time
import uuid

from meridian.model import schema
from meridian.pb import node_pb2 as pb
from meridian.wire import errors
from regionnode.store import Store, Table


def ensure_table(store: Store, spec: pb.TableSpec) -> pb.TableDescription:
    """Create a table, or accept an existing one with the same key schema."""
    if not spec.retention_seconds:
        spec.retention_seconds = schema.DEFAULT_RETENTION_S
    schema.validate_spec(spec)
    existing = store.tables.get(spec.name)
    if existing is not None:
        _check_merge_mode(existing.description.spec, spec)
        if schema.fingerprint(existing.description.spec) != schema.fingerprint(spec):
            raise errors.AlreadyExists(
                f"table {spec.name!r} exists with {schema.describe(existing.description.spec)}, "
                f"not {schema.describe(spec)}"
            )
        if not spec.ttl_attribute:  # the group file leaves time to live as it is
            spec.ttl_attribute = existing.description.spec.ttl_attribute
            spec.ttl_hide_expired = existing.description.spec.ttl_hide_expired
        if (
            existing.description.spec.retention_seconds != spec.retention_seconds
            or (existing.description.spec.view_type != spec.view_type)
            or _ttl_of(existing.description.spec) != _ttl_of(spec)
        ):
            existing.description.spec.CopyFrom(spec)
            store.put_table(existing)
        return existing.description
    desc = pb.TableDescription(
        spec=spec,
        stream_id=uuid.uuid4().hex,
        created_ms=int(time.time() * 1000),
        schema_fingerprint=schema.fingerprint(spec),
    )
    store.put_table(Table(schema.Schema(spec), desc))
    return desc


def _ttl_of(spec: pb.TableSpec) -> tuple[str, bool]:
    return spec.ttl_attribute, spec.ttl_hide_expired


MERGE_NAMES = {pb.MERGE_MODE_ITEM: "item", pb.MERGE_MODE_ATTRIBUTE: "attribute"}


def _check_merge_mode(existing: pb.TableSpec, wanted: pb.TableSpec) -> None:
    """A table's merge mode is fixed at creation: its stored items carry the versions of one
    mode only."""
    if existing.merge != wanted.merge:
        raise errors.AlreadyExists(
            f"table {wanted.name!r} exists with merge mode "
            f"{MERGE_NAMES.get(existing.merge, existing.merge)}, not "
            f"{MERGE_NAMES.get(wanted.merge, wanted.merge)} (a table's merge mode never changes)"
        )
