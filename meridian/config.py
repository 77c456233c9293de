"""Strict loader for a replication group's YAML file.

One YAML file describes a group: its tables, replication knobs and regions (see
deploy/local/group.yaml for a commented example). Every mistake is refused with a
``ConfigError`` whose message starts with the YAML path of the offending value, e.g.
``regions[1].node.listen: expected HOST:PORT, got "eu-west"``.

Parsing is split into small pure functions, one per decision; only ``load`` does I/O and
only ``_data_dir`` looks at the current working directory.
"""

from __future__ import annotations

import ipaddress
import json
import os
import pathlib
import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

import yaml

from meridian.pb import node_pb2 as pb

__all__ = [
    "Address",
    "ConfigError",
    "FilterMatcher",
    "FilterPattern",
    "FunctionConfig",
    "GroupConfig",
    "KeyAttr",
    "OnFailureConfig",
    "RegionConfig",
    "ReplicationConfig",
    "TableConfig",
    "TriggerConfig",
    "load",
    "parse",
    "parse_address",
    "parse_duration_ms",
    "parse_filter",
    "summary",
    "warnings_of",
]

DURABILITY_MODES = ("fsync", "buffered")
BOOTSTRAP_READS = ("serve", "refuse")
KEY_TYPES = {"S": pb.KEY_TYPE_S, "N": pb.KEY_TYPE_N, "B": pb.KEY_TYPE_B}
VIEW_TYPES = {
    "KEYS_ONLY": pb.KEYS_ONLY,
    "NEW_IMAGE": pb.NEW_IMAGE,
    "OLD_IMAGE": pb.OLD_IMAGE,
    "NEW_AND_OLD_IMAGES": pb.NEW_AND_OLD_IMAGES,
}
REPLICATOR_METRICS_PORT_OFFSET = 100
TRIGGER_METRICS_PORT_OFFSET = 200
STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST")
FUNCTION_KINDS = ("python", "command", "url")
ON_FAILURE_KINDS = ("file", "table")
MAX_FILTERS = 5

_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION_RE = re.compile(r"(\d+)(ms|s|m|h|d)")
_NAME_RE = re.compile(r"[A-Za-z0-9_.-]+")
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME_RE = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?")
_SHOW_MAX = 80  # longest string value quoted in full in an error message
_DURATION_HINT = "a duration like 500ms, 5s, 10m, 24h, 7d or whole seconds"


class ConfigError(Exception):
    """A group file that cannot be used; the message starts with the YAML path (or file)."""


# --------------------------------------------------------------------------- data model


@dataclass(frozen=True, slots=True)
class Address:
    host: str  # IPv6 addresses are kept without brackets
    port: int

    def __str__(self) -> str:
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


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

    def to_spec(self) -> pb.TableSpec:
        spec = pb.TableSpec(
            name=self.name,
            partition_key=pb.KeyAttribute(
                name=self.partition_key.name,
                type=cast("pb.KeyType", self.partition_key.type),
            ),
            view_type=cast("pb.StreamViewType", self.view_type),
            retention_seconds=self.retention_seconds,
        )
        if self.sort_key is not None:
            spec.sort_key.name = self.sort_key.name
            spec.sort_key.type = cast("pb.KeyType", self.sort_key.type)
        return spec


DEFAULT_TOMBSTONE_MAX_LIFETIME_S = 7 * 86400


@dataclass(frozen=True, slots=True)
class ReplicationConfig:
    batch_size: int = 500
    max_clock_offset_ms: int = 5000
    tombstone_lifetime_s: int = 86400
    heartbeat_interval_s: float = 1.0
    reads_while_bootstrapping: str = "serve"  # or "refuse": FAILED_PRECONDITION until ACTIVE
    # After this long a tombstone goes even if a peer has not confirmed it (forced collection).
    tombstone_max_lifetime_s: int = DEFAULT_TOMBSTONE_MAX_LIFETIME_S


@dataclass(frozen=True, slots=True)
class RegionConfig:
    name: str
    node_listen: Address
    data_dir: pathlib.Path
    replicator_listen: Address
    metrics_listen: Address
    replicator_metrics_listen: Address
    # The trigger runner's metrics address; None only when the default would overflow and
    # no trigger runs in the region (then it is not needed).
    trigger_metrics_listen: Address | None


@dataclass(frozen=True, slots=True)
class FilterMatcher:
    """One rule of a filter pattern's value list (EventBridge syntax).

    ``op`` is one of equals, prefix, suffix, equals-ignore-case, anything-but,
    anything-but-prefix, anything-but-suffix, exists, numeric. ``value`` holds the operand:
    a scalar (equals), a string, a tuple of scalars (anything-but), a bool (exists) or a
    tuple of (operator, Decimal) pairs (numeric).
    """

    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class FilterPattern:
    """A validated filter pattern: every field must match (AND); ``any_of`` holds the
    ``$or`` alternatives (one of each group must match)."""

    fields: tuple[tuple[str, FilterPattern | tuple[FilterMatcher, ...]], ...]
    any_of: tuple[tuple[FilterPattern, ...], ...] = ()
    text: str = ""  # the pattern as compact JSON, for messages


@dataclass(frozen=True, slots=True)
class FunctionConfig:
    kind: str  # "python" (target: module:function), "command" (argv) or "url"
    target: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.kind} {' '.join(self.target)}"


@dataclass(frozen=True, slots=True)
class OnFailureConfig:
    kind: str  # "file" (target: absolute path) or "table" (target: table name)
    target: str


@dataclass(frozen=True, slots=True)
class TriggerConfig:
    """A user function run on a table's stream records (Lambda event-source-mapping knobs)."""

    name: str
    table: str
    regions: tuple[str, ...]
    function: FunctionConfig
    starting_position: str
    batch_size: int = 100
    batching_window_ms: int = 0
    filters: tuple[FilterPattern, ...] = ()
    max_retries: int = -1  # -1: until the records expire
    bisect_on_error: bool = False
    max_record_age_s: int = -1  # -1: until the records expire
    report_batch_item_failures: bool = False
    on_failure: OnFailureConfig | None = None
    enabled: bool = True
    parallelization: int = 1
    timeout_ms: int = 30_000
    environment: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class GroupConfig:
    group: str
    durability: str
    tables: tuple[TableConfig, ...]
    replication: ReplicationConfig
    regions: tuple[RegionConfig, ...]
    path: pathlib.Path
    triggers: tuple[TriggerConfig, ...] = ()

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


# --------------------------------------------------------------------------- entry points


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
    data = _load_yaml(text, path)
    if data is None:
        raise ConfigError(f"{path}: empty file, expected a mapping with group, tables and regions")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping with group, tables and regions, got {_show(data)}"
        )
    return _group(data, path)


def summary(config: GroupConfig) -> str:
    """The group, its tables, each region's addresses and the triggers, in short lines."""
    lines = [
        f"{config.path}: group {config.group!r} is valid",
        f"  durability: {config.durability}",
        f"  {_plural(len(config.tables), 'table')}: {', '.join(t.name for t in config.tables)}",
        f"  {_plural(len(config.regions), 'region')}:",
    ]
    for r in config.regions:
        metrics = f"{r.metrics_listen} (node), {r.replicator_metrics_listen} (replicator)"
        if config.triggers_of(r.name) and r.trigger_metrics_listen is not None:
            metrics += f", {r.trigger_metrics_listen} (triggers)"
        lines += [
            f"    {r.name}: node {r.node_listen}, replicator {r.replicator_listen}",
            f"      metrics {metrics}",
            f"      data {r.data_dir}",
        ]
    if config.triggers:
        lines.append(f"  {_plural(len(config.triggers), 'trigger')}:")
        lines += [
            f"    {t.name} on {t.table} in {', '.join(t.regions)} ({t.function})"
            + ("" if t.enabled else ", disabled")
            for t in config.triggers
        ]
    return "\n".join(lines)


def warnings_of(config: GroupConfig) -> list[str]:
    """What is valid but almost surely wrong: a wildcard host (0.0.0.0, ::) where processes
    also connect. Every process reaches a region's node and replicator at the address they
    listen on, and a wildcard address reaches only the connecting machine itself."""
    out = []
    for index, r in enumerate(config.regions):
        for path, address in (
            (f"regions[{index}].node.listen", r.node_listen),
            (f"regions[{index}].replicator.listen", r.replicator_listen),
        ):
            if address.host in _WILDCARDS:
                out.append(
                    f"{path}: {address.host} is also the address other processes connect to, "
                    "and it reaches only their own machine; give an address that the other "
                    "regions can reach (see deploy/README.md)"
                )
    return out


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --------------------------------------------------------------------------- YAML reading


# A group file is a few hundred values, nested a few levels (a trigger filter on an item
# attribute nested 32 levels, DynamoDB's limit, takes about 70).
MAX_YAML_DEPTH = 100
# Aliases stay allowed: sharing settings between regions is legitimate, and a bound far above
# such use stops what is not ("billion laughs": a few nested aliases of a small file expand
# to millions of values, and everything that walks the document walks each copy again).
MAX_ALIAS_VALUES = 1000


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping, nesting deeper than
    MAX_YAML_DEPTH, and aliases that together would repeat more than MAX_ALIAS_VALUES values.

    The composer never copies an aliased node; ``expanded`` counts the values the document
    would have with every alias written out, from the size of each anchored node, recorded
    once when it was composed. So a refused document costs no more than reading it.
    """

    file: str = "<config>"

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.path: list[Any] = []  # the index of each node being composed (key node or int)
        self.sizes: dict[int, int] = {}  # id(node) -> its value count, aliases written out
        self.expanded = 0  # values composed so far, aliases written out
        self.aliased = 0  # of which aliases added

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        self.path.append(index)
        try:
            if self.check_event(yaml.AliasEvent):
                return self._alias(parent, index)
            if len(self.path) > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark
                raise ConfigError(
                    f"{self.file}: line {mark.line + 1}, column {mark.column + 1}: "
                    f"nested deeper than {MAX_YAML_DEPTH} levels (under {self._where(6)}...)"
                )
            before = self.expanded
            self.expanded += 1
            node = cast(yaml.Node, super().compose_node(parent, index))
            self.sizes[id(node)] = self.expanded - before
            return node
        finally:
            self.path.pop()

    def _alias(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        node = cast(yaml.Node, super().compose_node(parent, index))
        line = event.start_mark.line + 1
        where = f"{self.file}: {self._where()}: alias *{event.anchor} (line {line})"
        size = self.sizes.get(id(node))
        if size is None:
            raise ConfigError(f"{where} refers to a value that contains it")
        self.expanded += size
        self.aliased += size
        if self.aliased > MAX_ALIAS_VALUES:
            raise ConfigError(
                f"{where}: aliases would repeat more than {MAX_ALIAS_VALUES} values; "
                "write the values out, or share fewer"
            )
        return node

    def _where(self, limit: int | None = None) -> str:
        """The YAML path of the node being composed (its first `limit` parts)."""
        path = ""
        for part in [p for p in self.path if p is not None][:limit]:
            if isinstance(part, int):
                path += f"[{part}]"
            else:
                key = part.value if isinstance(part, yaml.ScalarNode) else "?"
                path = _at(path, str(key))
        return path or "the top level"

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, Hashable) and key in seen:
                raise ConfigError(
                    f"{self.file}: line {line}: duplicate key {_show(key)} "
                    f"(first given at line {seen[key]})"
                )
            if isinstance(key, Hashable):
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _load_yaml(text: str, path: pathlib.Path) -> Any:
    loader = _StrictLoader(text)
    loader.file = str(path)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {_yaml_problem(exc)}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "syntax error"
    if mark is None:
        return problem
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


# --------------------------------------------------------------------------- generic checks


def _show(value: Any) -> str:
    """Render a YAML value in a message: strings quoted, null/true/false as YAML writes them."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if len(value) > _SHOW_MAX:
            return json.dumps(value[:_SHOW_MAX], ensure_ascii=False)[:-1] + '..." (truncated)'
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _fields(
    value: Any, path: str, required: Iterable[str], optional: Iterable[str] = ()
) -> dict[str, Any]:
    """Check that ``value`` is a mapping with exactly the allowed keys; return it."""
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: expected a mapping, got {_show(value)}")
    required = tuple(required)
    _unknown_keys(value, path, {*required, *optional})
    for key in required:
        if key not in value:
            raise ConfigError(f"{_at(path, key)}: required")
    return value


def _unknown_keys(value: dict[Any, Any], where: str, allowed: Iterable[str]) -> None:
    expected = sorted(allowed)
    for key in value:
        if key not in expected:
            raise ConfigError(
                f"{where}: unknown key {_show(key)} (expected one of: {', '.join(expected)})"
            )


def _list(value: Any, path: str, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{path}: expected a list of {what}s, got {_show(value)}")
    if not value:
        raise ConfigError(f"{path}: expected at least one {what}")
    return value


def _name(value: Any, path: str, low: int, high: int) -> str:
    if isinstance(value, str) and low <= len(value) <= high and _NAME_RE.fullmatch(value):
        return value
    raise ConfigError(
        f'{path}: expected {low} to {high} letters, digits, "_", "." or "-", got {_show(value)}'
    )


def _choice(value: Any, path: str, choices: Mapping[str, Any] | Iterable[str]) -> str:
    options = list(choices)
    if isinstance(value, str) and value in options:
        return value
    raise ConfigError(f"{path}: expected one of {', '.join(options)}, got {_show(value)}")


def _int(value: Any, path: str, low: int, high: int) -> int:
    # bool is a subclass of int in Python; YAML `true` must not pass as 1.
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    raise ConfigError(f"{path}: expected an integer from {low} to {high}, got {_show(value)}")


# --------------------------------------------------------------------------- durations


def parse_duration_ms(value: Any) -> int | None:
    """``500ms``/``5s``/``10m``/``24h``/``7d`` or a bare integer of seconds -> milliseconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value * 1000 if value >= 0 else None
    if isinstance(value, str):
        match = _DURATION_RE.fullmatch(value)
        if match:
            return int(match.group(1)) * _MS[match.group(2)]
    return None


def _format_ms(ms: int) -> str:
    if ms == 0:
        return "0s"
    for unit in ("d", "h", "m", "s"):
        if ms % _MS[unit] == 0:
            return f"{ms // _MS[unit]}{unit}"
    return f"{ms}ms"


def _duration_ms(value: Any, path: str, low_ms: int, high_ms: int) -> int:
    ms = parse_duration_ms(value)
    if ms is None:
        raise ConfigError(f"{path}: expected {_DURATION_HINT}, got {_show(value)}")
    if not low_ms <= ms <= high_ms:
        raise ConfigError(
            f"{path}: expected a duration from {_format_ms(low_ms)} to {_format_ms(high_ms)}, "
            f"got {_show(value)}"
        )
    return ms


def _duration_s(value: Any, path: str, low_s: int, high_s: int) -> int:
    ms = _duration_ms(value, path, low_s * 1000, high_s * 1000)
    if ms % 1000:
        raise ConfigError(f"{path}: expected whole seconds, got {_show(value)}")
    return ms // 1000


# --------------------------------------------------------------------------- addresses


def parse_address(value: Any, path: str) -> Address:
    """``HOST:PORT`` where HOST is an IPv4 address, a host name or ``[IPv6]``."""
    if not isinstance(value, str) or ":" not in value:
        raise ConfigError(f"{path}: expected HOST:PORT, got {_show(value)}")
    host, _, port_text = value.rpartition(":")
    if not port_text.isascii() or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigError(f"{path}: expected a port from 1 to 65535, got {_show(value)}")
    parsed = _host(host)
    if parsed is None:
        raise ConfigError(
            f"{path}: expected HOST:PORT with HOST an IPv4 address, a host name or [IPv6], "
            f"got {_show(value)}"
        )
    return Address(parsed, int(port_text))


def _host(text: str) -> str | None:
    """Canonical host (IPv6 without brackets, names lower-cased) or None when malformed."""
    if text.startswith("[") and text.endswith("]"):
        try:
            return str(ipaddress.IPv6Address(text[1:-1]))
        except ValueError:
            return None
    if re.fullmatch(r"[0-9.]+", text):
        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            return None
    if len(text) <= 253 and _HOSTNAME_RE.fullmatch(text):
        return text.lower()
    return None


def _conflicts(addresses: Iterable[tuple[str, Address, str]]) -> None:
    """Refuse two listen addresses with the same host and port.

    Each address comes with its YAML path and a note explaining a defaulted value ("" if none).
    """
    seen: list[tuple[str, Address, str]] = []
    for label, address, note in addresses:
        for other, other_address, other_note in seen:
            if other_address.port == address.port and same_machine(
                address.host, other_address.host
            ):
                raise ConfigError(
                    f"{label}: port {address.port} already used by {other}{note or other_note}"
                )
        seen.append((label, address, note))


_WILDCARDS = frozenset(("0.0.0.0", "::"))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def same_machine(a: str, b: str) -> bool:
    """Whether two canonical listen hosts certainly bind on one machine: the same host,
    localhost and 127.0.0.1 (or ::1), or a wildcard and a loopback address (a group file
    that names a loopback address runs on one machine)."""
    if a == b:
        return True
    if {a, b} <= {"localhost", "127.0.0.1", "::1"}:
        return True
    return (a in _WILDCARDS and _is_loopback(b)) or (b in _WILDCARDS and _is_loopback(a))


# --------------------------------------------------------------------------- tables


def _key_attr(value: Any, path: str) -> KeyAttr:
    fields = _fields(value, path, required=("name", "type"))
    name = fields["name"]
    if not isinstance(name, str) or not 1 <= len(name) <= 255:
        raise ConfigError(f"{path}.name: expected a name of 1 to 255 characters, got {_show(name)}")
    key_type = _choice(fields["type"], f"{path}.type", KEY_TYPES)
    return KeyAttr(name, KEY_TYPES[key_type])


def _stream(value: Any, path: str) -> tuple[int, int]:
    fields = _fields(value, path, required=(), optional=("view_type", "retention"))
    view = _choice(fields.get("view_type", "NEW_AND_OLD_IMAGES"), f"{path}.view_type", VIEW_TYPES)
    retention = _duration_s(fields.get("retention", "24h"), f"{path}.retention", 1, 365 * 86400)
    return VIEW_TYPES[view], retention


def _table(value: Any, path: str) -> TableConfig:
    fields = _fields(
        value, path, required=("name", "partition_key"), optional=("sort_key", "stream")
    )
    name = _name(fields["name"], f"{path}.name", 3, 255)
    partition_key = _key_attr(fields["partition_key"], f"{path}.partition_key")
    sort_key = None
    if "sort_key" in fields:
        sort_key = _key_attr(fields["sort_key"], f"{path}.sort_key")
        if sort_key.name == partition_key.name:
            raise ConfigError(
                f"{path}.sort_key.name: must differ from the partition key name "
                f"{_show(partition_key.name)}"
            )
    view_type, retention = _stream(fields.get("stream", {}), f"{path}.stream")
    return TableConfig(name, partition_key, sort_key, view_type, retention)


def _tables(value: Any) -> tuple[TableConfig, ...]:
    tables: list[TableConfig] = []
    for i, item in enumerate(_list(value, "tables", "table")):
        table = _table(item, f"tables[{i}]")
        for j, other in enumerate(tables):
            if other.name == table.name:
                raise ConfigError(
                    f"tables[{i}].name: duplicate table {_show(table.name)} (also tables[{j}])"
                )
        tables.append(table)
    return tuple(tables)


# --------------------------------------------------------------------------- replication


def _replication(value: Any) -> ReplicationConfig:
    path = "replication"
    fields = _fields(
        value,
        path,
        required=(),
        optional=(
            "batch_size",
            "max_clock_offset",
            "tombstone_lifetime",
            "heartbeat_interval",
            "reads_while_bootstrapping",
            "tombstone_max_lifetime",
        ),
    )
    defaults = ReplicationConfig()
    batch_size = _int(fields.get("batch_size", defaults.batch_size), f"{path}.batch_size", 1, 10000)
    offset_ms = _duration_ms(
        fields.get("max_clock_offset", "5s"), f"{path}.max_clock_offset", 1, 3_600_000
    )
    tombstone_s = _duration_s(
        fields.get("tombstone_lifetime", "24h"), f"{path}.tombstone_lifetime", 1, 365 * 86400
    )
    heartbeat_ms = _duration_ms(
        fields.get("heartbeat_interval", "1s"), f"{path}.heartbeat_interval", 10, 600_000
    )
    reads = _choice(
        fields.get("reads_while_bootstrapping", "serve"),
        f"{path}.reads_while_bootstrapping",
        BOOTSTRAP_READS,
    )
    max_tombstone_s = _max_tombstone_lifetime(fields, tombstone_s)
    return ReplicationConfig(
        batch_size, offset_ms, tombstone_s, heartbeat_ms / 1000, reads, max_tombstone_s
    )


def _max_tombstone_lifetime(fields: dict[str, Any], lifetime_s: int) -> int:
    """At least the tombstone lifetime; by default 7 days, or the lifetime when longer."""
    path = "replication.tombstone_max_lifetime"
    if "tombstone_max_lifetime" not in fields:
        return max(DEFAULT_TOMBSTONE_MAX_LIFETIME_S, lifetime_s)
    value = fields["tombstone_max_lifetime"]
    seconds = _duration_s(value, path, 1, 365 * 86400)
    if seconds < lifetime_s:
        raise ConfigError(
            f"{path}: expected at least tombstone_lifetime ({_format_ms(lifetime_s * 1000)}), "
            f"got {_show(value)}"
        )
    return seconds


# --------------------------------------------------------------------------- regions


def _data_dir(value: Any, path: str) -> pathlib.Path:
    """A directory path; a relative one is resolved against the current working directory."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path}: expected a directory path, got {_show(value)}")
    return pathlib.Path(os.path.abspath(os.path.expanduser(value)))


def _replicator_metrics(fields: dict[str, Any], path: str, metrics: Address) -> Address:
    """The replicator's metrics address; by default the node's metrics port + 100."""
    if "metrics" in fields:
        return parse_address(fields["metrics"], path)
    port = metrics.port + REPLICATOR_METRICS_PORT_OFFSET
    if port > 65535:
        raise ConfigError(
            f"{path}: required because metrics.listen port + {REPLICATOR_METRICS_PORT_OFFSET} "
            f"is above 65535"
        )
    return Address(metrics.host, port)


def _trigger_metrics(value: Any, path: str, metrics: Address) -> Address | None:
    """The trigger runner's metrics address; by default the node's metrics port + 200."""
    if value is not None:
        fields = _fields(value, path, required=(), optional=("metrics",))
        if "metrics" in fields:
            return parse_address(fields["metrics"], f"{path}.metrics")
    port = metrics.port + TRIGGER_METRICS_PORT_OFFSET
    return Address(metrics.host, port) if port <= 65535 else None


def _region(value: Any, path: str) -> RegionConfig:
    fields = _fields(
        value, path, required=("name", "node", "replicator", "metrics"), optional=("triggers",)
    )
    name = _name(fields["name"], f"{path}.name", 1, 64)
    node = _fields(fields["node"], f"{path}.node", required=("listen", "data_dir"))
    replicator = _fields(
        fields["replicator"], f"{path}.replicator", required=("listen",), optional=("metrics",)
    )
    metrics = _fields(fields["metrics"], f"{path}.metrics", required=("listen",))
    metrics_listen = parse_address(metrics["listen"], f"{path}.metrics.listen")
    return RegionConfig(
        name=name,
        node_listen=parse_address(node["listen"], f"{path}.node.listen"),
        data_dir=_data_dir(node["data_dir"], f"{path}.node.data_dir"),
        replicator_listen=parse_address(replicator["listen"], f"{path}.replicator.listen"),
        metrics_listen=metrics_listen,
        replicator_metrics_listen=_replicator_metrics(
            replicator, f"{path}.replicator.metrics", metrics_listen
        ),
        trigger_metrics_listen=_trigger_metrics(
            fields.get("triggers"), f"{path}.triggers", metrics_listen
        ),
    )


def _listen_addresses(regions: Iterable[RegionConfig]) -> Iterable[tuple[str, Address, str]]:
    """Every listen address of the group with its YAML path, in file order."""
    for i, region in enumerate(regions):
        metrics = region.metrics_listen
        default = Address(metrics.host, metrics.port + REPLICATOR_METRICS_PORT_OFFSET)
        note = ""
        if region.replicator_metrics_listen == default:
            note = (
                f" (the replicator's metrics address defaults to metrics.listen port + "
                f"{REPLICATOR_METRICS_PORT_OFFSET}; set replicator.metrics to choose another)"
            )
        yield f"regions[{i}].node.listen", region.node_listen, ""
        yield f"regions[{i}].replicator.listen", region.replicator_listen, ""
        yield f"regions[{i}].metrics.listen", metrics, ""
        yield f"regions[{i}].replicator.metrics", region.replicator_metrics_listen, note


def _shared_data_dirs(regions: tuple[RegionConfig, ...]) -> None:
    """Two regions whose nodes listen on the same host must not share a data directory."""
    for i, region in enumerate(regions):
        for j, other in enumerate(regions[:i]):
            if same_machine(other.node_listen.host, region.node_listen.host) and (
                other.data_dir == region.data_dir
            ):
                raise ConfigError(
                    f"regions[{i}].node.data_dir: directory {region.data_dir} already used by "
                    f"regions[{j}].node.data_dir on the same host"
                )


def _regions(value: Any) -> tuple[RegionConfig, ...]:
    regions: list[RegionConfig] = []
    for i, item in enumerate(_list(value, "regions", "region")):
        region = _region(item, f"regions[{i}]")
        for j, other in enumerate(regions):
            if other.name == region.name:
                raise ConfigError(
                    f"regions[{i}].name: duplicate region {_show(region.name)} (also regions[{j}])"
                )
        regions.append(region)
    result = tuple(regions)
    _conflicts(_listen_addresses(result))
    _shared_data_dirs(result)
    return result


# --------------------------------------------------------------------------- triggers

_PYTHON_TARGET_RE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_URL_RE = re.compile(r"https?://[^\s/?#]+([/?#]\S*)?")
_TRIGGER_KEYS = (
    "batch_size",
    "batching_window",
    "bisect_on_error",
    "enabled",
    "environment",
    "filters",
    "function",
    "max_record_age",
    "max_retries",
    "name",
    "on_failure",
    "parallelization",
    "regions",
    "report_batch_item_failures",
    "starting_position",
    "table",
    "timeout",
)
_NUMERIC_OPS = ("<", "<=", "=", ">", ">=")


def _bool(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(f"{path}: expected true or false, got {_show(value)}")


def _function(value: Any, path: str) -> FunctionConfig:
    fields = _fields(value, path, required=(), optional=FUNCTION_KINDS)
    if len(fields) != 1:
        raise ConfigError(
            f"{path}: expected exactly one of python, command, url, got "
            f"{', '.join(sorted(fields)) or 'none'}"
        )
    ((kind, target),) = fields.items()
    where = f"{path}.{kind}"
    if kind == "python":
        if isinstance(target, str) and _PYTHON_TARGET_RE.fullmatch(target):
            return FunctionConfig(kind, (target,))
        raise ConfigError(f'{where}: expected "module:function", got {_show(target)}')
    if kind == "command":
        if not isinstance(target, list) or not target:
            raise ConfigError(
                f"{where}: expected a list of arguments like [python3, handler.py], "
                f"got {_show(target)}"
            )
        for i, arg in enumerate(target):
            if not isinstance(arg, str) or (i == 0 and not arg):
                raise ConfigError(f"{where}[{i}]: expected a string, got {_show(arg)}")
        return FunctionConfig(kind, tuple(target))
    if isinstance(target, str) and _URL_RE.fullmatch(target):
        return FunctionConfig(kind, (target,))
    raise ConfigError(f"{where}: expected an http:// or https:// URL, got {_show(target)}")


def _trigger_regions(value: Any, path: str, regions: tuple[RegionConfig, ...]) -> tuple[str, ...]:
    known = [r.name for r in regions]
    if value is None:
        return tuple(known)
    names: list[str] = []
    for i, item in enumerate(_list(value, path, "region")):
        if item not in known:
            raise ConfigError(
                f"{path}[{i}]: unknown region {_show(item)} (the group has: {', '.join(known)})"
            )
        if item in names:
            raise ConfigError(f"{path}[{i}]: region {_show(item)} given twice")
        names.append(item)
    return tuple(names)


def _on_failure(
    value: Any, path: str, table: str, tables: tuple[TableConfig, ...]
) -> OnFailureConfig:
    fields = _fields(value, path, required=(), optional=ON_FAILURE_KINDS)
    if len(fields) != 1:
        raise ConfigError(
            f"{path}: expected exactly one of file, table, got "
            f"{', '.join(sorted(fields)) or 'none'}"
        )
    ((kind, target),) = fields.items()
    where = f"{path}.{kind}"
    if kind == "file":
        return OnFailureConfig(kind, str(_data_dir(target, where)))
    names = [t.name for t in tables]
    if target not in names:
        raise ConfigError(
            f"{where}: unknown table {_show(target)} (the group has: {', '.join(names)})"
        )
    if target == table:
        raise ConfigError(f"{where}: must differ from the trigger's own table {_show(table)}")
    spec = next(t for t in tables if t.name == target)
    if spec.partition_key.type != pb.KEY_TYPE_S or (
        spec.sort_key is not None and spec.sort_key.type == pb.KEY_TYPE_B
    ):
        raise ConfigError(
            f"{where}: table {_show(target)} needs a string partition key and no binary sort "
            f"key to hold dead letters"
        )
    return OnFailureConfig(kind, target)


def _environment(value: Any, path: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: expected a mapping of NAME: value, got {_show(value)}")
    out = []
    for name, text in value.items():
        if not isinstance(name, str) or not _ENV_NAME_RE.fullmatch(name):
            raise ConfigError(f"{path}: expected variable names like MY_SETTING, got {_show(name)}")
        if name.startswith("MERIDIAN_"):
            raise ConfigError(f"{path}.{name}: names starting with MERIDIAN_ are reserved")
        if not isinstance(text, str):
            raise ConfigError(f"{path}.{name}: expected a string (quote it), got {_show(text)}")
        out.append((name, text))
    return tuple(out)


def _max_record_age(value: Any, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value == -1:
        return -1
    try:
        return _duration_s(value, path, 1, 7 * 86400)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (or -1 for no limit)") from None


def _trigger(
    value: Any, path: str, tables: tuple[TableConfig, ...], regions: tuple[RegionConfig, ...]
) -> TriggerConfig:
    fields = _fields(
        value,
        path,
        required=("name", "table", "function", "starting_position"),
        optional=_TRIGGER_KEYS,
    )
    name = _name(fields["name"], f"{path}.name", 1, 64)
    table = fields["table"]
    if table not in [t.name for t in tables]:
        raise ConfigError(
            f"{path}.table: unknown table {_show(table)} "
            f"(the group has: {', '.join(t.name for t in tables)})"
        )
    trigger_regions = _trigger_regions(fields.get("regions"), f"{path}.regions", regions)
    function = _function(fields["function"], f"{path}.function")
    on_failure = None
    if "on_failure" in fields:
        on_failure = _on_failure(fields["on_failure"], f"{path}.on_failure", table, tables)
    filters = fields.get("filters", [])
    if not isinstance(filters, list):
        raise ConfigError(f"{path}.filters: expected a list of patterns, got {_show(filters)}")
    if len(filters) > MAX_FILTERS:
        raise ConfigError(f"{path}.filters: at most {MAX_FILTERS} patterns, got {len(filters)}")
    return TriggerConfig(
        name=name,
        table=table,
        regions=trigger_regions,
        function=function,
        starting_position=_choice(
            fields["starting_position"], f"{path}.starting_position", STARTING_POSITIONS
        ),
        batch_size=_int(fields.get("batch_size", 100), f"{path}.batch_size", 1, 10000),
        batching_window_ms=_duration_ms(
            fields.get("batching_window", 0), f"{path}.batching_window", 0, 300_000
        ),
        filters=tuple(parse_filter(item, f"{path}.filters[{i}]") for i, item in enumerate(filters)),
        max_retries=_int(fields.get("max_retries", -1), f"{path}.max_retries", -1, 10000),
        bisect_on_error=_bool(fields.get("bisect_on_error", False), f"{path}.bisect_on_error"),
        max_record_age_s=_max_record_age(
            fields.get("max_record_age", -1), f"{path}.max_record_age"
        ),
        report_batch_item_failures=_bool(
            fields.get("report_batch_item_failures", False), f"{path}.report_batch_item_failures"
        ),
        on_failure=on_failure,
        enabled=_bool(fields.get("enabled", True), f"{path}.enabled"),
        parallelization=_int(fields.get("parallelization", 1), f"{path}.parallelization", 1, 10),
        timeout_ms=_duration_ms(fields.get("timeout", "30s"), f"{path}.timeout", 100, 900_000),
        environment=_environment(fields.get("environment", {}), f"{path}.environment"),
    )


def _triggers(
    value: Any, tables: tuple[TableConfig, ...], regions: tuple[RegionConfig, ...]
) -> tuple[TriggerConfig, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"triggers: expected a list of triggers, got {_show(value)}")
    triggers: list[TriggerConfig] = []
    for i, item in enumerate(value):
        trigger = _trigger(item, f"triggers[{i}]", tables, regions)
        for j, other in enumerate(triggers):
            if other.name == trigger.name:
                raise ConfigError(
                    f"triggers[{i}].name: duplicate trigger {_show(trigger.name)} "
                    f"(also triggers[{j}])"
                )
        triggers.append(trigger)
    return tuple(triggers)


def _trigger_runner_addresses(
    regions: tuple[RegionConfig, ...], triggers: tuple[TriggerConfig, ...]
) -> None:
    """Regions that run triggers need a free metrics address for their trigger runner."""
    used = {name for t in triggers for name in t.regions}
    extra: list[tuple[str, Address, str]] = []
    for i, region in enumerate(regions):
        if region.name not in used:
            continue
        if region.trigger_metrics_listen is None:
            raise ConfigError(
                f"regions[{i}].triggers.metrics: required because metrics.listen port + "
                f"{TRIGGER_METRICS_PORT_OFFSET} is above 65535"
            )
        metrics = region.metrics_listen
        note = ""
        if region.trigger_metrics_listen == Address(
            metrics.host, metrics.port + TRIGGER_METRICS_PORT_OFFSET
        ):
            note = (
                f" (the trigger runner's metrics address defaults to metrics.listen port + "
                f"{TRIGGER_METRICS_PORT_OFFSET}; set triggers.metrics to choose another)"
            )
        extra.append((f"regions[{i}].triggers.metrics", region.trigger_metrics_listen, note))
    if extra:
        _conflicts([*_listen_addresses(regions), *extra])


# --------------------------------------------------------------------------- filter patterns


def parse_filter(value: Any, path: str) -> FilterPattern:
    """A filter pattern (EventBridge syntax) given as a mapping or as JSON text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    return _pattern(value, path)


def _pattern(value: Any, path: str) -> FilterPattern:
    if not isinstance(value, dict) or not value:
        raise ConfigError(
            f"{path}: expected a non-empty mapping of field: [values] or field: {{...}}, "
            f"got {_show(value)}"
        )
    fields: list[tuple[str, FilterPattern | tuple[FilterMatcher, ...]]] = []
    any_of: list[tuple[FilterPattern, ...]] = []
    for key, rule in value.items():
        if not isinstance(key, str) or not key:
            raise ConfigError(f"{path}: expected field names, got {_show(key)}")
        where = _at(path, key)
        if key == "$or":
            if not isinstance(rule, list) or len(rule) < 2:
                raise ConfigError(f"{where}: expected a list of at least two patterns")
            any_of.append(tuple(_pattern(p, f"{where}[{i}]") for i, p in enumerate(rule)))
        elif key.startswith("$"):
            raise ConfigError(f"{where}: unknown operator {_show(key)} (only $or is supported)")
        elif isinstance(rule, dict):
            fields.append((key, _pattern(rule, where)))
        elif isinstance(rule, list):
            if not rule:
                raise ConfigError(f"{where}: expected at least one value to match")
            fields.append((key, tuple(_matcher(m, f"{where}[{i}]") for i, m in enumerate(rule))))
        else:
            raise ConfigError(
                f"{where}: expected a list of values to match or a nested mapping, got "
                f"{_show(rule)} (write [{_show(rule)}])"
            )
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return FilterPattern(tuple(fields), tuple(any_of), text)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _matcher(value: Any, path: str) -> FilterMatcher:
    if _scalar(value):
        return FilterMatcher("equals", value)
    if not isinstance(value, dict) or len(value) != 1:
        raise ConfigError(
            f"{path}: expected a value or one of {{prefix: ...}}, {{suffix: ...}}, "
            f"{{equals-ignore-case: ...}}, {{anything-but: ...}}, {{exists: ...}}, "
            f"{{numeric: [...]}}, got {_show(value)}"
        )
    ((op, operand),) = value.items()
    where = _at(path, str(op))
    if op in ("prefix", "suffix", "equals-ignore-case"):
        if not isinstance(operand, str):
            raise ConfigError(f"{where}: expected a string, got {_show(operand)}")
        return FilterMatcher(op, operand)
    if op == "exists":
        return FilterMatcher(op, _bool(operand, where))
    if op == "anything-but":
        return _anything_but(operand, where)
    if op == "numeric":
        return FilterMatcher(op, _numeric(operand, where))
    raise ConfigError(
        f"{path}: unknown operator {_show(op)} (expected prefix, suffix, equals-ignore-case, "
        f"anything-but, exists or numeric)"
    )


def _anything_but(operand: Any, path: str) -> FilterMatcher:
    if isinstance(operand, dict):
        if len(operand) == 1:
            ((op, text),) = operand.items()
            if op in ("prefix", "suffix") and isinstance(text, str):
                return FilterMatcher(f"anything-but-{op}", text)
        raise ConfigError(
            f"{path}: expected a value, a list of values, {{prefix: TEXT}} or {{suffix: TEXT}}, "
            f"got {_show(operand)}"
        )
    values = operand if isinstance(operand, list) else [operand]
    if not values or not all(_scalar(v) and v is not None for v in values):
        raise ConfigError(f"{path}: expected a value or a non-empty list of values")
    return FilterMatcher("anything-but", tuple(values))


def _numeric(operand: Any, path: str) -> tuple[tuple[str, Decimal], ...]:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise ConfigError(
            f'{path}: expected [OP, NUMBER] or [OP, NUMBER, OP, NUMBER] like [">", 0]'
        )
    pairs = []
    for i in range(0, len(operand), 2):
        op, number = operand[i], operand[i + 1]
        if op not in _NUMERIC_OPS:
            raise ConfigError(
                f"{path}[{i}]: expected one of {', '.join(_NUMERIC_OPS)}, got {_show(op)}"
            )
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ConfigError(f"{path}[{i + 1}]: expected a number, got {_show(number)}")
        pairs.append((op, Decimal(str(number))))
    return tuple(pairs)


# --------------------------------------------------------------------------- group


def _group(data: dict[Any, Any], path: pathlib.Path) -> GroupConfig:
    # Unknown top-level keys are reported against the file, the root of every YAML path.
    _unknown_keys(
        data, str(path), ("durability", "group", "regions", "replication", "tables", "triggers")
    )
    for key in ("group", "tables", "regions"):
        if key not in data:
            raise ConfigError(f"{key}: required")
    group = _name(data["group"], "group", 1, 64)
    durability = _choice(data.get("durability", "fsync"), "durability", DURABILITY_MODES)
    tables = _tables(data["tables"])
    replication = _replication(data.get("replication", {}))
    regions = _regions(data["regions"])
    triggers = _triggers(data.get("triggers", []), tables, regions)
    _trigger_runner_addresses(regions, triggers)
    return GroupConfig(
        group=group,
        durability=durability,
        tables=tables,
        replication=replication,
        regions=regions,
        path=path,
        triggers=triggers,
    )
