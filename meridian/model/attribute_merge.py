"""Per-attribute merge (tables in attribute merge mode). Pure functions, no I/O.

The state of an item is the version of each live attribute (its key attributes included),
attribute tombstones (REMOVE) and the item tombstone (delete, or the replacement a put
makes). Merging two states keeps, for every attribute, its newest entry by version (higher
clock, then region; a removal beats a value of the same version), and drops every entry
older than the newer item tombstone. That is a join: commutative, associative and
idempotent, so regions that saw the same writes in any order hold the same state.

A delete at v removes the attributes older than v; attributes written after v survive and
bring the item back with only those attributes (Cassandra's rule). The item is live while
any attribute is.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from meridian.model.items import ItemError, values_equal
from meridian.pb import node_pb2 as pb

Version = tuple[int, str]  # (hybrid logical clock, region)
NONE: Version = (0, "")


@dataclass(frozen=True)
class State:
    values: Mapping[str, pb.AttributeValue] = field(default_factory=dict)  # live attributes
    clock: Mapping[str, Version] = field(default_factory=dict)  # version of each value
    removed: Mapping[str, Version] = field(default_factory=dict)  # attribute tombstones
    deleted: Version = NONE  # item tombstone

    @property
    def live(self) -> bool:
        return bool(self.clock)

    def newest(self) -> Version:
        """The newest version in the state: the version of the item as a whole."""
        return max((self.deleted, *self.clock.values(), *self.removed.values()))


EMPTY = State()


def merge(a: State, b: State) -> State:
    """The join of two states (see the module docstring)."""
    if not a.clock and not a.removed and a.deleted <= b.deleted:
        return b  # a adds nothing (b is normalized: no entry older than its deletion)
    if not b.clock and not b.removed and b.deleted <= a.deleted:
        return a
    deleted = max(a.deleted, b.deleted)
    values: dict[str, pb.AttributeValue] = {}
    clock: dict[str, Version] = {}
    removed: dict[str, Version] = {}
    for name in {*a.clock, *a.removed, *b.clock, *b.removed}:
        entries = [
            (version, removal, side)
            for side in (a, b)
            for version, removal in (
                (side.clock.get(name), False),
                (side.removed.get(name), True),
            )
            if version is not None
        ]
        version, removal, side = max(entries, key=lambda entry: (entry[0], entry[1]))
        if version < deleted:
            continue
        if removal:
            removed[name] = version
        else:
            clock[name], values[name] = version, side.values[name]
    return State(values, clock, removed, deleted)


@dataclass(frozen=True)
class Loss:
    """What of a write lost to newer entries stored here: its attributes (values and
    removals) by name, and the newest stored version that beat one of them."""

    attributes: tuple[str, ...]
    winner: Version


def losses(stored: State, incoming: State, version: Version) -> Loss | None:
    """The part of the write at `version` (the entries of `incoming` stamped with it) that
    a newer stored entry of the same attribute, or a newer stored item tombstone, overrides;
    None when nothing of it lost. A delete that a newer delete or put superseded loses with no
    attribute named; a delete that newer attributes outlive has not lost (they survive it by
    the merge rule)."""
    winners: list[Version] = []
    names = []
    written = {n for n, v in (*incoming.clock.items(), *incoming.removed.items()) if v == version}
    for name in sorted(written):
        newest = max(stored.clock.get(name, NONE), stored.removed.get(name, NONE), stored.deleted)
        if newest > version:
            names.append(name)
            winners.append(newest)
    if incoming.deleted == version and stored.deleted > version:
        winners.append(stored.deleted)
    if not winners:
        return None
    return Loss(tuple(names), max(winners))


# ---------------------------------------------------------------- what local writes add


def put_delta(item: pb.Item, version: Version) -> State:
    """A put replaces the item: an item tombstone and every given attribute at `version`."""
    names = item.attributes
    return State(dict(names), dict.fromkeys(names, version), {}, version)


def delete_delta(version: Version) -> State:
    return State(deleted=version)


def update_delta(old: pb.Item | None, new: pb.Item, version: Version) -> State:
    """An update stamps the top-level attributes whose value it changes (all of them when it
    creates the item, keys included) and makes a removal of each one it takes away."""
    before = old.attributes if old is not None else {}
    after = new.attributes
    changed = {
        name: value
        for name, value in after.items()
        if name not in before or not values_equal(before[name], value)
    }
    gone = [name for name in before if name not in after]
    return State(changed, dict.fromkeys(changed, version), dict.fromkeys(gone, version))


# ---------------------------------------------------------------- stored form


def _version(v: pb.Version) -> Version:
    return (v.hlc, v.region)


def state_of(attributes: pb.AttributeState, item: pb.Item | None) -> State:
    """The state kept in a StoredItem or StreamRecord: `item` holds the live values."""
    values = item.attributes if item is not None else {}
    clock = {name: _version(v) for name, v in attributes.clock.items()}
    return State(
        {name: values[name] for name in clock},
        clock,
        {name: _version(v) for name, v in attributes.removed.items()},
        _version(attributes.deleted),
    )


def stored_state(stored: pb.StoredItem | None) -> State:
    if stored is None:
        return EMPTY
    return state_of(stored.attributes, None if stored.tombstone else stored.item)


def to_pb(state: State) -> pb.AttributeState:
    out = pb.AttributeState()
    for name, (hlc, region) in state.clock.items():
        out.clock[name].hlc, out.clock[name].region = hlc, region
    for name, (hlc, region) in state.removed.items():
        out.removed[name].hlc, out.removed[name].region = hlc, region
    if state.deleted != NONE:
        out.deleted.hlc, out.deleted.region = state.deleted
    return out


def item_of(state: State, keys: pb.Item) -> pb.Item:
    """The item a live state shows: its key attributes and live values."""
    item = pb.Item()
    item.attributes.MergeFrom(keys.attributes)
    for name, value in state.values.items():
        item.attributes[name].CopyFrom(value)
    return item


def check(
    attributes: pb.AttributeState,
    image: pb.Item | None,
    key_names: Collection[str],
    version: pb.Version,
) -> None:
    """ItemError unless a replicated state is well formed: every live attribute of the image
    has a version and nothing else does, no attribute is both live and removed, no entry is
    older than the item tombstone, and the newest entry is `version`, of the record or entry
    that carries the state (whose clock the caller checks)."""
    names = set(image.attributes) if image is not None else set()
    if image is not None and not attributes.clock:
        raise ItemError("a live image needs attribute versions")
    if set(attributes.clock) - names:
        raise ItemError("attribute versions name attributes the image does not hold")
    if names - set(attributes.clock) - set(key_names):
        raise ItemError("an attribute of the image has no version")
    if set(attributes.clock) & set(attributes.removed):
        raise ItemError("an attribute is both live and removed")
    deleted = _version(attributes.deleted)
    newest = deleted
    for v in (*attributes.clock.values(), *attributes.removed.values()):
        entry = _version(v)
        if not v.region or entry < deleted:
            raise ItemError("an attribute version is older than the item's deletion")
        newest = max(newest, entry)
    if newest != _version(version):
        raise ItemError("the newest attribute version is not the version carrying the state")
