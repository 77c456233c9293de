"""`meridian verify`: compare every region's content digest of each table and, where they
differ, walk the regions' keys together to name the first keys they disagree on."""

from __future__ import annotations

import argparse
import concurrent.futures
import sys
from collections.abc import Iterator
from typing import Any

from meridian.cli import credentials, output
from meridian.cli.credentials import Credentials
from meridian.cli.errors import CliError
from meridian.cli.output import emit
from meridian.cli.target import NodeConnection, Target, load_group
from meridian.config import GroupConfig, TableConfig
from meridian.daemon.exit_codes import EXIT_FAILURE, EXIT_OK
from meridian.model import render, schema
from meridian.model.render import item_json, to_json
from meridian.pb import node_pb2 as pb

DIFF_PAGE = 1000
MAX_DIFFERENCES = 10


def _group_connections(config: GroupConfig, creds: Credentials | None) -> dict[str, NodeConnection]:
    return {
        region.name: NodeConnection(Target.of_region(config, region.name, creds))
        for region in config.regions
    }


def _digests(
    connections: dict[str, NodeConnection], table: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """Digest of a table on every region, in parallel: (responses, failures by region)."""
    request = pb.DigestRequest(table=table)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(connections)) as pool:
        futures = {
            name: pool.submit(node.call, "Digest", request) for name, node in connections.items()
        }
    responses: dict[str, Any] = {}
    failures: dict[str, str] = {}
    for name, future in futures.items():
        try:
            responses[name] = future.result()
        except CliError as exc:
            text = str(exc)
            failures[name] = text if f"node {name} " in text else f"region {name}: {text}"
    return responses, failures


def _entries(node: NodeConnection, table: str) -> Iterator[Any]:
    """Every (key, version, tombstone, value hash) of a table on one node, in key order."""
    request = pb.DiffKeysRequest(table=table, limit=DIFF_PAGE)
    while True:
        response = node.call("DiffKeys", request)
        yield from response.entries
        if not response.HasField("last_evaluated_key"):
            return
        request.exclusive_start_key.CopyFrom(response.last_evaluated_key)


def _fingerprint(entry: Any) -> tuple[int, str, bool, str] | None:
    if entry is None:
        return None
    return (entry.version.hlc, entry.version.region, entry.tombstone, entry.value_hash)


def group_tables(
    connections: dict[str, NodeConnection], declared: list[TableConfig]
) -> tuple[list[pb.TableSpec], dict[str, list[str]]]:
    """The tables to compare: the group file's and every table all reachable regions hold
    (created at runtime through the catalog); and the tables only some regions hold (being
    created or deleted, or a region's set-aside copy), with those regions."""
    specs = {table.name: table.to_spec() for table in declared}
    holders: dict[str, list[str]] = {}
    reached: list[NodeConnection] = []
    for region, node in connections.items():
        try:
            names = node.call("ListTables", pb.ListTablesRequest()).tables
        except CliError:
            continue  # the digest step names the unreachable region
        reached.append(node)
        for name in names:
            holders.setdefault(name, []).append(region)
    partial = {n: r for n, r in holders.items() if len(r) < len(reached) and n not in specs}
    for name in sorted(set(holders) - set(specs) - set(partial)):
        request = pb.DescribeTableRequest(table=name)
        specs[name] = reached[0].call("DescribeTable", request).table.spec
    return [specs[name] for name in sorted(specs)], partial


def first_differences(
    connections: dict[str, NodeConnection], table: pb.TableSpec, limit: int = MAX_DIFFERENCES
) -> list[tuple[pb.Item, dict[str, Any]]]:
    """Walk every region's keys together in key order; the first keys the regions disagree
    on, each with what every region holds there (None: no entry)."""
    sch = schema.Schema(table)
    cursors = {name: _entries(node, table.name) for name, node in connections.items()}
    heads: dict[str, tuple[bytes, Any]] = {}

    def advance(name: str) -> None:
        entry = next(cursors[name], None)
        if entry is None:
            heads.pop(name, None)
        else:
            heads[name] = (sch.encode(entry.keys), entry)

    for name in cursors:
        advance(name)
    found: list[tuple[pb.Item, dict[str, Any]]] = []
    while heads and len(found) < limit:
        key = min(encoded for encoded, _ in heads.values())
        here: dict[str, Any] = {}
        for name in cursors:
            head = heads.get(name)
            here[name] = head[1] if head is not None and head[0] == key else None
        if len({_fingerprint(entry) for entry in here.values()}) > 1:
            keys = next(entry.keys for entry in here.values() if entry is not None)
            found.append((keys, here))
        for name, entry in here.items():
            if entry is not None:
                advance(name)
    return found


def _holding_json(entry: Any) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {
        "version": render.version_json(entry.version),
        "tombstone": entry.tombstone,
        "value_hash": entry.value_hash,
    }


def _holding_text(entry: Any) -> str:
    if entry is None:
        return "missing"
    if entry.tombstone:
        return f"deleted {render.version_text(entry.version)}"
    return f"item {render.version_text(entry.version)} #{entry.value_hash[:8]}"


def _verify_table(connections: dict[str, NodeConnection], table: pb.TableSpec) -> dict[str, Any]:
    responses, failures = _digests(connections, table.name)
    report: dict[str, Any] = {
        "table": table.name,
        "regions": [
            {
                "region": name,
                "items": response.items,
                "tombstones": response.tombstones,
                "digest": response.digest,
            }
            for name, response in responses.items()
        ],
    }
    if failures:
        report.update(identical=False, failures=failures, differences=[])
        return report
    identical = len({response.digest for response in responses.values()}) <= 1
    report["identical"] = identical
    report["differences"] = []
    if not identical:
        for keys, here in first_differences(connections, table):
            report["differences"].append(
                {
                    "keys": item_json(keys),
                    "regions": {name: _holding_json(entry) for name, entry in here.items()},
                    "text": {name: _holding_text(entry) for name, entry in here.items()},
                }
            )
    return report


def _print_verify(reports: list[dict[str, Any]], regions: list[str]) -> None:
    rows = [
        (r["table"], row["region"], row["items"], row["tombstones"], row["digest"][:16])
        for r in reports
        for row in r["regions"]
    ]
    emit(output.render_table(["TABLE", "REGION", "ITEMS", "TOMBSTONES", "DIGEST"], rows))
    for report in reports:
        name = report["table"]
        for failure in report.get("failures", {}).values():
            print(f"error: table {name}: {failure}", file=sys.stderr)
        if report["identical"] or report.get("failures"):
            continue
        differences = report["differences"]
        if not differences:
            emit(f"\n{name}: digests differ but no key differs (were writes in progress?)")
            continue
        emit(f"\n{name}: regions differ; first {len(differences)} differing keys:")
        table_rows = [
            [to_json(diff["keys"]), *(diff["text"][region] for region in regions)]
            for diff in differences
        ]
        emit(output.render_table(["KEY", *(r.upper() for r in regions)], table_rows))
    if all(report["identical"] for report in reports):
        emit("\nidentical: every region holds the same items, tombstones and versions")


def cmd_verify(args: argparse.Namespace) -> int:
    config = load_group(args.config)
    connections = _group_connections(config, credentials.resolve(args))
    try:
        tables, partial = group_tables(connections, list(config.tables))
        reports = [_verify_table(connections, table) for table in tables]
    finally:
        for node in connections.values():
            node.close()
    identical = all(report["identical"] for report in reports)
    if args.json:
        for report in reports:
            for diff in report["differences"]:
                del diff["text"]
        emit(to_json({"identical": identical, "tables": reports, "partial": partial}))
    else:
        _print_verify(reports, [region.name for region in config.regions])
        for name, regions in sorted(partial.items()):
            print(
                f"note: table {name} is only in {', '.join(regions)} (being created or "
                "deleted, or a set-aside copy): not compared"
            )
    return EXIT_OK if identical else EXIT_FAILURE
