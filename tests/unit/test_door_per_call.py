"""The doors count and time requests through labelled series looked up once per operation and
code: the same series prometheus' labels() gives."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from regionnode.metrics import NodeMetrics


def test_requests_are_counted_and_timed_in_their_labelled_series() -> None:
    registry = CollectorRegistry()
    metrics = NodeMetrics(registry)
    calls = [("PutItem", "OK", 0.0003)] * 3 + [
        ("PutItem", "INVALID_ARGUMENT", 0.002),
        ("DynamoDB.PutItem", "OK", 0.004),
    ]
    for operation, code, seconds in calls:
        metrics.request_done(operation, code, seconds)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("meridian_node_requests_total", operation="PutItem", code="OK") == 3
    assert value("meridian_node_requests_total", operation="PutItem", code="INVALID_ARGUMENT") == 1
    assert value("meridian_node_requests_total", operation="DynamoDB.PutItem", code="OK") == 1
    assert value("meridian_node_request_seconds_count", operation="PutItem") == 4
    assert value("meridian_node_request_seconds_sum", operation="PutItem") == pytest.approx(0.0029)
    assert value("meridian_node_request_seconds_bucket", operation="PutItem", le="0.0005") == 3
    assert value("meridian_node_request_seconds_count", operation="DynamoDB.PutItem") == 1
