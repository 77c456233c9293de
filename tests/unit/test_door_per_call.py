"""The client door's per-call shortcuts: where a large commit is written, and requests counted
through cached labelled series (the same series prometheus' labels() gives)."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from regionnode.metrics import NodeMetrics
from regionnode.writer import THREAD_WRITE_ENTRIES, write_in_thread


@pytest.mark.parametrize(
    ("entries", "in_thread"),
    [
        (1, False),  # one put: its item, its record and the clock
        (3, False),
        (THREAD_WRITE_ENTRIES - 1, False),
        (THREAD_WRITE_ENTRIES, True),
        (2001, True),  # a BatchWriteItem of 1000 puts
    ],
)
def test_where_a_commit_is_written(entries: int, in_thread: bool) -> None:
    assert write_in_thread(entries) is in_thread


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
