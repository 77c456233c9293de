"""Table key schemas (meridian.model.schema): spec validation, fingerprints, key extraction."""

from __future__ import annotations

import pytest

from meridian.model.items import ItemError
from meridian.model.schema import Schema, fingerprint, validate_spec
from meridian.pb import node_pb2 as pb

S, N, B = pb.KEY_TYPE_S, pb.KEY_TYPE_N, pb.KEY_TYPE_B


def make_spec(
    name: str = "orders",
    pk: tuple[str, int] = ("pk", S),
    sk: tuple[str, int] | None = ("sk", N),
    view_type: int = pb.NEW_AND_OLD_IMAGES,
    retention_seconds: int = 0,
    merge: int = pb.MERGE_MODE_ITEM,
) -> pb.TableSpec:
    spec = pb.TableSpec(
        name=name,
        partition_key=pb.KeyAttribute(name=pk[0], type=pk[1]),
        view_type=view_type,
        retention_seconds=retention_seconds,
        merge=merge,
    )
    if sk is not None:
        spec.sort_key.CopyFrom(pb.KeyAttribute(name=sk[0], type=sk[1]))
    return spec


# ---------------------------------------------------------------- validate_spec


@pytest.mark.parametrize(
    ("case", "spec", "message"),
    [
        ("name too short", make_spec(name="ab"), "table name 'ab'"),
        ("name empty", make_spec(name=""), "table name ''"),
        ("name with a space", make_spec(name="my table"), "table name 'my table'"),
        ("name with a slash", make_spec(name="a/b/c"), "table name 'a/b/c'"),
        ("name too long", make_spec(name="t" * 256), "expected 3-255"),
        ("name with a trailing newline", make_spec(name="orders\n"), "table name"),
        ("partition key name missing", make_spec(pk=("", S)), "partition_key.name: required"),
        (
            "partition key type missing",
            make_spec(pk=("pk", 0)),
            "partition_key.type: expected S, N or B",
        ),
        ("partition key type unknown", make_spec(pk=("pk", 9)), "partition_key.type"),
        ("sort key type missing", make_spec(sk=("sk", 0)), "sort_key.type: expected S, N or B"),
        ("same pk and sk name", make_spec(sk=("pk", S)), "sort_key.name: must differ"),
        ("view type missing", make_spec(view_type=0), "view_type: expected KEYS_ONLY"),
        ("view type unknown", make_spec(view_type=17), "view_type"),
        ("merge mode unknown", make_spec(merge=5), "merge: expected MERGE_MODE_ITEM"),
    ],
)
def test_validate_spec_refuses(case: str, spec: pb.TableSpec, message: str) -> None:
    with pytest.raises(ItemError, match=message):
        validate_spec(spec)


@pytest.mark.parametrize(
    "spec",
    [
        make_spec(),
        make_spec(sk=None),
        make_spec(name="a.b-c_9", pk=("id", B), sk=("ts", S), view_type=pb.KEYS_ONLY),
        make_spec(name="t" * 255, view_type=pb.OLD_IMAGE),
        make_spec(pk=("pk", N), sk=("sk", B), view_type=pb.NEW_IMAGE),
    ],
)
def test_validate_spec_accepts(spec: pb.TableSpec) -> None:
    validate_spec(spec)


# ---------------------------------------------------------------- fingerprint


def test_fingerprint_is_stable_for_the_same_key_schema() -> None:
    assert fingerprint(make_spec()) == fingerprint(make_spec())
    # stream settings are not part of the key schema
    assert fingerprint(make_spec()) == fingerprint(
        make_spec(view_type=pb.KEYS_ONLY, retention_seconds=60)
    )


@pytest.mark.parametrize(
    ("case", "other"),
    [
        ("partition key type", make_spec(pk=("pk", N))),
        ("partition key name", make_spec(pk=("id", S))),
        ("sort key type", make_spec(sk=("sk", S))),
        ("sort key name", make_spec(sk=("ts", N))),
        ("sort key removed", make_spec(sk=None)),
        ("table name", make_spec(name="orders2")),
        ("merge mode", make_spec(merge=pb.MERGE_MODE_ATTRIBUTE)),
    ],
)
def test_fingerprint_changes_with_the_key_schema(case: str, other: pb.TableSpec) -> None:
    assert fingerprint(other) != fingerprint(make_spec()), case


def test_fingerprint_distinguishes_keys_that_concatenate_alike() -> None:
    a = make_spec(pk=("ab", S), sk=("c", S))
    b = make_spec(pk=("a", S), sk=("bc", S))
    assert fingerprint(a) != fingerprint(b)


# ---------------------------------------------------------------- key_of / check_key


SCHEMA = Schema(make_spec(pk=("pk", S), sk=("sk", N)))
BIN_SCHEMA = Schema(make_spec(pk=("pk", B), sk=None))


def item(**attributes: pb.AttributeValue) -> pb.Item:
    return pb.Item(attributes=attributes)


def sv(text: str) -> pb.AttributeValue:
    return pb.AttributeValue(s=text)


def nv(text: str) -> pb.AttributeValue:
    return pb.AttributeValue(n=text)


@pytest.mark.parametrize(
    ("case", "schema", "value", "message"),
    [
        ("partition key missing", SCHEMA, item(sk=nv("1")), "'pk': missing"),
        ("sort key missing", SCHEMA, item(pk=sv("a")), "'sk': missing"),
        (
            "partition key of the wrong type",
            SCHEMA,
            item(pk=nv("1"), sk=nv("1")),
            "'pk'.*expected type S, got N",
        ),
        (
            "sort key of the wrong type",
            SCHEMA,
            item(pk=sv("a"), sk=sv("1")),
            "'sk'.*expected type N, got S",
        ),
        ("empty string key", SCHEMA, item(pk=sv(""), sk=nv("1")), "'pk'.*must not be empty"),
        (
            "empty binary key",
            BIN_SCHEMA,
            item(pk=pb.AttributeValue(b=b"")),
            "'pk'.*must not be empty",
        ),
        ("key with no type", SCHEMA, item(pk=pb.AttributeValue(), sk=nv("1")), "'pk'.*got no type"),
        ("bool key", SCHEMA, item(pk=pb.AttributeValue(bool=True), sk=nv("1")), "'pk'.*got BOOL"),
        (
            "partition key too long",
            SCHEMA,
            item(pk=sv("x" * 2049), sk=nv("1")),
            "2049 bytes exceeds the 2048",
        ),
    ],
)
def test_key_of_refuses(case: str, schema: Schema, value: pb.Item, message: str) -> None:
    with pytest.raises(ItemError, match=message):
        schema.key_of(value)
    with pytest.raises(ItemError, match=message):
        schema.storage_key(value)


@pytest.mark.parametrize(
    "value",
    [
        item(pk=sv("a"), sk=nv("2"), name=sv("x")),
        item(pk=sv("a\x00b"), sk=nv("-0.0012")),
        item(pk=sv("é"), sk=nv("1E+30")),
        item(pk=sv("z"), sk=nv("1.50")),
    ],
)
def test_storage_key_is_the_encoding_of_the_key_attributes(value: pb.Item) -> None:
    assert SCHEMA.storage_key(value) == SCHEMA.encode(SCHEMA.key_of(value))
    assert SCHEMA.extract(value) == (SCHEMA.storage_key(value), SCHEMA.key_of(value))


def test_sort_key_limit_is_1024_bytes() -> None:
    schema = Schema(make_spec(sk=("sk", S)))
    schema.key_of(item(pk=sv("a"), sk=sv("x" * 1024)))
    with pytest.raises(ItemError, match="1025 bytes exceeds the 1024-byte limit"):
        schema.key_of(item(pk=sv("a"), sk=sv("x" * 1025)))


def test_partition_key_limit_counts_utf8_bytes() -> None:
    SCHEMA.key_of(item(pk=sv("é" * 1024), sk=nv("1")))  # 2048 bytes
    with pytest.raises(ItemError, match="2050 bytes"):
        SCHEMA.key_of(item(pk=sv("é" * 1025), sk=nv("1")))


def test_key_of_keeps_only_the_key_attributes() -> None:
    full = item(pk=sv("a"), sk=nv("2"), name=sv("x"), n=nv("9"))
    assert SCHEMA.key_of(full) == item(pk=sv("a"), sk=nv("2"))


def test_check_key_refuses_extra_attributes() -> None:
    with pytest.raises(ItemError, match="'name': not part of the key schema"):
        SCHEMA.check_key(item(pk=sv("a"), sk=nv("2"), name=sv("x")))
    key = item(pk=sv("a"), sk=nv("2"))
    assert SCHEMA.check_key(key) == (SCHEMA.encode(key), key)


def test_check_key_still_refuses_missing_keys() -> None:
    with pytest.raises(ItemError, match="'sk': missing"):
        SCHEMA.check_key(item(pk=sv("a")))


def test_encode_orders_by_partition_then_sort_key() -> None:
    rows = [("a", "-1"), ("a", "2"), ("a", "10"), ("ab", "-5"), ("b", "0")]
    encoded = [SCHEMA.encode(item(pk=sv(p), sk=nv(s))) for p, s in rows]
    assert encoded == sorted(encoded)
    assert all(e.startswith(b"iorders\x00") for e in encoded)
    other_table = Schema(make_spec(name="orders2"))
    assert not other_table.encode(item(pk=sv("a"), sk=nv("1"))).startswith(SCHEMA.prefix)


def test_partition_prefix_starts_every_key_of_that_partition() -> None:
    prefix = SCHEMA.partition_prefix(sv("a"))
    assert SCHEMA.encode(item(pk=sv("a"), sk=nv("5"))).startswith(prefix)
    assert not SCHEMA.encode(item(pk=sv("ab"), sk=nv("5"))).startswith(prefix)
    with pytest.raises(ItemError, match="expected type S"):
        SCHEMA.partition_prefix(nv("1"))
