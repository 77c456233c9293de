"""`meridian triggers status`: every trigger's checkpoint, lag, counters and dead letters,
in every region (the rows: meridian/daemon/trigger_status.py; the stream heads are read
over each region's client door).
"""

from __future__ import annotations

import concurrent.futures
import json
from typing import Any

import grpc

from meridian.cli.output import render_table
from meridian.cli.target import Target, open_channel
from meridian.config import GroupConfig, RegionConfig
from meridian.daemon import trigger_status
from meridian.pb import client_pb2_grpc
from meridian.pb import node_pb2 as pb
from meridian.wire.oneline import one_line


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
    if not config.triggers_of(region.name):
        return []
    samples = trigger_status.scrape(config, region, timeout)
    heads = _heads(config, region, trigger_status.tables_of(config, region), timeout)
    return trigger_status.rows(config, region, samples, heads)


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
