"""Reading a region's observable state: digest, items with versions, stream, metrics.

Used by the agent inside each region's namespace once the group has healed and quiesced
(and for the metric samples taken during the run). Keys are the table's partition key
values (the chaos table has only a partition key, `pk`).
"""

from __future__ import annotations

import re
from typing import Any

from meridian.model.items import to_plain
from meridian.pb import client_pb2_grpc as pb_grpc
from meridian.pb import node_pb2 as pb

PAGE = 1000
RPC_TIMEOUT_S = 30.0


def key_of(item: pb.Item) -> str:
    return str(to_plain(item)["pk"])


async def digest(stub: pb_grpc.ClientStub, table: str) -> dict[str, Any]:
    r = await stub.Digest(pb.DigestRequest(table=table), timeout=RPC_TIMEOUT_S)
    return {"digest": r.digest, "items": r.items, "tombstones": r.tombstones}


async def head(stub: pb_grpc.ClientStub, table: str) -> int:
    r = await stub.DescribeStream(pb.DescribeStreamRequest(table=table), timeout=RPC_TIMEOUT_S)
    return int(r.head_sequence_number)


async def state(stub: pb_grpc.ClientStub, table: str) -> dict[str, dict[str, Any]]:
    """key -> {version, tombstone, hash, v, attrs}: versions from DiffKeys, values (and
    every attribute but the key and padding) from Scan."""
    entries: dict[str, dict[str, Any]] = {}
    start: pb.Item | None = None
    while True:
        req = pb.DiffKeysRequest(table=table, limit=PAGE)
        if start is not None:
            req.exclusive_start_key.CopyFrom(start)
        r = await stub.DiffKeys(req, timeout=RPC_TIMEOUT_S)
        for e in r.entries:
            entries[key_of(e.keys)] = {
                "version": [e.version.hlc, e.version.region],
                "tombstone": e.tombstone,
                "hash": e.value_hash,
                "v": None,
            }
        if not r.HasField("last_evaluated_key") or not r.entries:
            break
        start = r.last_evaluated_key
    start = None
    while True:
        scan = pb.ScanRequest(table=table, limit=PAGE)
        if start is not None:
            scan.exclusive_start_key.CopyFrom(start)
        s = await stub.Scan(scan, timeout=RPC_TIMEOUT_S)
        for item in s.items:
            plain = to_plain(item)
            entry = entries.setdefault(
                str(plain["pk"]), {"version": None, "tombstone": False, "hash": None}
            )
            entry["v"] = plain.get("v")
            entry["attrs"] = {n: v for n, v in plain.items() if n not in ("pk", "pad")}
        if not s.HasField("last_evaluated_key") or not s.items:
            break
        start = s.last_evaluated_key
    return entries


def record_dict(rec: pb.StreamRecord) -> dict[str, Any]:
    new = to_plain(rec.new_image) if rec.HasField("new_image") else {}
    return {
        "seq": rec.sequence_number,
        "key": key_of(rec.keys),
        "version": [rec.version.hlc, rec.version.region],
        "event": pb.EventName.Name(rec.event_name),
        "v": new.get("v"),
        "created_ms": rec.creation_time_ms,
    }


async def stream(stub: pb_grpc.ClientStub, table: str) -> list[dict[str, Any]]:
    """Every record of the table's stream from TRIM_HORIZON, in sequence order."""
    it = (
        await stub.GetShardIterator(
            pb.GetShardIteratorRequest(table=table, type=pb.TRIM_HORIZON), timeout=RPC_TIMEOUT_S
        )
    ).shard_iterator
    records: list[dict[str, Any]] = []
    while True:
        r = await stub.GetRecords(
            pb.GetRecordsRequest(shard_iterator=it, limit=PAGE), timeout=RPC_TIMEOUT_S
        )
        records.extend(record_dict(rec) for rec in r.records)
        it = r.next_shard_iterator
        if not r.records:
            return records


# --------------------------------------------------------------------------- metrics

_LINE = re.compile(r"^(?P<name>[A-Za-z_:][\w:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            continue
        labels = dict(_LABEL.findall(m.group("labels") or ""))
        try:
            samples.append((m.group("name"), labels, float(m.group("value"))))
        except ValueError:
            continue
    return samples


def replication_sample(text: str) -> dict[str, dict[str, float]]:
    """Per source region: lag seconds, pending records (all tables), clock rejections,
    resyncs and whether the link is STREAMING, from one replicator's /metrics page; and per
    claimed region, the handshakes this replicator refused as a source (`refusals`)."""
    out: dict[str, dict[str, float]] = {
        "lag": {},
        "pending": {},
        "rejections": {},
        "streaming": {},
        "resyncs": {},
        "refusals": {},
    }
    for name, labels, value in parse_metrics(text):
        src = labels.get("source", "")
        if name == "meridian_replication_lag_seconds":
            out["lag"][src] = value
        elif name == "meridian_replication_pending_records":
            out["pending"][src] = out["pending"].get(src, 0.0) + value
        elif name == "meridian_replication_clock_rejections_total":
            out["rejections"][src] = value
        elif name == "meridian_replication_resyncs_total":
            out["resyncs"][src] = value
        elif name == "meridian_replication_handshake_refusals_total":
            if labels.get("side") == "source":
                out["refusals"][labels.get("target", "")] = value
        elif name == "meridian_replication_link_state" and labels.get(name) == "STREAMING":
            out["streaming"][src] = value
    return out
