"""The catalog's decisions (meridian.model.catalog): merging entries and what a node does to
its own table."""

from __future__ import annotations

import itertools

import pytest

from meridian.model import catalog
from meridian.model import schema as schema_model
from meridian.model.catalog import ACTIVE, DELETED, Action
from meridian.pb import node_pb2 as pb


def spec(pk_type: int = pb.KEY_TYPE_S, view: int = pb.NEW_AND_OLD_IMAGES) -> pb.TableSpec:
    return pb.TableSpec(
        name="carts",
        partition_key=pb.KeyAttribute(name="id", type=pk_type),
        view_type=view,
        retention_seconds=86400,
    )


def entry(
    *,
    gen: int = 0,
    created: tuple[int, str] = (10, "us"),
    version: tuple[int, str] | None = None,
    state: int = ACTIVE,
    pk_type: int = pb.KEY_TYPE_S,
    tags: dict[str, str] | None = None,
) -> pb.TableDescription:
    s = spec(pk_type)
    return pb.TableDescription(
        spec=s,
        schema_fingerprint=schema_model.fingerprint(s),
        generation=gen,
        created=pb.Version(hlc=created[0], region=created[1]),
        version=pb.Version(hlc=(version or created)[0], region=(version or created)[1]),
        state=state,
        tags=tags or {},
    )


CREATED_US = entry()
CREATED_EU_SAME = entry(created=(12, "eu"))
CREATED_EU_OTHER = entry(created=(12, "eu"), pk_type=pb.KEY_TYPE_N)
TAGGED = entry(version=(20, "ap"), tags={"team": "a"})
RETAGGED = entry(version=(21, "eu"), tags={"team": "b"})
DELETED_US = entry(version=(15, "us"), state=DELETED)
RECREATED = entry(gen=1, created=(30, "ap"), pk_type=pb.KEY_TYPE_N)


@pytest.mark.parametrize(
    ("case", "a", "b", "winner"),
    [
        ("same schema, concurrent: the earlier create", CREATED_US, CREATED_EU_SAME, CREATED_US),
        ("other schema, concurrent: the earlier create", CREATED_US, CREATED_EU_OTHER, CREATED_US),
        ("update after create: the last writer", CREATED_US, TAGGED, TAGGED),
        ("two updates: the last writer", TAGGED, RETAGGED, RETAGGED),
        ("delete vs a later update: the delete", RETAGGED, DELETED_US, DELETED_US),
        ("delete vs create: the delete", CREATED_US, DELETED_US, DELETED_US),
        ("re-create after delete: the new generation", DELETED_US, RECREATED, RECREATED),
        ("re-create vs an update of the old one", RETAGGED, RECREATED, RECREATED),
        (
            "a later create of another schema loses even when updated",
            entry(created=(12, "eu"), version=(50, "eu"), pk_type=pb.KEY_TYPE_N),
            CREATED_US,
            CREATED_US,
        ),
        ("same time: the region breaks the tie", entry(created=(10, "eu")), CREATED_US, None),
    ],
)
def test_merge_picks_one_winner_whatever_the_order(
    case: str, a: pb.TableDescription, b: pb.TableDescription, winner: pb.TableDescription | None
) -> None:
    expected = winner or entry(created=(10, "eu"))
    assert catalog.merge(a, b) == expected, case
    assert catalog.merge(b, a) == expected, case  # commutative
    assert catalog.merge(a, a) == a  # idempotent
    assert catalog.merge(None, a) == a


ALL = [CREATED_US, CREATED_EU_SAME, CREATED_EU_OTHER, TAGGED, RETAGGED, DELETED_US, RECREATED]


def test_merge_is_associative_so_every_arrival_order_converges() -> None:
    for a, b, c in itertools.product(ALL, repeat=3):
        assert catalog.merge(catalog.merge(a, b), c) == catalog.merge(a, catalog.merge(b, c))
    for order in itertools.permutations(ALL):
        held = None
        for e in order:
            held = catalog.merge(held, e)
        assert held == RECREATED


LOCAL_US = CREATED_US
LOCAL_OTHER = CREATED_EU_OTHER


@pytest.mark.parametrize(
    ("case", "wanted", "local", "expected"),
    [
        ("no entry, no table", None, None, Action.KEEP),
        ("new table", CREATED_US, None, Action.CREATE),
        ("same incarnation", CREATED_US, LOCAL_US, Action.KEEP),
        ("same schema created elsewhere first", CREATED_EU_SAME, LOCAL_US, Action.UPDATE),
        ("tags changed", TAGGED, LOCAL_US, Action.UPDATE),
        ("deleted", DELETED_US, LOCAL_US, Action.DROP),
        ("deleted, never held", DELETED_US, None, Action.KEEP),
        ("re-created", RECREATED, LOCAL_US, Action.REPLACE),
        ("another schema won", CREATED_US, LOCAL_OTHER, Action.SET_ASIDE),
    ],
)
def test_action_on_the_local_table(
    case: str, wanted: pb.TableDescription | None, local: pb.TableDescription | None, expected
) -> None:
    assert catalog.action(wanted, local) is expected, case


def test_incarnation_names_generation_and_key_schema() -> None:
    assert catalog.incarnation(CREATED_US) == catalog.incarnation(CREATED_EU_SAME)
    assert catalog.incarnation(CREATED_US) != catalog.incarnation(CREATED_EU_OTHER)
    assert catalog.incarnation(RECREATED).startswith("1:")
    # generation 0 is the bare fingerprint: what handshakes named before the catalog
    assert catalog.incarnation(CREATED_US) == CREATED_US.schema_fingerprint


def test_declared_tables_agree_everywhere_and_contest_only_other_schemas() -> None:
    declared = catalog.first_entry(spec())
    assert catalog.merge(declared, catalog.first_entry(spec())) == declared
    assert catalog.contested(declared, catalog.first_entry(spec(pb.KEY_TYPE_N)))
    assert not catalog.contested(declared, CREATED_EU_OTHER)  # a runtime create: merged


@pytest.mark.parametrize(
    ("case", "held", "refused"),
    [
        ("absent", None, False),
        ("same key schema, other settings", entry(), False),
        ("deleted", entry(state=DELETED, pk_type=pb.KEY_TYPE_N), False),
        ("other key schema", entry(pk_type=pb.KEY_TYPE_N), True),
    ],
)
def test_a_declaration_must_match_the_catalog(
    case: str, held: pb.TableDescription | None, refused: bool
) -> None:
    declared = spec(view=pb.KEYS_ONLY)
    if not refused:
        catalog.check_declared(declared, held)
        return
    with pytest.raises(catalog.Mismatch) as info:
        catalog.check_declared(declared, held)
    assert "partition key id (S)" in str(info.value) and "partition key id (N)" in str(info.value)


def test_a_changed_declaration_takes_only_the_settings_the_file_sets() -> None:
    held = entry(tags={"team": "a"})
    held.spec.view_type = pb.NEW_IMAGE
    assert catalog.declared_change(spec(view=pb.NEW_IMAGE), held) is None
    changed = catalog.declared_change(spec(view=pb.KEYS_ONLY), held)
    assert changed is not None
    assert changed.spec.view_type == pb.KEYS_ONLY and changed.tags == {"team": "a"}
    assert held.spec.view_type == pb.NEW_IMAGE  # the held entry is left as it was
