"""Reading Prometheus metrics of the nodes and replicators (text format over HTTP)."""

from __future__ import annotations

import asyncio
import urllib.request
from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families

LATENCY = "meridian_replication_latency_seconds"

Samples = list[tuple[str, dict[str, str], float]]


def _fetch(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
        return response.read().decode()


async def scrape(address: str) -> Samples:
    """Every sample: (name, labels, value)."""
    text = await asyncio.to_thread(_fetch, address)
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples called `name` whose labels include `labels`."""
    return sum(
        value
        for n, lab, value in samples
        if n == name and all(lab.get(k) == v for k, v in labels.items())
    )


def latency_buckets(samples: Samples) -> dict[float, float]:
    """Cumulative replication latency buckets (upper bound in seconds -> count), all pairs."""
    buckets: dict[float, float] = defaultdict(float)
    for name, labels, value in samples:
        if name == LATENCY + "_bucket":
            buckets[float(labels["le"])] += value
    return dict(buckets)


def delta(after: dict[float, float], before: dict[float, float]) -> list[tuple[float, float]]:
    """Bucket counts added between two scrapes, sorted by upper bound."""
    return sorted((le, count - before.get(le, 0.0)) for le, count in after.items())
