"""The replication section: batch size, clock offset, tombstone lifetimes, heartbeats."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meridian.config.errors import ConfigError
from meridian.config.ttl import SweeperConfig, sweeper_section
from meridian.config.values import (
    choice_value,
    duration_ms_value,
    duration_s_value,
    format_duration,
    int_value,
    mapping_fields,
    show_value,
)

BOOTSTRAP_READS = ("serve", "refuse")


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
    ttl: SweeperConfig = field(default_factory=SweeperConfig)
    # Entries per message of a bootstrap or resync copy (fewer: less memory, more messages).
    bootstrap_batch: int = 8000


def replication_section(value: Any) -> ReplicationConfig:
    path = "replication"
    fields = mapping_fields(
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
            "ttl",
            "bootstrap_batch",
        ),
    )
    defaults = ReplicationConfig()
    batch_size = int_value(
        fields.get("batch_size", defaults.batch_size), f"{path}.batch_size", 1, 10000
    )
    offset_ms = duration_ms_value(
        fields.get("max_clock_offset", "5s"), f"{path}.max_clock_offset", 1, 3_600_000
    )
    tombstone_s = duration_s_value(
        fields.get("tombstone_lifetime", "24h"), f"{path}.tombstone_lifetime", 1, 365 * 86400
    )
    heartbeat_ms = duration_ms_value(
        fields.get("heartbeat_interval", "1s"), f"{path}.heartbeat_interval", 10, 600_000
    )
    reads = choice_value(
        fields.get("reads_while_bootstrapping", "serve"),
        f"{path}.reads_while_bootstrapping",
        BOOTSTRAP_READS,
    )
    max_tombstone_s = _max_tombstone_lifetime(fields, tombstone_s)
    sweeper = sweeper_section(fields.get("ttl", {}), f"{path}.ttl")
    bootstrap_batch = int_value(
        fields.get("bootstrap_batch", defaults.bootstrap_batch),
        f"{path}.bootstrap_batch",
        1,
        100_000,
    )
    return ReplicationConfig(
        batch_size,
        offset_ms,
        tombstone_s,
        heartbeat_ms / 1000,
        reads,
        max_tombstone_s,
        sweeper,
        bootstrap_batch,
    )


def _max_tombstone_lifetime(fields: dict[str, Any], lifetime_s: int) -> int:
    """At least the tombstone lifetime; by default 7 days, or the lifetime when longer."""
    path = "replication.tombstone_max_lifetime"
    if "tombstone_max_lifetime" not in fields:
        return max(DEFAULT_TOMBSTONE_MAX_LIFETIME_S, lifetime_s)
    value = fields["tombstone_max_lifetime"]
    seconds = duration_s_value(value, path, 1, 365 * 86400)
    if seconds < lifetime_s:
        raise ConfigError(
            f"{path}: expected at least tombstone_lifetime ({format_duration(lifetime_s * 1000)}), "
            f"got {show_value(value)}"
        )
    return seconds
