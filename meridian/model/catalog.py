"""The group-wide table catalog's decisions, as pure functions.

Every region holds one entry per table name (a `TableDescription` with its catalog fields).
Regions exchange entries and keep, per name, the better of the two by one total order
(`better`), so merging is commutative, associative and idempotent and every region ends
with the same entry whatever order the entries arrive in:
  1. a higher generation wins (a delete then create starts generation + 1);
  2. within a generation, the earlier CreateTable wins (creation version, then key-schema
     fingerprint): a concurrent CreateTable of the same name elsewhere loses wholesale;
  3. within one creation, a delete wins over the live table (a delete ends an incarnation);
  4. then the last writer wins (entry version, then the bytes, so ties cannot split).
A table's incarnation is (generation, fingerprint): the local table exists for one
incarnation, and records of another never land in it.
"""

from __future__ import annotations

import enum

from meridian.model import schema
from meridian.pb import node_pb2 as pb

ACTIVE = pb.TABLE_STATE_ACTIVE
DELETED = pb.TABLE_STATE_DELETED


def fingerprint(entry: pb.TableDescription) -> str:
    return entry.schema_fingerprint or schema.fingerprint(entry.spec)


def incarnation(entry: pb.TableDescription) -> str:
    """Which table this is: records replicate only between equal incarnations. The first
    generation is the bare fingerprint, as handshakes named tables before the catalog, so
    regions of both versions still agree on the tables they share."""
    if not entry.generation:
        return fingerprint(entry)
    return f"{entry.generation}:{fingerprint(entry)}"


def _creation(entry: pb.TableDescription) -> tuple[int, str, str]:
    return entry.created.hlc, entry.created.region, fingerprint(entry)


def better(a: pb.TableDescription, b: pb.TableDescription) -> bool:
    """Whether `a` wins over `b` (same name); a total order, see the module docstring."""
    if a.generation != b.generation:
        return a.generation > b.generation
    if _creation(a) != _creation(b):
        return _creation(a) < _creation(b)
    if a.state != b.state:
        return a.state == DELETED
    if (a.version.hlc, a.version.region) != (b.version.hlc, b.version.region):
        return (a.version.hlc, a.version.region) > (b.version.hlc, b.version.region)
    return a.SerializeToString(deterministic=True) >= b.SerializeToString(deterministic=True)


def merge(a: pb.TableDescription | None, b: pb.TableDescription | None) -> pb.TableDescription:
    """The entry a region keeps given two for the same name (None: none held)."""
    if a is None or b is None:
        out = a if b is None else b
        assert out is not None, "merge needs at least one entry"
        return out
    return a if better(a, b) else b


class Action(enum.Enum):
    """What a node does to its own copy of a table to match the catalog."""

    KEEP = "keep"  # nothing to do
    CREATE = "create"  # no local table: create it (empty; replication fills it)
    UPDATE = "update"  # same incarnation, other settings or tags: rewrite the description
    DROP = "drop"  # the table was deleted group-wide
    REPLACE = "replace"  # a newer generation: drop the old table, create the new one
    SET_ASIDE = "set_aside"  # another CreateTable of the name won: keep this data aside


def action(entry: pb.TableDescription | None, local: pb.TableDescription | None) -> Action:
    """How the local table (None: none) must change to match the catalog entry."""
    if entry is None or entry.state == DELETED:
        return Action.KEEP if local is None else Action.DROP
    if local is None:
        return Action.CREATE
    if incarnation(local) == incarnation(entry):
        return Action.KEEP if _settings(local) == _settings(entry) else Action.UPDATE
    if local.generation == entry.generation:
        return Action.SET_ASIDE
    return Action.REPLACE


def _settings(entry: pb.TableDescription) -> tuple[bytes, bytes]:
    """What an UPDATE copies from the entry: the spec and the catalog fields."""
    view = pb.TableDescription()
    view.CopyFrom(entry)
    spec = view.spec.SerializeToString(deterministic=True)
    for name in ("spec", "approximate_item_count", "stream_id", "created_ms"):
        view.ClearField(name)
    return spec, view.SerializeToString(deterministic=True)


def set_aside_name(name: str, local: pb.TableDescription) -> str:
    """Where the data of a losing incarnation is kept: the same name in every region that
    held it, so their copies replicate together."""
    return f"{name}.aside-{local.generation}-{fingerprint(local)[:8]}"


def declared(entry: pb.TableDescription) -> bool:
    """Whether the entry is a group file's declaration (never created at runtime)."""
    return entry.generation == 0 and not entry.created.hlc and not entry.created.region


def contested(mine: pb.TableDescription, theirs: pb.TableDescription) -> bool:
    """Two group files declare the table with different key schemas: a configuration
    error that no region settles alone. Each keeps its own; links leave the table out and
    report it until the files agree (the others tables keep flowing)."""
    return (
        declared(mine)
        and declared(theirs)
        and mine.state == theirs.state == ACTIVE
        and fingerprint(mine) != fingerprint(theirs)
    )


def first_entry(spec: pb.TableSpec) -> pb.TableDescription:
    """The entry of a table declared in the group file: generation 0 and the lowest
    versions, identical in every region, so every region seeding it agrees at once."""
    return pb.TableDescription(spec=spec, schema_fingerprint=schema.fingerprint(spec))


DECLARED_SETTINGS = ("view_type", "retention_seconds")  # what the group file sets beyond keys
DECLARED_TTL = ("ttl_attribute", "ttl_hide_expired")  # only when the file sets time to live


def declared_change(spec: pb.TableSpec, entry: pb.TableDescription) -> pb.TableDescription | None:
    """The entry with the group file's settings when they changed since (None: same), so an
    edited file takes effect at the next start. Only the settings the file sets are taken:
    those changed at runtime by other means (UpdateTable, UpdateTimeToLive) stay, and a file
    without `ttl` leaves time to live as it is."""
    fields = DECLARED_SETTINGS + (DECLARED_TTL if spec.ttl_attribute else ())
    if all(getattr(spec, f) == getattr(entry.spec, f) for f in fields):
        return None
    out = pb.TableDescription()
    out.CopyFrom(entry)
    for name in fields:
        setattr(out.spec, name, getattr(spec, name))
    return out


class Mismatch(Exception):
    """The group file declares a table that the catalog holds with another key schema."""


MERGE_NAMES = {pb.MERGE_MODE_ITEM: "item", pb.MERGE_MODE_ATTRIBUTE: "attribute"}


def check_declared(spec: pb.TableSpec, entry: pb.TableDescription | None) -> None:
    """Refuse a declared table whose live catalog entry has another key schema or merge
    mode (the stored items carry the versions of one mode only)."""
    if entry is None or entry.state == DELETED:
        return
    if schema.describe(entry.spec) == schema.describe(spec) and entry.spec.merge != spec.merge:
        held, wanted = MERGE_NAMES[entry.spec.merge], MERGE_NAMES[spec.merge]
        raise Mismatch(
            f"table {spec.name!r} exists with merge mode {held}, not {wanted} (a table's "
            f"merge mode never changes): declare it with merge mode {held}, or delete the "
            f"table (DeleteTable) and remove it from the file before declaring it anew"
        )
    if fingerprint(entry) != schema.fingerprint(spec):
        raise Mismatch(
            f"table {spec.name!r} is declared in the group file with "
            f"{schema.describe(spec)}, but the group's catalog holds it with "
            f"{schema.describe(entry.spec)}; declare it with that key schema, or delete the "
            f"table (DeleteTable) and remove it from the file before declaring it anew"
        )
