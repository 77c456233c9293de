"""Time-to-live settings: a table's `ttl` (its attribute, whether reads hide expired items)
and the node's sweeper (`replication.ttl`: how often it runs, how fast it deletes, when
another region's items are taken over)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meridian.config.errors import ConfigError
from meridian.config.values import (
    bool_value,
    duration_ms_value,
    duration_s_value,
    int_value,
    mapping_fields,
    show_value,
)


@dataclass(frozen=True, slots=True)
class TableTtl:
    attribute: str
    hide_expired: bool = False


@dataclass(frozen=True, slots=True)
class SweeperConfig:
    interval_s: float = 2.0  # how often the sweeper looks for expired items
    max_deletes_per_second: int = 1000  # so that a mass expiry does not starve client writes
    takeover_s: int = 60  # after this, any region expires an item its writer has not


def table_ttl(value: Any, path: str) -> TableTtl:
    fields = mapping_fields(value, path, required=("attribute",), optional=("hide_expired",))
    attribute = fields["attribute"]
    if not isinstance(attribute, str) or not 1 <= len(attribute) <= 255:
        raise ConfigError(
            f"{path}.attribute: expected an attribute name of 1 to 255 characters, "
            f"got {show_value(attribute)}"
        )
    hide = bool_value(fields.get("hide_expired", False), f"{path}.hide_expired")
    return TableTtl(attribute, hide)


def sweeper_section(value: Any, path: str) -> SweeperConfig:
    fields = mapping_fields(
        value, path, required=(), optional=("interval", "max_deletes_per_second", "takeover")
    )
    defaults = SweeperConfig()
    interval_ms = duration_ms_value(fields.get("interval", "2s"), f"{path}.interval", 10, 3_600_000)
    rate = int_value(
        fields.get("max_deletes_per_second", defaults.max_deletes_per_second),
        f"{path}.max_deletes_per_second",
        1,
        1_000_000,
    )
    takeover = duration_s_value(fields.get("takeover", "60s"), f"{path}.takeover", 1, 30 * 86400)
    return SweeperConfig(interval_ms / 1000, rate, takeover)
