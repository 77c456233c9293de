"""Prometheus metrics of a trigger runner, per region and trigger."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from meridian.daemon.process_metrics import add_process_metrics

DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
LABELS = ["region", "trigger"]


class TriggerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        add_process_metrics(registry, "triggers")
        self.invocations = Counter(
            "meridian_trigger_invocations",
            "Function invocations (retries included)",
            LABELS,
            registry=registry,
        )
        self.errors = Counter(
            "meridian_trigger_errors",
            "Invocations that failed: error, crash, timeout or reported item failures",
            LABELS,
            registry=registry,
        )
        self.duration = Histogram(
            "meridian_trigger_duration_seconds",
            "Time of one invocation",
            LABELS,
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.records = Counter(
            "meridian_trigger_records",
            "Stream records by outcome: processed (the function succeeded) or filtered",
            [*LABELS, "outcome"],
            registry=registry,
        )
        self.iterator_age = Gauge(
            "meridian_trigger_iterator_age_seconds",
            "Age of the oldest record not yet finished (0 when caught up)",
            LABELS,
            registry=registry,
        )
        self.dead_letters = Counter(
            "meridian_trigger_dead_letters",
            "Records given up on (sent to the on-failure destination, or dropped without one)",
            LABELS,
            registry=registry,
        )
        self.checkpoint = Gauge(
            "meridian_trigger_checkpoint_sequence",
            "Stream position below which every record is finished (saved)",
            LABELS,
            registry=registry,
        )
        self.enabled = Gauge(
            "meridian_trigger_enabled", "1 when the trigger runs", LABELS, registry=registry
        )
