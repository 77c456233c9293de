"""`meridian triggers status`: every trigger's checkpoint, lag, counters and dead letters.

Per region and trigger: the saved checkpoint (file), how many stream records lie beyond it
(the node's stream head minus the checkpoint, filtered records included), and from the
region's trigger runner metrics: iterator age, invocations, errors and records processed
since the runner started. The dead-letter count comes from the checkpoint file (a total
over every run).
"""

from __future__ import annotations

import concurrent.futures
import json
from typing import Any

import grpc
from prometheus_client.parser import text_string_to_metric_families

from meridian.cli.metrics_fetch import fetch_metrics
from meridian.cli.output import render_table
from meridian.cli.target import Target, open_channel
from meridian.config import GroupConfig, RegionConfig
from meridian.model.render import time_text
from meridian.pb import client_pb2_grpc
from meridian.pb import node_pb2 as pb
from meridian.wire.oneline import one_line
from triggers import checkpoint

Samples = dict[tuple[str, str], dict[str, float]]  # (trigger, metric) -> labels text -> value


def scrape(
    config: GroupConfig, region: RegionConfig, timeout: float
) -> dict[str, dict[str, float]] | None:
    """Metric samples of a region's trigger runner by trigger name; None when it does not
    answer."""
    assert region.trigger_metrics_listen is not None
    try:
        text = fetch_metrics(config, region, region.trigger_metrics_listen, timeout)
    except (OSError, ValueError):
        return None
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            trigger = sample.labels.get("trigger")
            if trigger is None:
                continue
            name = sample.name
            if sample.labels.get("outcome"):
                name = f"{name}:{sample.labels['outcome']}"
            out.setdefault(trigger, {})[name] = float(sample.value)
    return out


def _heads(
    config: GroupConfig, region: RegionConfig, tables: set[str], timeout: float
) -> dict[str, int]:
    channel = open_channel(Target.of_region(config, region.name, None))
    node = client_pb2_grpc.ClientStub(channel)
    heads: dict[str, int] = {}
    with channel:
        for table in sorted(tables):
            try:
                reply = node.DescribeStream(pb.DescribeStreamRequest(table=table), timeout=timeout)
            except grpc.RpcError:
                continue
            heads[table] = int(reply.head_sequence_number)
    return heads


def _region_rows(config: GroupConfig, region: RegionConfig, timeout: float) -> list[dict[str, Any]]:
    triggers = config.triggers_of(region.name)
    if not triggers:
        return []
    address = str(region.trigger_metrics_listen)
    samples = scrape(config, region, timeout)
    heads = _heads(config, region, {t.table for t in triggers}, timeout)
    rows = []
    for trigger in triggers:
        try:
            saved = checkpoint.load(checkpoint.path_for(region, trigger.name))
            problem = ""
        except checkpoint.CheckpointError as exc:
            saved, problem = None, str(exc)
        metrics = (samples or {}).get(trigger.name, {})
        if not trigger.enabled:
            state = "DISABLED"
        elif samples is None:
            state = "NOT_RUNNING"
        elif metrics.get("meridian_trigger_enabled", 0) == 1:
            state = "RUNNING"
        else:
            state = "STARTING"
        position = saved.sequence_number if saved else None
        head = heads.get(trigger.table)
        rows.append(
            {
                "region": region.name,
                "trigger": trigger.name,
                "table": trigger.table,
                "state": state,
                "checkpoint": position,
                "checkpoint_time": time_text(saved.updated_ms) if saved else None,
                "behind": None if head is None or position is None else max(0, head - position),
                "iterator_age_seconds": metrics.get("meridian_trigger_iterator_age_seconds"),
                "invocations": _int(metrics.get("meridian_trigger_invocations_total")),
                "errors": _int(metrics.get("meridian_trigger_errors_total")),
                "records": _int(metrics.get("meridian_trigger_records_total:processed")),
                "dead_letters": saved.dead_letters if saved else None,
                "trimmed": saved.trimmed if saved else None,
                "metrics": address,
                "error": problem,
            }
        )
    return rows


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def collect(
    config: GroupConfig, region: str | None = None, timeout: float = 2.0
) -> list[dict[str, Any]]:
    regions = [config.region(region)] if region else list(config.regions)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(regions))) as pool:
        parts = pool.map(lambda r: _region_rows(config, r, timeout), regions)
        return [row for part in parts for row in part]


def render(rows: list[dict[str, Any]], as_json: bool) -> str:
    if as_json:
        return json.dumps({"triggers": rows}, indent=2)
    if not rows:
        return "no triggers"
    headers = [
        "region",
        "trigger",
        "table",
        "state",
        "checkpoint",
        "behind",
        "age_s",
        "invocations",
        "errors",
        "records",
        "dead_letters",
    ]
    body = [
        [
            r["region"],
            r["trigger"],
            r["table"],
            r["state"],
            r["checkpoint"],
            r["behind"],
            None if r["iterator_age_seconds"] is None else round(r["iterator_age_seconds"], 3),
            r["invocations"],
            r["errors"],
            r["records"],
            r["dead_letters"],
        ]
        for r in rows
    ]
    lines = [render_table(headers, body)]
    lines += [f"{r['region']}/{r['trigger']}: {one_line(r['error'])}" for r in rows if r["error"]]
    return "\n".join(lines)
