"""Table key schemas: validating specs, extracting and encoding primary keys."""

from __future__ import annotations

import hashlib
import re

from meridian.model import keys
from meridian.model.items import ItemError
from meridian.pb import node_pb2 as pb

TYPE_NAMES = {pb.KEY_TYPE_S: "S", pb.KEY_TYPE_N: "N", pb.KEY_TYPE_B: "B"}
TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024
DEFAULT_RETENTION_S = 24 * 3600


def validate_spec(spec: pb.TableSpec) -> None:
    """Refuse a table spec that cannot describe a table; the message names the field."""
    if not TABLE_NAME.fullmatch(spec.name):
        raise ItemError(f"table name {spec.name!r}: expected 3-255 of A-Z a-z 0-9 _ . -")
    if not spec.partition_key.name:
        raise ItemError("partition_key.name: required")
    if spec.partition_key.type not in TYPE_NAMES:
        raise ItemError("partition_key.type: expected S, N or B")
    if spec.sort_key.name:
        if spec.sort_key.type not in TYPE_NAMES:
            raise ItemError("sort_key.type: expected S, N or B")
        if spec.sort_key.name == spec.partition_key.name:
            raise ItemError("sort_key.name: must differ from the partition key")
    if spec.view_type not in pb.StreamViewType.values() or spec.view_type == 0:
        raise ItemError("view_type: expected KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES")
    if spec.merge not in pb.MergeMode.values():
        raise ItemError("merge: expected MERGE_MODE_ITEM or MERGE_MODE_ATTRIBUTE")


def fingerprint(spec: pb.TableSpec) -> str:
    """Identifies a key schema and merge mode: tables replicate only between identical
    fingerprints."""
    pk, sk = spec.partition_key, spec.sort_key
    text = f"{spec.name}|{pk.name}:{TYPE_NAMES.get(pk.type, '?')}|"
    if sk.name:
        text += f"{sk.name}:{TYPE_NAMES.get(sk.type, '?')}"
    if spec.merge == pb.MERGE_MODE_ATTRIBUTE:  # item-mode fingerprints stay as they were
        text += "|merge=attribute"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def describe(spec: pb.TableSpec) -> str:
    pk, sk = spec.partition_key, spec.sort_key
    text = f"partition key {pk.name} ({TYPE_NAMES.get(pk.type, '?')})"
    if sk.name:
        text += f", sort key {sk.name} ({TYPE_NAMES.get(sk.type, '?')})"
    return text


class Schema:
    """A table's key schema with fast key extraction and order-preserving encoding."""

    def __init__(self, spec: pb.TableSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.pk_name = spec.partition_key.name
        self.pk_type = spec.partition_key.type
        self.sk_name = spec.sort_key.name or None
        self.sk_type = spec.sort_key.type
        self.key_names = {self.pk_name} | ({self.sk_name} if self.sk_name else set())
        self.prefix = b"i" + spec.name.encode() + b"\x00"
        self._parts = [(self.pk_name, self.pk_type, MAX_PARTITION_KEY_BYTES)]
        if self.sk_name:
            self._parts.append((self.sk_name, self.sk_type, MAX_SORT_KEY_BYTES))

    def key_of(self, item: pb.Item) -> pb.Item:
        """The key attributes of an item; ItemError when one is missing or of the wrong type."""
        return self.extract(item)[1]

    def extract(self, item: pb.Item) -> tuple[bytes, pb.Item]:
        """The storage key of an item and a copy of its key attributes (checked as key_of)."""
        key = pb.Item()
        attributes = item.attributes
        out = self.storage_key(item)
        for name, _, _ in self._parts:
            key.attributes[name].CopyFrom(attributes[name])
        return out, key

    def storage_key(self, item: pb.Item) -> bytes:
        """encode(key_of(item)), with the same errors, without copying the key attributes."""
        attributes = item.attributes
        out = self.prefix
        for name, key_type, limit in self._parts:
            if name not in attributes:
                raise ItemError(f"key attribute {name!r}: missing")
            out += keys.encode_checked(key_type, attributes[name], name, limit)
        return out

    def check_key(self, key: pb.Item) -> tuple[bytes, pb.Item]:
        """extract() of a key given on its own, which must hold exactly the key attributes."""
        extra = sorted(set(key.attributes) - self.key_names)
        if extra:
            raise ItemError(f"key attribute {extra[0]!r}: not part of the key schema")
        return self.extract(key)

    def encode(self, key: pb.Item) -> bytes:
        """Storage key of an item: table prefix, partition key, then sort key."""
        out = self.prefix + keys.encode_component(
            self.pk_type, key.attributes[self.pk_name], self.pk_name
        )
        if self.sk_name:
            out += keys.encode_component(self.sk_type, key.attributes[self.sk_name], self.sk_name)
        return out

    def partition_prefix(self, value: pb.AttributeValue) -> bytes:
        keys.check_type(self.pk_type, value, self.pk_name, MAX_PARTITION_KEY_BYTES)
        return self.prefix + keys.encode_component(self.pk_type, value, self.pk_name)
