"""Prometheus metrics of a replicator: per ordered region pair (source -> target), and the
state of its own region (`region`: bootstrap progress and region state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram

from meridian.daemon.process_metrics import add_process_metrics

LAG_BUCKETS = (
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
)
STATES = (
    "CONNECTING",
    "HANDSHAKING",
    "STREAMING",
    "CLOCK_REJECTED",
    "REFUSED",
    "RESYNC_NEEDED",
    "RESYNCING",
    "WAITING",
    "DOWN",
)
REGION_STATES = ("STARTING", "BOOTSTRAPPING", "ACTIVE")


class ReplicatorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        pair = ["source", "target"]
        self.registry = registry
        add_process_metrics(registry, "replicator")
        self.latency = Histogram(
            "meridian_replication_latency_seconds",
            "Apply time minus origin write time of replicated records",
            pair,
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.lag = Gauge(
            "meridian_replication_lag_seconds",
            "How far behind the target may be: age of the newest point it is known complete at",
            pair,
            registry=registry,
        )
        self.pending = Gauge(
            "meridian_replication_pending_records",
            "Origin stream head minus applied position",
            [*pair, "table"],
            registry=registry,
        )
        self.applied = Counter(
            "meridian_replication_applied", "Replicated records applied", pair, registry=registry
        )
        self.conflicts = Counter(
            "meridian_replication_conflicts",
            "Last-writer-wins conflicts: replicated records that lost to a newer version "
            "(outcome lost_to_newer); re-sent duplicates and stale records are counted by the "
            "node's meridian_node_replicated_records_total, clock rejections separately",
            [*pair, "outcome"],
            registry=registry,
        )
        self.clock_rejections = Counter(
            "meridian_replication_clock_rejections",
            "Records refused because their clock was beyond max_clock_offset",
            pair,
            registry=registry,
        )
        self.reconnects = Counter(
            "meridian_replication_reconnects", "Link reconnect attempts", pair, registry=registry
        )
        self.state = Enum(
            "meridian_replication_link_state",
            "The link's state (label meridian_replication_link_state)",
            pair,
            states=list(STATES),
            registry=registry,
        )
        self.refusals = Counter(
            "meridian_replication_handshake_refusals",
            "Handshakes refused, by side",
            [*pair, "side"],
            registry=registry,
        )

        self.resyncs = Counter(
            "meridian_replication_resyncs",
            "Snapshot merges after a link fell behind",
            pair,
            registry=registry,
        )
        self.bootstrap_entries = Gauge(
            "meridian_replication_bootstrap_entries",
            "Entries copied by this region's bootstrap",
            ["region"],
            registry=registry,
        )
        self.bootstrap_estimate = Gauge(
            "meridian_replication_bootstrap_entries_estimate",
            "Entries the bootstrap expects to copy",
            ["region"],
            registry=registry,
        )
        self.bootstrap_bytes = Gauge(
            "meridian_replication_bootstrap_bytes",
            "Bytes copied by this region's bootstrap",
            ["region"],
            registry=registry,
        )
        self.region_state = Enum(
            "meridian_replication_region_state",
            "This region's state: STARTING, BOOTSTRAPPING (copying a peer) or ACTIVE",
            ["region"],
            states=list(REGION_STATES),
            registry=registry,
        )

    def set_state(self, source: str, target: str, state: str) -> None:
        self.state.labels(source, target).state(state)
