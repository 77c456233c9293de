"""The triggers section: functions run on a table's stream records, with Lambda's knobs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from meridian.config.addresses import Address, refuse_clashes
from meridian.config.errors import ConfigError
from meridian.config.filters import MAX_FILTERS, FilterPattern, parse_filter
from meridian.config.regions import (
    TRIGGER_LISTEN_PORT_OFFSET,
    TRIGGER_METRICS_PORT_OFFSET,
    RegionConfig,
    listen_addresses_of,
)
from meridian.config.tables import TableConfig
from meridian.config.values import (
    bool_value,
    choice_value,
    directory_value,
    duration_ms_value,
    duration_s_value,
    int_value,
    list_value,
    mapping_fields,
    name_value,
    show_value,
)
from meridian.pb import node_pb2 as pb

STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST")


FUNCTION_KINDS = ("python", "command", "url")


ON_FAILURE_KINDS = ("file", "table")


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


def _function(value: Any, path: str) -> FunctionConfig:
    fields = mapping_fields(value, path, required=(), optional=FUNCTION_KINDS)
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
        raise ConfigError(f'{where}: expected "module:function", got {show_value(target)}')
    if kind == "command":
        if not isinstance(target, list) or not target:
            raise ConfigError(
                f"{where}: expected a list of arguments like [python3, handler.py], "
                f"got {show_value(target)}"
            )
        for i, arg in enumerate(target):
            if not isinstance(arg, str) or (i == 0 and not arg):
                raise ConfigError(f"{where}[{i}]: expected a string, got {show_value(arg)}")
        return FunctionConfig(kind, tuple(target))
    if isinstance(target, str) and _URL_RE.fullmatch(target):
        return FunctionConfig(kind, (target,))
    raise ConfigError(f"{where}: expected an http:// or https:// URL, got {show_value(target)}")


def _trigger_regions(value: Any, path: str, regions: tuple[RegionConfig, ...]) -> tuple[str, ...]:
    known = [r.name for r in regions]
    if value is None:
        return tuple(known)
    names: list[str] = []
    for i, item in enumerate(list_value(value, path, "region")):
        if item not in known:
            raise ConfigError(
                f"{path}[{i}]: unknown region {show_value(item)} "
                f"(the group has: {', '.join(known)})"
            )
        if item in names:
            raise ConfigError(f"{path}[{i}]: region {show_value(item)} given twice")
        names.append(item)
    return tuple(names)


def _on_failure(
    value: Any, path: str, table: str, tables: tuple[TableConfig, ...]
) -> OnFailureConfig:
    fields = mapping_fields(value, path, required=(), optional=ON_FAILURE_KINDS)
    if len(fields) != 1:
        raise ConfigError(
            f"{path}: expected exactly one of file, table, got "
            f"{', '.join(sorted(fields)) or 'none'}"
        )
    ((kind, target),) = fields.items()
    where = f"{path}.{kind}"
    if kind == "file":
        return OnFailureConfig(kind, str(directory_value(target, where)))
    names = [t.name for t in tables]
    if target not in names:
        raise ConfigError(
            f"{where}: unknown table {show_value(target)} (the group has: {', '.join(names)})"
        )
    if target == table:
        raise ConfigError(f"{where}: must differ from the trigger's own table {show_value(table)}")
    spec = next(t for t in tables if t.name == target)
    if spec.partition_key.type != pb.KEY_TYPE_S or (
        spec.sort_key is not None and spec.sort_key.type == pb.KEY_TYPE_B
    ):
        raise ConfigError(
            f"{where}: table {show_value(target)} needs a string partition key and no binary sort "
            f"key to hold dead letters"
        )
    return OnFailureConfig(kind, target)


def _environment(value: Any, path: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: expected a mapping of NAME: value, got {show_value(value)}")
    out = []
    for name, text in value.items():
        if not isinstance(name, str) or not _ENV_NAME_RE.fullmatch(name):
            raise ConfigError(
                f"{path}: expected variable names like MY_SETTING, got {show_value(name)}"
            )
        if name.startswith("MERIDIAN_"):
            raise ConfigError(f"{path}.{name}: names starting with MERIDIAN_ are reserved")
        if not isinstance(text, str):
            raise ConfigError(
                f"{path}.{name}: expected a string (quote it), got {show_value(text)}"
            )
        out.append((name, text))
    return tuple(out)


def _max_record_age(value: Any, path: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value == -1:
        return -1
    try:
        return duration_s_value(value, path, 1, 7 * 86400)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (or -1 for no limit)") from None


def _trigger(
    value: Any, path: str, tables: tuple[TableConfig, ...], regions: tuple[RegionConfig, ...]
) -> TriggerConfig:
    fields = mapping_fields(
        value,
        path,
        required=("name", "table", "function", "starting_position"),
        optional=_TRIGGER_KEYS,
    )
    name = name_value(fields["name"], f"{path}.name", 1, 64)
    table = fields["table"]
    if table not in [t.name for t in tables]:
        raise ConfigError(
            f"{path}.table: unknown table {show_value(table)} "
            f"(the group has: {', '.join(t.name for t in tables)})"
        )
    trigger_regions = _trigger_regions(fields.get("regions"), f"{path}.regions", regions)
    function = _function(fields["function"], f"{path}.function")
    on_failure = None
    if "on_failure" in fields:
        on_failure = _on_failure(fields["on_failure"], f"{path}.on_failure", table, tables)
    filters = fields.get("filters", [])
    if not isinstance(filters, list):
        raise ConfigError(f"{path}.filters: expected a list of patterns, got {show_value(filters)}")
    if len(filters) > MAX_FILTERS:
        raise ConfigError(f"{path}.filters: at most {MAX_FILTERS} patterns, got {len(filters)}")
    return TriggerConfig(
        name=name,
        table=table,
        regions=trigger_regions,
        function=function,
        starting_position=choice_value(
            fields["starting_position"], f"{path}.starting_position", STARTING_POSITIONS
        ),
        batch_size=int_value(fields.get("batch_size", 100), f"{path}.batch_size", 1, 10000),
        batching_window_ms=duration_ms_value(
            fields.get("batching_window", 0), f"{path}.batching_window", 0, 300_000
        ),
        filters=tuple(parse_filter(item, f"{path}.filters[{i}]") for i, item in enumerate(filters)),
        max_retries=int_value(fields.get("max_retries", -1), f"{path}.max_retries", -1, 10000),
        bisect_on_error=bool_value(fields.get("bisect_on_error", False), f"{path}.bisect_on_error"),
        max_record_age_s=_max_record_age(
            fields.get("max_record_age", -1), f"{path}.max_record_age"
        ),
        report_batch_item_failures=bool_value(
            fields.get("report_batch_item_failures", False), f"{path}.report_batch_item_failures"
        ),
        on_failure=on_failure,
        enabled=bool_value(fields.get("enabled", True), f"{path}.enabled"),
        parallelization=int_value(
            fields.get("parallelization", 1), f"{path}.parallelization", 1, 10
        ),
        timeout_ms=duration_ms_value(fields.get("timeout", "30s"), f"{path}.timeout", 100, 900_000),
        environment=_environment(fields.get("environment", {}), f"{path}.environment"),
    )


def triggers_section(
    value: Any, tables: tuple[TableConfig, ...], regions: tuple[RegionConfig, ...]
) -> tuple[TriggerConfig, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"triggers: expected a list of triggers, got {show_value(value)}")
    triggers: list[TriggerConfig] = []
    for i, item in enumerate(value):
        trigger = _trigger(item, f"triggers[{i}]", tables, regions)
        for j, other in enumerate(triggers):
            if other.name == trigger.name:
                raise ConfigError(
                    f"triggers[{i}].name: duplicate trigger {show_value(trigger.name)} "
                    f"(also triggers[{j}])"
                )
        triggers.append(trigger)
    return tuple(triggers)


def check_trigger_runner_addresses(
    regions: tuple[RegionConfig, ...], triggers: tuple[TriggerConfig, ...]
) -> None:
    """Regions that run triggers need free gRPC and metrics addresses for their runner."""
    used = {name for t in triggers for name in t.regions}
    extra: list[tuple[str, Address, str]] = []
    for i, region in enumerate(regions):
        if region.name in used:
            extra.append(
                _runner_address(
                    i,
                    "listen",
                    region.trigger_listen,
                    region.replicator_listen,
                    ("replicator.listen", TRIGGER_LISTEN_PORT_OFFSET),
                )
            )
            extra.append(
                _runner_address(
                    i,
                    "metrics",
                    region.trigger_metrics_listen,
                    region.metrics_listen,
                    ("metrics.listen", TRIGGER_METRICS_PORT_OFFSET),
                )
            )
        if region.trigger_health is not None:
            extra.append((f"regions[{i}].triggers.health", region.trigger_health, ""))
    if extra:
        refuse_clashes([*listen_addresses_of(regions), *extra])


def _runner_address(
    index: int, key: str, address: Address | None, base: Address, default: tuple[str, int]
) -> tuple[str, Address, str]:
    """One trigger runner address with its YAML path and, when it is the default, a note
    saying how to choose another; ConfigError when the default does not exist."""
    path = f"regions[{index}].triggers.{key}"
    base_key, offset = default
    if address is None:
        raise ConfigError(f"{path}: required because {base_key} port + {offset} is above 65535")
    note = ""
    if address == Address(base.host, base.port + offset):
        note = (
            f" (the trigger runner's {'metrics ' if key == 'metrics' else ''}address defaults "
            f"to {base_key} port + {offset}; set triggers.{key} to choose another)"
        )
    return path, address, note
