"""The tables section: key schemas and stream settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from meridian.config.errors import ConfigError
from meridian.config.ttl import TableTtl, table_ttl
from meridian.config.values import (
    choice_value,
    duration_s_value,
    list_value,
    mapping_fields,
    name_value,
    show_value,
)
from meridian.pb import node_pb2 as pb

KEY_TYPES = {"S": pb.KEY_TYPE_S, "N": pb.KEY_TYPE_N, "B": pb.KEY_TYPE_B}


MERGE_MODES = {"item": pb.MERGE_MODE_ITEM, "attribute": pb.MERGE_MODE_ATTRIBUTE}


VIEW_TYPES = {
    "KEYS_ONLY": pb.KEYS_ONLY,
    "NEW_IMAGE": pb.NEW_IMAGE,
    "OLD_IMAGE": pb.OLD_IMAGE,
    "NEW_AND_OLD_IMAGES": pb.NEW_AND_OLD_IMAGES,
}


@dataclass(frozen=True, slots=True)
class KeyAttr:
    name: str
    type: int  # pb.KeyType


@dataclass(frozen=True, slots=True)
class TableConfig:
    name: str
    partition_key: KeyAttr
    sort_key: KeyAttr | None
    view_type: int  # pb.StreamViewType
    retention_seconds: int
    ttl: TableTtl | None = None  # None: the group file leaves time to live as it is
    merge: int = pb.MERGE_MODE_ITEM  # pb.MergeMode

    def to_spec(self) -> pb.TableSpec:
        spec = pb.TableSpec(
            name=self.name,
            partition_key=pb.KeyAttribute(
                name=self.partition_key.name,
                type=cast("pb.KeyType", self.partition_key.type),
            ),
            view_type=cast("pb.StreamViewType", self.view_type),
            retention_seconds=self.retention_seconds,
            merge=cast("pb.MergeMode", self.merge),
        )
        if self.sort_key is not None:
            spec.sort_key.name = self.sort_key.name
            spec.sort_key.type = cast("pb.KeyType", self.sort_key.type)
        if self.ttl is not None:
            spec.ttl_attribute = self.ttl.attribute
            spec.ttl_hide_expired = self.ttl.hide_expired
        return spec


def _key_attr(value: Any, path: str) -> KeyAttr:
    fields = mapping_fields(value, path, required=("name", "type"))
    name = fields["name"]
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise ConfigError(
            f"{path}.name: expected a name of 1 to 255 characters, got {show_value(name)}"
        )
    key_type = choice_value(fields["type"], f"{path}.type", KEY_TYPES)
    return KeyAttr(name, KEY_TYPES[key_type])


def _stream(value: Any, path: str) -> tuple[int, int]:
    fields = mapping_fields(value, path, required=(), optional=("view_type", "retention"))
    view = choice_value(
        fields.get("view_type", "NEW_AND_OLD_IMAGES"), f"{path}.view_type", VIEW_TYPES
    )
    retention = duration_s_value(
        fields.get("retention", "24h"), f"{path}.retention", 1, 365 * 86400
    )
    return VIEW_TYPES[view], retention


def _table(value: Any, path: str) -> TableConfig:
    fields = mapping_fields(
        value,
        path,
        required=("name", "partition_key"),
        optional=("sort_key", "stream", "ttl", "merge"),
    )
    name = name_value(fields["name"], f"{path}.name", 3, 255)
    partition_key = _key_attr(fields["partition_key"], f"{path}.partition_key")
    sort_key = None
    if "sort_key" in fields:
        sort_key = _key_attr(fields["sort_key"], f"{path}.sort_key")
        if sort_key.name == partition_key.name:
            raise ConfigError(
                f"{path}.sort_key.name: must differ from the partition key name "
                f"{show_value(partition_key.name)}"
            )
    view_type, retention = _stream(fields.get("stream", {}), f"{path}.stream")
    ttl = table_ttl(fields["ttl"], f"{path}.ttl") if "ttl" in fields else None
    merge = choice_value(fields.get("merge", "item"), f"{path}.merge", MERGE_MODES)
    return TableConfig(name, partition_key, sort_key, view_type, retention, ttl, MERGE_MODES[merge])


def tables_section(value: Any) -> tuple[TableConfig, ...]:
    tables: list[TableConfig] = []
    for i, item in enumerate(list_value(value, "tables", "table")):
        table = _table(item, f"tables[{i}]")
        for j, other in enumerate(tables):
            if other.name == table.name:
                raise ConfigError(
                    f"tables[{i}].name: duplicate table {show_value(table.name)} (also tables[{j}])"
                )
        tables.append(table)
    return tuple(tables)
