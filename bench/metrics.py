"""Reading a replicator's Prometheus metrics: the replication latency histogram."""

from __future__ import annotations

import asyncio
import urllib.request
from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families

LATENCY = "meridian_replication_latency_seconds"


def _fetch(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
        return response.read().decode()


async def latency_buckets(address: str) -> dict[float, float]:
    """Cumulative latency bucket counts (upper bound in seconds -> count), summed over pairs."""
    text = await asyncio.to_thread(_fetch, address)
    buckets: dict[float, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        if family.name != LATENCY:
            continue
        for sample in family.samples:
            if sample.name == LATENCY + "_bucket":
                buckets[float(sample.labels["le"])] += sample.value
    return dict(buckets)


def delta(after: dict[float, float], before: dict[float, float]) -> list[tuple[float, float]]:
    """Bucket counts added between two scrapes, sorted by upper bound."""
    return sorted((le, count - before.get(le, 0.0)) for le, count in after.items())
