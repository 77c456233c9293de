"""Prometheus metrics of a region node. One registry per node, so tests can run several."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from meridian.daemon.process_metrics import add_process_metrics
from regionnode.store import Store

LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)


class StoreCollector(Collector):
    """Stream positions and store size, read when scraped."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        head = GaugeMetricFamily(
            "meridian_node_stream_head_sequence", "Newest stream sequence number", labels=["table"]
        )
        trim = GaugeMetricFamily(
            "meridian_node_stream_trim_sequence",
            "Oldest readable stream sequence number",
            labels=["table"],
        )
        for name, table in self.store.tables.items():
            head.add_metric([name], table.head)
            trim.add_metric([name], table.trim)
        horizon = GaugeMetricFamily(
            "meridian_node_rebuild_horizon_seconds",
            "Per peer: tombstones stamped before this time (epoch seconds) went without its "
            "confirmation; its older records and snapshots are not taken",
            labels=["peer"],
        )
        for peer, h in sorted(self.store.horizons.items()):
            horizon.add_metric([peer], h.horizon_ms / 1000)
        yield horizon
        aside = GaugeMetricFamily(
            "meridian_node_tables_set_aside",
            "Tables whose data this region kept under another name: another region's "
            "CreateTable of the name with another key schema came first",
        )
        aside.add_metric([], len(self.store.set_aside_tables()))
        yield aside
        size = GaugeMetricFamily("meridian_node_store_bytes", "Estimated store size in bytes")
        size.add_metric([], self.store.size_bytes())
        yield head
        yield trim
        yield size


class NodeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        add_process_metrics(registry, "node")
        self._request_series: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        self.requests = Counter(
            "meridian_node_requests",
            "Requests by operation and status code",
            ["operation", "code"],
            registry=registry,
        )
        self.latency = Histogram(
            "meridian_node_request_seconds",
            "Request latency by operation",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.replicated = Counter(
            "meridian_node_replicated_records",
            "Replicated records by origin and outcome",
            ["origin", "outcome"],
            registry=registry,
        )
        self.tombstones_collected = Counter(
            "meridian_node_tombstones_collected",
            "Tombstones dropped after their lifetime",
            registry=registry,
        )
        self.tombstones_forced = Counter(
            "meridian_node_tombstones_forced",
            "Tombstones collected at tombstone_max_lifetime without every peer's confirmation",
            registry=registry,
        )
        self.snapshot_removed = Counter(
            "meridian_node_snapshot_removed",
            "Items removed by a snapshot merge because its source showed them deleted",
            registry=registry,
        )
        self.commit_operations = Histogram(
            "meridian_node_commit_operations",
            "Operations per group-committed write batch",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=registry,
        )
        self.ttl_expired = Counter(
            "meridian_node_ttl_expired_items",
            "Items this region deleted because their time to live passed",
            ["table"],
            registry=registry,
        )
        self.ttl_lag = Gauge(
            "meridian_node_ttl_sweeper_lag_seconds",
            "How long the oldest due item not yet expired here has been due (items another "
            "region wrote wait for it up to replication.ttl.takeover)",
            ["table"],
            registry=registry,
        )

    def request_done(self, operation: str, code: str, seconds: float) -> None:
        """Count and time one request. The labelled series are looked up once per operation
        and code (both come from fixed sets): prometheus' labels() costs about 2 us a call."""
        series = self._request_series.get((operation, code))
        if series is None:
            series = self._request_series[(operation, code)] = (
                self.requests.labels(operation, code),
                self.latency.labels(operation),
            )
        series[0].inc()
        series[1].observe(seconds)

    def watch_store(self, store: Store) -> None:
        self.registry.register(StoreCollector(store))
