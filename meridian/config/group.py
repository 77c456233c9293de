"""A whole group file: loading it, and the GroupConfig it becomes."""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass
from typing import Any

from meridian.config.addresses import Address
from meridian.config.errors import ConfigError
from meridian.config.regions import RegionConfig, regions_section
from meridian.config.replication import ReplicationConfig, replication_section
from meridian.config.security import (
    AuthConfig,
    TlsConfig,
    auth_section,
    check_transport,
    tls_section,
)
from meridian.config.tables import TableConfig, tables_section
from meridian.config.triggers import TriggerConfig, check_trigger_runner_addresses, triggers_section
from meridian.config.values import (
    bool_value,
    choice_value,
    name_value,
    refuse_unknown_keys,
    show_value,
)
from meridian.config.yaml_reader import load_yaml_text

DURABILITY_MODES = ("fsync", "buffered")


@dataclass(frozen=True, slots=True)
class GroupConfig:
    group: str
    durability: str
    tables: tuple[TableConfig, ...]
    replication: ReplicationConfig
    regions: tuple[RegionConfig, ...]
    path: pathlib.Path
    triggers: tuple[TriggerConfig, ...] = ()
    tls: TlsConfig | None = None
    auth: AuthConfig | None = None  # access keys for clients; None: any client is admitted
    insecure: bool = False  # plaintext allowed on addresses other than loopback ones

    def triggers_of(self, region: str) -> tuple[TriggerConfig, ...]:
        """The triggers that run in this region, in file order."""
        return tuple(t for t in self.triggers if region in t.regions)

    def trigger(self, name: str) -> TriggerConfig:
        for trigger in self.triggers:
            if trigger.name == name:
                return trigger
        known = ", ".join(t.name for t in self.triggers) or "none"
        raise ConfigError(f"unknown trigger {name!r}; the group has: {known}")

    def region(self, name: str) -> RegionConfig:
        for region in self.regions:
            if region.name == name:
                return region
        known = ", ".join(r.name for r in self.regions)
        raise ConfigError(f"unknown region {name!r}; the group has: {known}")

    def table(self, name: str) -> TableConfig:
        for table in self.tables:
            if table.name == name:
                return table
        known = ", ".join(t.name for t in self.tables)
        raise ConfigError(f"unknown table {name!r}; the group has: {known}")


def load(path: str | os.PathLike[str]) -> GroupConfig:
    """Read and validate a group file; raises ConfigError."""
    file = pathlib.Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not valid UTF-8: {exc}") from exc
    return parse(text, file)


def parse(text: str, path: pathlib.Path) -> GroupConfig:
    """Validate the YAML text of a group file; ``path`` names it in messages."""
    data = load_yaml_text(text, path)
    if data is None:
        raise ConfigError(f"{path}: empty file, expected a mapping with group, tables and regions")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping with group, tables and regions, got {show_value(data)}"
        )
    return group_document(data, path)


def group_document(data: dict[Any, Any], path: pathlib.Path) -> GroupConfig:
    # Unknown top-level keys are reported against the file, the root of every YAML path.
    refuse_unknown_keys(
        data,
        str(path),
        (
            "auth",
            "durability",
            "group",
            "insecure",
            "regions",
            "replication",
            "tables",
            "tls",
            "triggers",
        ),
    )
    for key in ("group", "tables", "regions"):
        if key not in data:
            raise ConfigError(f"{key}: required")
    group = name_value(data["group"], "group", 1, 64)
    durability = choice_value(data.get("durability", "fsync"), "durability", DURABILITY_MODES)
    tables = tables_section(data["tables"])
    replication = replication_section(data.get("replication", {}))
    regions = regions_section(data["regions"])
    triggers = triggers_section(data.get("triggers", []), tables, regions)
    check_trigger_runner_addresses(regions, triggers)
    tls = tls_section(data.get("tls"))
    insecure = bool_value(data.get("insecure", False), "insecure")
    check_transport(
        tls,
        insecure,
        ((i, r.tls) for i, r in enumerate(regions)),
        served_addresses(regions, triggers),
    )
    return GroupConfig(
        group=group,
        durability=durability,
        tables=tables,
        replication=replication,
        regions=regions,
        path=path,
        triggers=triggers,
        tls=tls,
        auth=auth_section(data.get("auth")),
        insecure=insecure,
    )


def served_addresses(
    regions: tuple[RegionConfig, ...], triggers: tuple[TriggerConfig, ...]
) -> list[tuple[str, Address, str]]:
    """What the group's processes serve on (the node's peer door, always loopback, aside)."""
    used = {name for t in triggers for name in t.regions}
    out: list[tuple[str, Address, str]] = []
    for i, r in enumerate(regions):
        at = f"regions[{i}]"
        out += [
            (f"{at}.node.listen", r.node_listen, ""),
            (f"{at}.replicator.listen", r.replicator_listen, ""),
            (f"{at}.metrics.listen", r.metrics_listen, ""),
            (f"{at}.replicator.metrics", r.replicator_metrics_listen, ""),
        ]
        if r.api_listen is not None:
            out.append((f"{at}.api.listen", r.api_listen, ""))
        if r.name in used and r.trigger_listen and r.trigger_metrics_listen:
            out += [
                (f"{at}.triggers.listen", r.trigger_listen, ""),
                (f"{at}.triggers.metrics", r.trigger_metrics_listen, ""),
            ]
    return out
