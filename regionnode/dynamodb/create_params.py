"""CreateTable's and UpdateTable's parameters, checked as DynamoDB checks them (pure).

The key schema, stream and tags become a catalog entry; BillingMode and ProvisionedThroughput
are accepted and checked but mean nothing here (no capacity to provision); indexes are
refused until they exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meridian.pb import node_pb2 as pb
from regionnode.dynamodb import params as p
from regionnode.dynamodb.errors import INVALID, serialization, validation

Body = dict[str, Any]
KEY_TYPES = {"S": pb.KEY_TYPE_S, "N": pb.KEY_TYPE_N, "B": pb.KEY_TYPE_B}
VIEW_TYPES = {
    "KEYS_ONLY": pb.KEYS_ONLY,
    "NEW_IMAGE": pb.NEW_IMAGE,
    "OLD_IMAGE": pb.OLD_IMAGE,
    "NEW_AND_OLD_IMAGES": pb.NEW_AND_OLD_IMAGES,
}
MAX_TAGS = 50


@dataclass
class NewTable:
    spec: pb.TableSpec
    tags: dict[str, str] = field(default_factory=dict)
    stream_enabled: bool = True


def create_table(body: Body) -> NewTable:
    """The table a CreateTable request asks for; ValidationException naming what is wrong."""
    name = p.table_name(body)
    for index in ("LocalSecondaryIndexes", "GlobalSecondaryIndexes"):
        p.refuse(body, index, "secondary indexes are not supported yet")
    no_deletion_protection(body)
    types = _attribute_definitions(body)
    hash_key, range_key = _key_schema(body)
    keys = [hash_key] + ([range_key] if range_key else [])
    undefined = [k for k in keys if k not in types]
    if undefined:
        raise validation(
            INVALID + "Some index key attributes are not defined in AttributeDefinitions. "
            f"Keys: [{', '.join(undefined)}], AttributeDefinitions: [{', '.join(types)}]"
        )
    if len(types) != len(keys):
        raise validation(
            INVALID + "Number of attributes in KeySchema does not exactly match number of "
            "attributes defined in AttributeDefinitions"
        )
    _billing(body)
    spec = pb.TableSpec(name=name)
    spec.partition_key.name, spec.partition_key.type = hash_key, KEY_TYPES[types[hash_key]]
    if range_key:
        spec.sort_key.name, spec.sort_key.type = range_key, KEY_TYPES[types[range_key]]
    enabled, view = stream_specification(body)
    spec.view_type = view or pb.NEW_AND_OLD_IMAGES
    return NewTable(spec, tags(body, "Tags", required=False), enabled is not False)


def _attribute_definitions(body: Body) -> dict[str, str]:
    definitions = p.array(body, "AttributeDefinitions", must=True)
    assert definitions is not None
    types: dict[str, str] = {}
    for i, item in enumerate(definitions, 1):
        if not isinstance(item, dict):
            raise serialization("AttributeDefinitions: expected a list of objects")
        attribute = p.string(item, "AttributeName", must=True)
        kind = item.get("AttributeType")
        if kind not in KEY_TYPES:
            raise validation(
                f"1 validation error detected: Value {_shown(kind)} at "
                f"'attributeDefinitions.{i}.member.attributeType' failed to satisfy constraint: "
                "Member must satisfy enum value set: [B, N, S]"
            )
        assert attribute is not None
        if attribute in types:
            raise validation(
                INVALID + f"Cannot have two attributes with the same name: {attribute}"
            )
        types[attribute] = kind
    return types


def _key_schema(body: Body) -> tuple[str, str | None]:
    schema = p.array(body, "KeySchema", must=True)
    assert schema is not None
    if not 1 <= len(schema) <= 2:
        bound = "greater than or equal to 1" if not schema else "less than or equal to 2"
        raise validation(
            "1 validation error detected: Value at 'keySchema' failed to satisfy constraint: "
            f"Member must have length {bound}"
        )
    elements = []
    for i, item in enumerate(schema, 1):
        if not isinstance(item, dict):
            raise serialization("KeySchema: expected a list of objects")
        attribute = p.string(item, "AttributeName", must=True)
        kind = item.get("KeyType")
        if kind not in ("HASH", "RANGE"):
            raise validation(
                f"1 validation error detected: Value {_shown(kind)} at "
                f"'keySchema.{i}.member.keyType' failed to satisfy constraint: Member must "
                "satisfy enum value set: [HASH, RANGE]"
            )
        elements.append((attribute, kind))
    if elements[0][1] != "HASH":
        raise validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
    if len(elements) == 2:
        if elements[1][1] != "RANGE":
            raise validation(
                "Too many hash keys specified.  All Dynamo DB tables must have exactly one hash key"
            )
        if elements[0][0] == elements[1][0]:
            raise validation(
                "Both the Hash Key and the Range Key element in the KeySchema have the same name"
            )
    hash_key = elements[0][0]
    assert hash_key is not None
    return hash_key, elements[1][0] if len(elements) == 2 else None


def _billing(body: Body) -> None:
    mode = p.choice(body, "BillingMode", ("PROVISIONED", "PAY_PER_REQUEST")) or "PROVISIONED"
    throughput = p.mapping(body, "ProvisionedThroughput")
    if mode == "PAY_PER_REQUEST" and throughput is not None:
        raise validation(
            INVALID + "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when "
            "BillingMode is PAY_PER_REQUEST"
        )
    if mode == "PROVISIONED":
        if throughput is None:
            raise validation(
                INVALID + "ProvisionedThroughput must be specified when BillingMode is PROVISIONED"
            )
        for member in ("ReadCapacityUnits", "WriteCapacityUnits"):
            p.required(member, p.integer(throughput, member, 1, 2**63 - 1))


def stream_specification(body: Body) -> tuple[bool | None, pb.StreamViewType]:
    """(StreamEnabled, view type or 0) of a StreamSpecification; (None, 0) when absent."""
    spec = p.mapping(body, "StreamSpecification")
    if spec is None:
        return None, pb.STREAM_VIEW_TYPE_UNSPECIFIED
    enabled = p.required("StreamSpecification.StreamEnabled", p.boolean(spec, "StreamEnabled"))
    view = p.choice(spec, "StreamViewType", tuple(VIEW_TYPES))
    if enabled and view is None:
        raise validation(INVALID + "You must specify a StreamViewType when enabling a stream")
    if not enabled and view is not None:
        raise validation(INVALID + "You cannot specify a StreamViewType when disabling a stream")
    return enabled, VIEW_TYPES[view] if view else pb.STREAM_VIEW_TYPE_UNSPECIFIED


def tags(body: Body, member: str, required: bool = True) -> dict[str, str]:
    """Tags [{Key, Value}] as a dict; keys 1-128 and values 0-256 characters."""
    items = p.array(body, member, must=required) or []
    out: dict[str, str] = {}
    for item in items:
        if not isinstance(item, dict):
            raise serialization(f"{member}: expected a list of objects")
        key = p.string(item, "Key", must=True)
        value = p.string(item, "Value", must=True)
        assert key is not None and value is not None
        if not 1 <= len(key) <= 128 or len(value) > 256:
            raise validation(INVALID + "tag keys have 1 to 128 characters and values at most 256")
        out[key] = value
    if len(out) > MAX_TAGS:
        raise validation(f"The number of tags exceeds the limit of {MAX_TAGS}")
    return out


def _shown(value: Any) -> str:
    return "null" if value is None else f"'{value}'"


def no_deletion_protection(body: Body) -> None:
    """DeletionProtectionEnabled true is refused: a caller must not believe a table is
    protected from DeleteTable when it is not. False (what IaC tools often send) is fine."""
    if p.boolean(body, "DeletionProtectionEnabled"):
        raise validation(
            "DeletionProtectionEnabled is not supported yet: any read-write key for the table "
            "can delete it (limit keys to tables, or use read-only keys, to protect it)"
        )
