"""Group config loader: every rule is a row in a table of (mutation, expected message)."""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from meridian import config
from meridian.config import (
    Address,
    ConfigError,
    GroupConfig,
    KeyAttr,
    ReplicationConfig,
    parse,
    parse_address,
    parse_duration_ms,
    same_machine,
)
from meridian.pb import node_pb2 as pb

REPO = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "deploy" / "local" / "group.yaml"
FILE = pathlib.Path("group.yaml")


def _region(name: str, n: int) -> dict[str, Any]:
    return {
        "name": name,
        "node": {"listen": f"127.0.0.1:710{n}", "data_dir": f"var/{name}"},
        "replicator": {"listen": f"127.0.0.1:720{n}"},
        "metrics": {"listen": f"127.0.0.1:910{n}"},
    }


BASE: dict[str, Any] = {
    "group": "demo",
    "tables": [
        {
            "name": "orders",
            "partition_key": {"name": "pk", "type": "S"},
            "sort_key": {"name": "sk", "type": "S"},
        }
    ],
    "regions": [_region("us-east", 1), _region("eu-west", 2), _region("ap-south", 3)],
}

Mutation = Callable[[dict[str, Any]], None]


def text_of(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False)


def parse_doc(doc: Any) -> GroupConfig:
    return parse(text_of(doc), FILE)


def mutated(mutation: Mutation) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    mutation(doc)
    return doc


def _walk(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def put(*path_and_value: Any) -> Mutation:
    *path, value = path_and_value

    def apply(doc: dict[str, Any]) -> None:
        _walk(doc, tuple(path[:-1]))[path[-1]] = value

    return apply


def drop(*path: Any) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        del _walk(doc, path[:-1])[path[-1]]

    return apply


def rename(*path_and_new: Any) -> Mutation:
    *path, new = path_and_new

    def apply(doc: dict[str, Any]) -> None:
        parent = _walk(doc, tuple(path[:-1]))
        parent[new] = parent.pop(path[-1])

    return apply


def append(*path_and_item: Any) -> Mutation:
    *path, item = path_and_item

    def apply(doc: dict[str, Any]) -> None:
        _walk(doc, tuple(path)).append(copy.deepcopy(item))

    return apply


def both(*mutations: Mutation) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(doc)

    return apply


NAME_RULE = 'expected 1 to 64 letters, digits, "_", "." or "-"'
TABLE_RULE = 'expected 3 to 255 letters, digits, "_", "." or "-"'
DURATION = "expected a duration like 500ms, 5s, 10m, 24h, 7d or whole seconds"
VIEWS = "KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES"
HOST_RULE = "expected HOST:PORT with HOST an IPv4 address, a host name or [IPv6]"
T0 = ("tables", 0)
R0 = ("regions", 0)
R1 = ("regions", 1)


TRIGGER: dict[str, Any] = {
    "name": "count",
    "table": "orders",
    "function": {"python": "handlers:count"},
    "starting_position": "TRIM_HORIZON",
}
TG = ("triggers", 0)


def with_trigger(*mutations: Mutation) -> Mutation:
    """BASE plus a second table and one valid trigger, then ``mutations``."""

    def apply(doc: dict[str, Any]) -> None:
        doc["tables"].append({"name": "dead", "partition_key": {"name": "pk", "type": "S"}})
        doc["triggers"] = [copy.deepcopy(TRIGGER)]
        for mutation in mutations:
            mutation(doc)

    return apply


FN = "expected exactly one of python, command, url"
TRIGGER_INVALID: list[tuple[str, Mutation, str]] = [
    (
        "triggers-mapping",
        put("triggers", {"a": 1}),
        "triggers: expected a list of triggers, got a mapping",
    ),
    (
        "trigger-not-mapping",
        put("triggers", ["count"]),
        'triggers[0]: expected a mapping, got "count"',
    ),
    (
        "trigger-unknown-key",
        with_trigger(put(*TG, "memory", 128)),
        'triggers[0]: unknown key "memory" (expected one of: batch_size, batching_window, ',
    ),
    ("trigger-name-missing", with_trigger(drop(*TG, "name")), "triggers[0].name: required"),
    (
        "trigger-name-bad",
        with_trigger(put(*TG, "name", "my trigger")),
        f"triggers[0].name: {NAME_RULE}",
    ),
    (
        "trigger-duplicate",
        with_trigger(append("triggers", TRIGGER)),
        'triggers[1].name: duplicate trigger "count" (also triggers[0])',
    ),
    (
        "trigger-table-unknown",
        with_trigger(put(*TG, "table", "ordres")),
        'triggers[0].table: unknown table "ordres" (the group has: orders, dead)',
    ),
    (
        "trigger-position-missing",
        with_trigger(drop(*TG, "starting_position")),
        "triggers[0].starting_position: required",
    ),
    (
        "trigger-position-bad",
        with_trigger(put(*TG, "starting_position", "AT_TIMESTAMP")),
        'triggers[0].starting_position: expected one of TRIM_HORIZON, LATEST, got "AT_TIMESTAMP"',
    ),
    (
        "trigger-regions-unknown",
        with_trigger(put(*TG, "regions", ["us-east", "mars"])),
        'triggers[0].regions[1]: unknown region "mars" (the group has: us-east, eu-west, ap-south)',
    ),
    (
        "trigger-regions-twice",
        with_trigger(put(*TG, "regions", ["us-east", "us-east"])),
        'triggers[0].regions[1]: region "us-east" given twice',
    ),
    (
        "trigger-regions-empty",
        with_trigger(put(*TG, "regions", [])),
        "triggers[0].regions: expected at least one region",
    ),
    (
        "function-none",
        with_trigger(put(*TG, "function", {})),
        f"triggers[0].function: {FN}, got none",
    ),
    (
        "function-two",
        with_trigger(put(*TG, "function", {"python": "a:b", "url": "http://x"})),
        f"triggers[0].function: {FN}, got python, url",
    ),
    (
        "function-kind-unknown",
        with_trigger(put(*TG, "function", {"lambda": "arn"})),
        'triggers[0].function: unknown key "lambda" (expected one of: command, python, url)',
    ),
    (
        "python-no-colon",
        with_trigger(put(*TG, "function", {"python": "handlers.count"})),
        'triggers[0].function.python: expected "module:function", got "handlers.count"',
    ),
    (
        "command-string",
        with_trigger(put(*TG, "function", {"command": "python3 h.py"})),
        "triggers[0].function.command: expected a list of arguments like [python3, handler.py]",
    ),
    (
        "command-arg-int",
        with_trigger(put(*TG, "function", {"command": ["h", 5]})),
        "triggers[0].function.command[1]: expected a string, got 5",
    ),
    (
        "url-scheme",
        with_trigger(put(*TG, "function", {"url": "ftp://host/x"})),
        'triggers[0].function.url: expected an http:// or https:// URL, got "ftp://host/x"',
    ),
    (
        "batch-size-zero",
        with_trigger(put(*TG, "batch_size", 0)),
        "triggers[0].batch_size: expected an integer from 1 to 10000, got 0",
    ),
    (
        "batch-size-big",
        with_trigger(put(*TG, "batch_size", 10001)),
        "triggers[0].batch_size: expected an integer from 1 to 10000",
    ),
    (
        "window-too-long",
        with_trigger(put(*TG, "batching_window", "301s")),
        'triggers[0].batching_window: expected a duration from 0s to 5m, got "301s"',
    ),
    (
        "retries-low",
        with_trigger(put(*TG, "max_retries", -2)),
        "triggers[0].max_retries: expected an integer from -1 to 10000, got -2",
    ),
    (
        "bisect-text",
        with_trigger(put(*TG, "bisect_on_error", "yes")),
        'triggers[0].bisect_on_error: expected true or false, got "yes"',
    ),
    (
        "age-zero",
        with_trigger(put(*TG, "max_record_age", 0)),
        "triggers[0].max_record_age: expected a duration from 1s to 7d, got 0 (or -1 for no limit)",
    ),
    (
        "age-too-long",
        with_trigger(put(*TG, "max_record_age", "8d")),
        'triggers[0].max_record_age: expected a duration from 1s to 7d, got "8d" (or -1',
    ),
    (
        "report-int",
        with_trigger(put(*TG, "report_batch_item_failures", 1)),
        "triggers[0].report_batch_item_failures: expected true or false, got 1",
    ),
    (
        "enabled-null",
        with_trigger(put(*TG, "enabled", None)),
        "triggers[0].enabled: expected true or false, got null",
    ),
    (
        "parallel-high",
        with_trigger(put(*TG, "parallelization", 11)),
        "triggers[0].parallelization: expected an integer from 1 to 10, got 11",
    ),
    (
        "timeout-short",
        with_trigger(put(*TG, "timeout", "50ms")),
        'triggers[0].timeout: expected a duration from 100ms to 15m, got "50ms"',
    ),
    (
        "on-failure-both",
        with_trigger(put(*TG, "on_failure", {"file": "x", "table": "dead"})),
        "triggers[0].on_failure: expected exactly one of file, table, got file, table",
    ),
    (
        "on-failure-sqs",
        with_trigger(put(*TG, "on_failure", {"sqs": "q"})),
        'triggers[0].on_failure: unknown key "sqs" (expected one of: file, table)',
    ),
    (
        "on-failure-table-unknown",
        with_trigger(put(*TG, "on_failure", {"table": "dlq"})),
        'triggers[0].on_failure.table: unknown table "dlq" (the group has: orders, dead)',
    ),
    (
        "on-failure-own-table",
        with_trigger(put(*TG, "on_failure", {"table": "orders"})),
        'triggers[0].on_failure.table: must differ from the trigger\'s own table "orders"',
    ),
    (
        "on-failure-table-binary-key",
        with_trigger(
            put(*T0, "partition_key", "type", "B"),
            put(*TG, "table", "dead"),
            put(*TG, "on_failure", {"table": "orders"}),
        ),
        'triggers[0].on_failure.table: table "orders" needs a string partition key',
    ),
    (
        "on-failure-file-empty",
        with_trigger(put(*TG, "on_failure", {"file": ""})),
        'triggers[0].on_failure.file: expected a directory path, got ""',
    ),
    (
        "filters-mapping",
        with_trigger(put(*TG, "filters", {"eventName": ["INSERT"]})),
        "triggers[0].filters: expected a list of patterns, got a mapping",
    ),
    (
        "filters-too-many",
        with_trigger(put(*TG, "filters", [{"eventName": ["INSERT"]}] * 6)),
        "triggers[0].filters: at most 5 patterns, got 6",
    ),
    (
        "filter-bare-value",
        with_trigger(put(*TG, "filters", [{"eventName": ["INSERT"]}, {"eventName": "REMOVE"}])),
        "triggers[0].filters[1].eventName: expected a list of values to match",
    ),
    (
        "filter-nested-error",
        with_trigger(
            put(*TG, "filters", [{"dynamodb": {"NewImage": {"s": {"S": [{"prefix": 1}]}}}}])
        ),
        "triggers[0].filters[0].dynamodb.NewImage.s.S[0].prefix: expected a string, got 1",
    ),
    (
        "environment-list",
        with_trigger(put(*TG, "environment", ["A=1"])),
        "triggers[0].environment: expected a mapping of NAME: value, got a list",
    ),
    (
        "environment-number",
        with_trigger(put(*TG, "environment", {"PORT": 8080})),
        "triggers[0].environment.PORT: expected a string (quote it), got 8080",
    ),
    (
        "environment-reserved",
        with_trigger(put(*TG, "environment", {"MERIDIAN_NODE": "x"})),
        "triggers[0].environment.MERIDIAN_NODE: names starting with MERIDIAN_ are reserved",
    ),
    (
        "environment-bad-name",
        with_trigger(put(*TG, "environment", {"MY-VAR": "x"})),
        'triggers[0].environment: expected variable names like MY_SETTING, got "MY-VAR"',
    ),
    (
        "region-triggers-unknown-key",
        put(*R0, "triggers", {"port": "127.0.0.1:1"}),
        'regions[0].triggers: unknown key "port" (expected one of: health, listen, metrics)',
    ),
    (
        "region-triggers-metrics-bad",
        put(*R0, "triggers", {"metrics": "x"}),
        'regions[0].triggers.metrics: expected HOST:PORT, got "x"',
    ),
    (
        "trigger-metrics-default-clash",
        with_trigger(put(*R1, "node", "listen", "127.0.0.1:9301")),
        "regions[0].triggers.metrics: port 9301 already used by regions[1].node.listen "
        "(the trigger runner's metrics address defaults to metrics.listen port + 200",
    ),
    (
        "trigger-metrics-default-overflows",
        with_trigger(
            put(*R0, "metrics", "listen", "127.0.0.1:65400"),
            put(*R0, "replicator", "metrics", "127.0.0.1:9999"),
        ),
        "regions[0].triggers.metrics: required because metrics.listen port + 200 is above 65535",
    ),
    (
        "node-peer-listen-not-loopback",
        put(*R0, "node", "peer_listen", "10.0.0.1:8101"),
        "regions[0].node.peer_listen: expected a loopback address (127.0.0.1, ::1 or localhost), "
        "got 10.0.0.1:8101: the peer door serves only this region's own replicator",
    ),
    (
        "node-peer-listen-clash",
        put(*R1, "node", "peer_listen", "127.0.0.1:7101"),
        "regions[1].node.peer_listen: port 7101 already used by regions[0].node.listen",
    ),
    (
        "node-advertise-bad",
        put(*R0, "node", "advertise", "nat.example.com"),
        'regions[0].node.advertise: expected HOST:PORT, got "nat.example.com"',
    ),
    (
        "node-advertise-wildcard",
        put(*R0, "node", "advertise", "0.0.0.0:7101"),
        "regions[0].node.advertise: 0.0.0.0:7101 cannot be dialled; give the address other "
        "machines reach regions[0].node.listen at",
    ),
    (
        "replicator-advertise-loopback-for-a-specific-listen",
        both(
            put(*R0, "replicator", "listen", "10.0.0.1:7201"),
            put(*R0, "replicator", "advertise", "127.0.0.1:7201"),
        ),
        "regions[0].replicator.advertise: loopback address 127.0.0.1:7201 does not reach a "
        "server listening on 10.0.0.1:7201",
    ),
    (
        "replicator-advertise-shared",
        both(
            put(*R0, "replicator", "listen", "0.0.0.0:7201"),
            put(*R0, "replicator", "advertise", "eu.example.com:7202"),
            put(*R1, "replicator", "listen", "0.0.0.0:7202"),
            put(*R1, "replicator", "advertise", "eu.example.com:7202"),
        ),
        "regions[1].replicator.advertise: port 7202 already used by "
        "regions[0].replicator.advertise (every node and replicator must be dialled at its own "
        "address)",
    ),
    (
        "node-advertise-is-another-region-listen",
        put(*R1, "node", "advertise", "127.0.0.1:7101"),
        "regions[1].node.advertise: port 7101 already used by regions[0].node.listen (every "
        "node and replicator must be dialled at its own address)",
    ),
    (
        "api-clash",
        put(*R1, "api", {"listen": "127.0.0.1:7101"}),
        "regions[1].api.listen: port 7101 already used by regions[0].node.listen",
    ),
    (
        "api-bad",
        put(*R0, "api", {"listen": "8000"}),
        'regions[0].api.listen: expected HOST:PORT, got "8000"',
    ),
    (
        "api-unknown-key",
        put(*R0, "api", {"listen": "127.0.0.1:8000", "tls": "off"}),
        'regions[0].api: unknown key "tls"',
    ),
    ("api-without-listen", put(*R0, "api", {}), "regions[0].api.listen: required"),
    (
        "api-plaintext-beyond-loopback",
        put(*R0, "api", {"listen": "0.0.0.0:8000"}),
        "regions[0].api.listen: 0.0.0.0:8000 is not a loopback address, and without a tls section",
    ),
    (
        "node-health-clash",
        put(*R1, "node", "health", "127.0.0.1:9101"),
        "regions[1].node.health: port 9101 already used by regions[0].metrics.listen",
    ),
    (
        "replicator-health-bad",
        put(*R0, "replicator", "health", "7301"),
        'regions[0].replicator.health: expected HOST:PORT, got "7301"',
    ),
    (
        "triggers-health-clash",
        with_trigger(put(*R0, "triggers", {"health": "127.0.0.1:7101"})),
        "regions[0].triggers.health: port 7101 already used by regions[0].node.listen",
    ),
    (
        "node-peer-listen-default-overflows",
        put(*R0, "node", "listen", "127.0.0.1:65000"),
        "regions[0].node.peer_listen: required because node.listen port + 1000 is above 65535",
    ),
    (
        "region-triggers-listen-bad",
        put(*R0, "triggers", {"listen": "x"}),
        'regions[0].triggers.listen: expected HOST:PORT, got "x"',
    ),
    (
        "trigger-listen-default-clash",
        with_trigger(put(*R1, "node", "listen", "127.0.0.1:7301")),
        "regions[0].triggers.listen: port 7301 already used by regions[1].node.listen "
        "(the trigger runner's address defaults to replicator.listen port + 100",
    ),
    (
        "trigger-listen-default-overflows",
        with_trigger(put(*R0, "replicator", "listen", "127.0.0.1:65500")),
        "regions[0].triggers.listen: required because replicator.listen port + 100 is above 65535",
    ),
]

# (id, mutation of BASE, expected start of the error message)
INVALID: list[tuple[str, Mutation, str]] = [
    # top level
    ("group-missing", drop("group"), "group: required"),
    ("tables-missing", drop("tables"), "tables: required"),
    ("regions-missing", drop("regions"), "regions: required"),
    (
        "top-level-unknown",
        put("trigger", []),
        'group.yaml: unknown key "trigger" '
        "(expected one of: auth, durability, group, insecure, regions, replication, tables, tls, "
        "triggers)",
    ),
    ("top-level-typo", put("regoins", []), 'group.yaml: unknown key "regoins"'),
    ("group-space", put("group", "my group"), f'group: {NAME_RULE}, got "my group"'),
    ("group-empty", put("group", ""), f'group: {NAME_RULE}, got ""'),
    ("group-too-long", put("group", "g" * 65), f"group: {NAME_RULE}, got"),
    ("group-int", put("group", 5), f"group: {NAME_RULE}, got 5"),
    ("group-null", put("group", None), f"group: {NAME_RULE}, got null"),
    (
        "durability-unknown",
        put("durability", "sometimes"),
        'durability: expected one of fsync, buffered, got "sometimes"',
    ),
    ("durability-bool", put("durability", True), "durability: expected one of fsync, buffered"),
    # tables
    ("tables-empty", put("tables", []), "tables: expected at least one table"),
    ("tables-mapping", put("tables", {"a": 1}), "tables: expected a list of tables, got a mapping"),
    ("table-not-mapping", put("tables", ["orders"]), 'tables[0]: expected a mapping, got "orders"'),
    ("table-name-short", put(*T0, "name", "ab"), f'tables[0].name: {TABLE_RULE}, got "ab"'),
    (
        "table-name-long",
        put(*T0, "name", "t" * 256),
        f'tables[0].name: {TABLE_RULE}, got "{"t" * 80}..." (truncated)',
    ),
    ("table-name-slash", put(*T0, "name", "a/b/c"), f'tables[0].name: {TABLE_RULE}, got "a/b/c"'),
    ("table-name-missing", drop(*T0, "name"), "tables[0].name: required"),
    (
        "table-unknown-key",
        put(*T0, "expiry", "1d"),
        'tables[0]: unknown key "expiry" (expected one of: merge, name, partition_key, sort_key, '
        "stream, ttl)",
    ),
    (
        "table-duplicate",
        append("tables", BASE["tables"][0]),
        'tables[1].name: duplicate table "orders" (also tables[0])',
    ),
    ("pk-missing", drop(*T0, "partition_key"), "tables[0].partition_key: required"),
    (
        "pk-not-mapping",
        put(*T0, "partition_key", "pk"),
        'tables[0].partition_key: expected a mapping, got "pk"',
    ),
    (
        "pk-type-unknown",
        put(*T0, "partition_key", "type", "X"),
        'tables[0].partition_key.type: expected one of S, N, B, got "X"',
    ),
    (
        "pk-type-lowercase",
        put(*T0, "partition_key", "type", "s"),
        'tables[0].partition_key.type: expected one of S, N, B, got "s"',
    ),
    (
        "pk-type-missing",
        drop(*T0, "partition_key", "type"),
        "tables[0].partition_key.type: required",
    ),
    (
        "pk-name-empty",
        put(*T0, "partition_key", "name", ""),
        'tables[0].partition_key.name: expected a name of 1 to 255 characters, got ""',
    ),
    (
        "pk-name-int",
        put(*T0, "partition_key", "name", 7),
        "tables[0].partition_key.name: expected a name of 1 to 255 characters, got 7",
    ),
    (
        "pk-unknown-key",
        put(*T0, "partition_key", "kind", "HASH"),
        'tables[0].partition_key: unknown key "kind" (expected one of: name, type)',
    ),
    (
        "sk-type-bool",
        put(*T0, "sort_key", "type", "BOOL"),
        'tables[0].sort_key.type: expected one of S, N, B, got "BOOL"',
    ),
    (
        "sk-same-name",
        put(*T0, "sort_key", "name", "pk"),
        'tables[0].sort_key.name: must differ from the partition key name "pk"',
    ),
    ("sk-null", put(*T0, "sort_key", None), "tables[0].sort_key: expected a mapping, got null"),
    (
        "merge-unknown",
        put(*T0, "merge", "column"),
        'tables[0].merge: expected one of item, attribute, got "column"',
    ),
    ("merge-bool", put(*T0, "merge", True), "tables[0].merge: expected one of item, attribute"),
    ("merge-upper", put(*T0, "merge", "ATTRIBUTE"), "tables[0].merge: expected one of item"),
    ("merge-null", put(*T0, "merge", None), "tables[0].merge: expected one of item, attribute"),
    (
        "stream-unknown-key",
        put(*T0, "stream", {"enabled": True}),
        'tables[0].stream: unknown key "enabled" (expected one of: retention, view_type)',
    ),
    (
        "view-type-unknown",
        put(*T0, "stream", {"view_type": "ALL"}),
        f'tables[0].stream.view_type: expected one of {VIEWS}, got "ALL"',
    ),
    (
        "retention-zero",
        put(*T0, "stream", {"retention": "0s"}),
        'tables[0].stream.retention: expected a duration from 1s to 365d, got "0s"',
    ),
    (
        "retention-too-long",
        put(*T0, "stream", {"retention": "366d"}),
        'tables[0].stream.retention: expected a duration from 1s to 365d, got "366d"',
    ),
    (
        "retention-fraction",
        put(*T0, "stream", {"retention": "1500ms"}),
        'tables[0].stream.retention: expected whole seconds, got "1500ms"',
    ),
    (
        "retention-words",
        put(*T0, "stream", {"retention": "24 hours"}),
        f'tables[0].stream.retention: {DURATION}, got "24 hours"',
    ),
    (
        "retention-bool",
        put(*T0, "stream", {"retention": True}),
        f"tables[0].stream.retention: {DURATION}, got true",
    ),
    (
        "retention-float",
        put(*T0, "stream", {"retention": 1.5}),
        f"tables[0].stream.retention: {DURATION}, got 1.5",
    ),
    (
        "retention-negative",
        put(*T0, "stream", {"retention": -5}),
        f"tables[0].stream.retention: {DURATION}, got -5",
    ),
    # replication
    (
        "replication-list",
        put("replication", [1]),
        "replication: expected a mapping, got a list",
    ),
    (
        "replication-unknown-key",
        put("replication", {"batch": 10}),
        'replication: unknown key "batch" (expected one of: batch_size, bootstrap_batch, '
        "heartbeat_interval, max_clock_offset, reads_while_bootstrapping, tombstone_lifetime, "
        "tombstone_max_lifetime, ttl)",
    ),
    (
        "bootstrap-batch-zero",
        put("replication", {"bootstrap_batch": 0}),
        "replication.bootstrap_batch: expected an integer from 1 to 100000, got 0",
    ),
    (
        "bootstrap-batch-too-big",
        put("replication", {"bootstrap_batch": 100001}),
        "replication.bootstrap_batch: expected an integer from 1 to 100000, got 100001",
    ),
    (
        "bootstrap-reads",
        put("replication", {"reads_while_bootstrapping": "maybe"}),
        "replication.reads_while_bootstrapping: expected one of",
    ),
    (
        "batch-zero",
        put("replication", {"batch_size": 0}),
        "replication.batch_size: expected an integer from 1 to 10000, got 0",
    ),
    (
        "batch-too-big",
        put("replication", {"batch_size": 10001}),
        "replication.batch_size: expected an integer from 1 to 10000, got 10001",
    ),
    (
        "batch-bool",
        put("replication", {"batch_size": True}),
        "replication.batch_size: expected an integer from 1 to 10000, got true",
    ),
    (
        "batch-string",
        put("replication", {"batch_size": "500"}),
        'replication.batch_size: expected an integer from 1 to 10000, got "500"',
    ),
    (
        "batch-float",
        put("replication", {"batch_size": 500.0}),
        "replication.batch_size: expected an integer from 1 to 10000, got 500.0",
    ),
    (
        "clock-offset-zero",
        put("replication", {"max_clock_offset": "0ms"}),
        'replication.max_clock_offset: expected a duration from 1ms to 1h, got "0ms"',
    ),
    (
        "clock-offset-too-big",
        put("replication", {"max_clock_offset": "2h"}),
        'replication.max_clock_offset: expected a duration from 1ms to 1h, got "2h"',
    ),
    (
        "clock-offset-space",
        put("replication", {"max_clock_offset": "5 s"}),
        f'replication.max_clock_offset: {DURATION}, got "5 s"',
    ),
    (
        "tombstone-zero",
        put("replication", {"tombstone_lifetime": 0}),
        "replication.tombstone_lifetime: expected a duration from 1s to 365d, got 0",
    ),
    (
        "tombstone-max-below-lifetime",
        put("replication", {"tombstone_lifetime": "2d", "tombstone_max_lifetime": "1d"}),
        'replication.tombstone_max_lifetime: expected at least tombstone_lifetime (2d), got "1d"',
    ),
    (
        "tombstone-max-below-default-lifetime",
        put("replication", {"tombstone_max_lifetime": "1h"}),
        'replication.tombstone_max_lifetime: expected at least tombstone_lifetime (1d), got "1h"',
    ),
    (
        "tombstone-max-too-long",
        put("replication", {"tombstone_max_lifetime": "400d"}),
        'replication.tombstone_max_lifetime: expected a duration from 1s to 365d, got "400d"',
    ),
    (
        "tombstone-max-fraction",
        put("replication", {"tombstone_max_lifetime": "1500ms"}),
        'replication.tombstone_max_lifetime: expected whole seconds, got "1500ms"',
    ),
    (
        "heartbeat-too-fast",
        put("replication", {"heartbeat_interval": "5ms"}),
        'replication.heartbeat_interval: expected a duration from 10ms to 10m, got "5ms"',
    ),
    # regions
    ("regions-empty", put("regions", []), "regions: expected at least one region"),
    ("regions-null", put("regions", None), "regions: expected a list of regions, got null"),
    ("region-not-mapping", put("regions", ["us-east"]), "regions[0]: expected a mapping"),
    (
        "region-unknown-key",
        put(*R0, "zone", "a"),
        'regions[0]: unknown key "zone" (expected one of: api, metrics, name, node, '
        "replicator, tls, triggers)",
    ),
    ("region-name-missing", drop(*R0, "name"), "regions[0].name: required"),
    (
        "region-name-bad",
        put(*R0, "name", "us east"),
        f'regions[0].name: {NAME_RULE}, got "us east"',
    ),
    ("region-name-long", put(*R0, "name", "r" * 65), f"regions[0].name: {NAME_RULE}"),
    ("region-name-yaml-bool", put(*R0, "name", True), f"regions[0].name: {NAME_RULE}, got true"),
    (
        "region-duplicate",
        put("regions", 2, "name", "us-east"),
        'regions[2].name: duplicate region "us-east" (also regions[0])',
    ),
    ("node-missing", drop(*R0, "node"), "regions[0].node: required"),
    ("replicator-missing", drop(*R0, "replicator"), "regions[0].replicator: required"),
    ("metrics-missing", drop(*R0, "metrics"), "regions[0].metrics: required"),
    (
        "node-typo",
        rename(*R0, "node", "listen", "listn"),
        'regions[0].node: unknown key "listn" (expected one of: advertise, data_dir, health, '
        "listen, peer_listen)",
    ),
    ("node-listen-missing", drop(*R0, "node", "listen"), "regions[0].node.listen: required"),
    ("data-dir-missing", drop(*R0, "node", "data_dir"), "regions[0].node.data_dir: required"),
    (
        "data-dir-empty",
        put(*R0, "node", "data_dir", ""),
        'regions[0].node.data_dir: expected a directory path, got ""',
    ),
    (
        "data-dir-int",
        put(*R0, "node", "data_dir", 5),
        "regions[0].node.data_dir: expected a directory path, got 5",
    ),
    (
        "data-dir-shared",
        put(*R1, "node", "data_dir", "var/us-east"),
        "regions[1].node.data_dir: directory ",
    ),
    (
        "listen-no-port",
        put(*R1, "node", "listen", "eu-west"),
        'regions[1].node.listen: expected HOST:PORT, got "eu-west"',
    ),
    (
        "listen-int",
        put(*R1, "node", "listen", 7102),
        "regions[1].node.listen: expected HOST:PORT, got 7102",
    ),
    (
        "listen-port-zero",
        put(*R1, "node", "listen", "127.0.0.1:0"),
        'regions[1].node.listen: expected a port from 1 to 65535, got "127.0.0.1:0"',
    ),
    (
        "listen-port-too-big",
        put(*R1, "node", "listen", "127.0.0.1:65536"),
        "regions[1].node.listen: expected a port from 1 to 65535",
    ),
    (
        "listen-port-word",
        put(*R1, "node", "listen", "127.0.0.1:http"),
        "regions[1].node.listen: expected a port from 1 to 65535",
    ),
    (
        "listen-empty-host",
        put(*R1, "node", "listen", ":7102"),
        f'regions[1].node.listen: {HOST_RULE}, got ":7102"',
    ),
    (
        "listen-bad-ipv4",
        put(*R1, "node", "listen", "999.0.0.1:7102"),
        f"regions[1].node.listen: {HOST_RULE}",
    ),
    (
        "listen-ipv6-no-brackets",
        put(*R1, "node", "listen", "::1:7102"),
        f"regions[1].node.listen: {HOST_RULE}",
    ),
    (
        "listen-bad-ipv6",
        put(*R1, "node", "listen", "[fe80::zz]:7102"),
        f"regions[1].node.listen: {HOST_RULE}",
    ),
    (
        "listen-underscore-host",
        put(*R1, "node", "listen", "my_host:7102"),
        f"regions[1].node.listen: {HOST_RULE}",
    ),
    (
        "replicator-unknown-key",
        put(*R0, "replicator", "metric", "127.0.0.1:9999"),
        'regions[0].replicator: unknown key "metric" (expected one of: advertise, health, listen, '
        "metrics)",
    ),
    (
        "replicator-listen-bad",
        put(*R0, "replicator", "listen", "localhost"),
        'regions[0].replicator.listen: expected HOST:PORT, got "localhost"',
    ),
    (
        "replicator-metrics-null",
        put(*R0, "replicator", "metrics", None),
        "regions[0].replicator.metrics: expected HOST:PORT, got null",
    ),
    (
        "metrics-unknown-key",
        put(*R0, "metrics", "path", "/metrics"),
        'regions[0].metrics: unknown key "path" (expected one of: basic_auth, listen)',
    ),
    (
        "metrics-listen-bad",
        put(*R0, "metrics", "listen", "127.0.0.1"),
        'regions[0].metrics.listen: expected HOST:PORT, got "127.0.0.1"',
    ),
    (
        "replicator-metrics-default-overflows",
        put(*R0, "metrics", "listen", "127.0.0.1:65500"),
        "regions[0].replicator.metrics: required because metrics.listen port + 100 is above 65535",
    ),
    # listen addresses must not repeat across the group
    (
        "port-reused-across-regions",
        put(*R1, "node", "listen", "127.0.0.1:7101"),
        "regions[1].node.listen: port 7101 already used by regions[0].node.listen",
    ),
    (
        "port-reused-within-region",
        put(*R0, "replicator", "listen", "127.0.0.1:7101"),
        "regions[0].replicator.listen: port 7101 already used by regions[0].node.listen",
    ),
    (
        "default-replicator-metrics-clash",
        put(*R1, "metrics", "listen", "127.0.0.1:9001"),
        "regions[1].replicator.metrics: port 9101 already used by regions[0].metrics.listen "
        "(the replicator's metrics address defaults to metrics.listen port + 100; "
        "set replicator.metrics to choose another)",
    ),
    (
        "clash-with-default-replicator-metrics",
        put(*R1, "node", "listen", "127.0.0.1:9201"),
        "regions[1].node.listen: port 9201 already used by regions[0].replicator.metrics "
        "(the replicator's metrics address defaults to",
    ),
    (
        "explicit-replicator-metrics-clash",
        put(*R0, "replicator", "metrics", "127.0.0.1:7202"),
        "regions[1].replicator.listen: port 7202 already used by regions[0].replicator.metrics",
    ),
    (
        "host-names-case-insensitive",
        both(
            put(*R0, "node", "listen", "localhost:7101"),
            put(*R1, "node", "listen", "LocalHost:7101"),
        ),
        "regions[1].node.listen: port 7101 already used by regions[0].node.listen",
    ),
    (
        "localhost-is-127.0.0.1",
        put(*R1, "node", "listen", "localhost:7101"),
        "regions[1].node.listen: port 7101 already used by regions[0].node.listen",
    ),
    (
        "wildcard-includes-loopback",
        put(*R1, "node", "listen", "0.0.0.0:7101"),
        "regions[1].node.listen: port 7101 already used by regions[0].node.listen",
    ),
    (
        "ipv6-canonical-form",
        both(
            put(*R0, "node", "listen", "[::1]:7101"),
            put(*R1, "node", "listen", "[0:0::1]:7101"),
        ),
        "regions[1].node.listen: port 7101 already used by regions[0].node.listen",
    ),
    *TRIGGER_INVALID,
]


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [pytest.param(m, e, id=i) for i, m, e in INVALID],
)
def test_invalid_config_is_refused_with_yaml_path(mutation: Mutation, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_doc(mutated(mutation))
    assert str(err.value).startswith(expected), str(err.value)


def test_invalid_cases_have_unique_ids() -> None:
    ids = [i for i, _, _ in INVALID]
    assert len(ids) == len(set(ids))


def test_base_is_valid_and_defaults_are_applied() -> None:
    cfg = parse_doc(BASE)
    assert cfg.group == "demo"
    assert cfg.durability == "fsync"
    assert cfg.path == FILE
    assert cfg.replication == ReplicationConfig(
        batch_size=500, max_clock_offset_ms=5000, tombstone_lifetime_s=86400, heartbeat_interval_s=1
    )
    (table,) = cfg.tables
    assert table.name == "orders"
    assert table.partition_key == KeyAttr("pk", pb.KEY_TYPE_S)
    assert table.sort_key == KeyAttr("sk", pb.KEY_TYPE_S)
    assert table.view_type == pb.NEW_AND_OLD_IMAGES
    assert table.retention_seconds == 86400
    assert table.merge == pb.MERGE_MODE_ITEM
    us = cfg.region("us-east")
    assert us.node_listen == Address("127.0.0.1", 7101)
    assert us.replicator_listen == Address("127.0.0.1", 7201)
    assert us.metrics_listen == Address("127.0.0.1", 9101)
    assert us.replicator_metrics_listen == Address("127.0.0.1", 9201)
    assert us.node_peer_listen == Address("127.0.0.1", 8101)  # node.listen port + 1000
    assert us.trigger_listen == Address("127.0.0.1", 7301)  # replicator.listen port + 100


def test_advertise_and_health_addresses() -> None:
    doc = copy.deepcopy(BASE)
    us = doc["regions"][0]
    us["node"].update(listen="0.0.0.0:7101", advertise="us.example.com:17101")
    us["node"]["health"] = "0.0.0.0:7301"
    us["replicator"].update(listen="10.1.0.5:7201", advertise="203.0.113.9:7201")
    us["replicator"]["health"] = "0.0.0.0:7401"
    us["triggers"] = {"health": "127.0.0.1:7501"}
    doc["insecure"] = True  # plaintext doors beyond loopback (health listeners need not)
    parsed = parse_doc(doc)
    region, eu = parsed.regions[0], parsed.regions[1]
    assert region.node_address == Address("us.example.com", 17101)
    assert region.replicator_address == Address("203.0.113.9", 7201)
    assert region.node_listen == Address("0.0.0.0", 7101)
    assert region.node_peer_listen == Address("127.0.0.1", 8101)
    assert (region.node_health, region.replicator_health, region.trigger_health) == (
        Address("0.0.0.0", 7301),
        Address("0.0.0.0", 7401),
        Address("127.0.0.1", 7501),
    )
    assert eu.node_address == eu.node_listen and eu.node_advertise is None
    assert eu.replicator_address == eu.replicator_listen
    assert eu.node_health is None
    assert region.api_listen is None


def test_the_api_listener_is_optional() -> None:
    doc = copy.deepcopy(BASE)
    doc["regions"][0]["api"] = {"listen": "127.0.0.1:8000"}
    parsed = parse_doc(doc)
    assert parsed.regions[0].api_listen == Address("127.0.0.1", 8000)
    assert parsed.regions[1].api_listen is None


def test_explicit_values_are_used() -> None:
    doc = mutated(
        both(
            put("durability", "buffered"),
            put(
                "replication",
                {
                    "batch_size": 10000,
                    "max_clock_offset": "250ms",
                    "tombstone_lifetime": "7d",
                    "heartbeat_interval": "500ms",
                },
            ),
            put(*T0, "partition_key", {"name": "id", "type": "N"}),
            drop(*T0, "sort_key"),
            put(*T0, "stream", {"view_type": "KEYS_ONLY", "retention": 3600}),
            put(*R0, "replicator", "metrics", "127.0.0.1:9301"),
        )
    )
    cfg = parse_doc(doc)
    assert cfg.durability == "buffered"
    assert cfg.replication == ReplicationConfig(10000, 250, 7 * 86400, 0.5)
    table = cfg.table("orders")
    assert table.partition_key == KeyAttr("id", pb.KEY_TYPE_N)
    assert table.sort_key is None
    assert table.view_type == pb.KEYS_ONLY
    assert table.retention_seconds == 3600
    assert cfg.regions[0].replicator_metrics_listen == Address("127.0.0.1", 9301)


@pytest.mark.parametrize(
    ("replication", "expected_s"),
    [
        ({}, 7 * 86400),
        ({"tombstone_lifetime": "10d"}, 10 * 86400),
        ({"tombstone_max_lifetime": "24h"}, 86400),
        ({"tombstone_lifetime": "2s", "tombstone_max_lifetime": 5}, 5),
    ],
)
def test_tombstone_max_lifetime(replication: dict, expected_s: int) -> None:
    cfg = parse_doc(mutated(put("replication", replication)))
    assert cfg.replication.tombstone_max_lifetime_s == expected_s


def test_bootstrap_batch_is_read() -> None:
    assert parse_doc(mutated(put("replication", {}))).replication.bootstrap_batch == 8000
    cfg = parse_doc(mutated(put("replication", {"bootstrap_batch": 20})))
    assert cfg.replication.bootstrap_batch == 20


def test_bare_integer_heartbeat_is_seconds() -> None:
    cfg = parse_doc(mutated(put("replication", {"heartbeat_interval": 2})))
    assert cfg.replication.heartbeat_interval_s == 2.0


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("500ms", 500),
        ("5s", 5000),
        ("10m", 600_000),
        ("24h", 86_400_000),
        ("7d", 604_800_000),
        (30, 30_000),
        (0, 0),
    ],
)
def test_durations_are_parsed(text: Any, ms: int) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("text", ["5", "5sec", "1.5s", "-1s", " 5s", "", "5S", True, None, 1.5, -1])
def test_malformed_durations_are_refused(text: Any) -> None:
    assert parse_duration_ms(text) is None


@pytest.mark.parametrize(
    ("text", "address", "shown"),
    [
        ("127.0.0.1:7101", Address("127.0.0.1", 7101), "127.0.0.1:7101"),
        ("0.0.0.0:1", Address("0.0.0.0", 1), "0.0.0.0:1"),
        (
            "Node-1.Example.com:65535",
            Address("node-1.example.com", 65535),
            "node-1.example.com:65535",
        ),
        ("localhost:7101", Address("localhost", 7101), "localhost:7101"),
        ("[::1]:7101", Address("::1", 7101), "[::1]:7101"),
        ("[2001:DB8::1]:80", Address("2001:db8::1", 80), "[2001:db8::1]:80"),
    ],
)
def test_addresses_are_parsed(text: str, address: Address, shown: str) -> None:
    parsed = parse_address(text, "x")
    assert parsed == address
    assert str(parsed) == shown


def test_relative_data_dir_resolves_against_the_working_directory(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    doc = mutated(put(*R1, "node", "data_dir", str(tmp_path / "abs" / "eu")))
    cfg = parse_doc(doc)
    assert cfg.regions[0].data_dir == tmp_path / "var" / "us-east"
    assert cfg.regions[1].data_dir == tmp_path / "abs" / "eu"


def test_data_dir_may_repeat_for_regions_on_different_hosts() -> None:
    doc = copy.deepcopy(BASE)
    for i, region in enumerate(doc["regions"]):
        host = f"10.0.0.{i + 1}"
        region["node"] = {"listen": f"{host}:7100", "data_dir": "/var/lib/meridian"}
        region["replicator"] = {"listen": f"{host}:7200"}
        region["metrics"] = {"listen": f"{host}:9100"}
    doc["insecure"] = True
    cfg = parse_doc(doc)
    assert {r.data_dir for r in cfg.regions} == {pathlib.Path("/var/lib/meridian")}
    assert {r.node_listen.port for r in cfg.regions} == {7100}


def test_lookup_by_name() -> None:
    cfg = parse_doc(BASE)
    assert cfg.region("eu-west").node_listen.port == 7102
    assert cfg.table("orders").name == "orders"
    with pytest.raises(ConfigError) as err:
        cfg.region("x")
    assert str(err.value) == "unknown region 'x'; the group has: us-east, eu-west, ap-south"
    with pytest.raises(ConfigError) as err:
        cfg.table("users")
    assert str(err.value) == "unknown table 'users'; the group has: orders"


def test_to_spec() -> None:
    cfg = parse_doc(BASE)
    spec = cfg.tables[0].to_spec()
    assert spec == pb.TableSpec(
        name="orders",
        partition_key=pb.KeyAttribute(name="pk", type=pb.KEY_TYPE_S),
        sort_key=pb.KeyAttribute(name="sk", type=pb.KEY_TYPE_S),
        view_type=pb.NEW_AND_OLD_IMAGES,
        retention_seconds=86400,
    )
    no_sort = parse_doc(mutated(drop(*T0, "sort_key"))).tables[0].to_spec()
    assert not no_sort.HasField("sort_key")


@pytest.mark.parametrize(
    ("text", "mode"), [("item", pb.MERGE_MODE_ITEM), ("attribute", pb.MERGE_MODE_ATTRIBUTE)]
)
def test_merge_mode_is_read(text: str, mode: int) -> None:
    table = parse_doc(mutated(put(*T0, "merge", text))).tables[0]
    assert table.merge == mode
    assert table.to_spec().merge == mode


def test_config_objects_are_frozen() -> None:
    cfg = parse_doc(BASE)
    with pytest.raises(AttributeError):
        cfg.group = "other"  # type: ignore[misc]


# --------------------------------------------------------------------------- YAML level


@pytest.mark.parametrize(
    ("text", "line", "first"),
    [
        ("group: a\ngroup: b\n", 2, 1),
        (
            text_of(BASE).replace("  node:\n", "  name: again\n  node:\n", 1),
            text_of(BASE)
            .replace("  node:\n", "  name: again\n  node:\n", 1)
            .splitlines()
            .index("  name: again")
            + 1,
            None,
        ),
        ("group: demo\nregions:\n- {name: a, name: b}\n", 3, 3),
    ],
    ids=["top-level", "region", "flow-mapping"],
)
def test_duplicate_yaml_keys_are_refused(text: str, line: int, first: int | None) -> None:
    with pytest.raises(ConfigError) as err:
        parse(text, FILE)
    message = str(err.value)
    assert message.startswith(f"group.yaml: line {line}: duplicate key "), message
    if first is not None:
        assert message.endswith(f"(first given at line {first})")


def test_merge_keys_are_not_duplicates() -> None:
    text = text_of(BASE) + "x-defaults: &d {a: 1}\n"
    # Anchors and merges are plain YAML; an unknown top-level key is still refused.
    with pytest.raises(ConfigError, match='unknown key "x-defaults"'):
        parse(text, FILE)
    merged = text_of(BASE).replace(
        "  partition_key:\n", "  <<: {stream: {retention: 1h}}\n  partition_key:\n", 1
    )
    assert parse(merged, FILE).tables[0].retention_seconds == 3600


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("group: [demo\n", "line 2, column 1"),
        ("group: demo\n\ttables: []\n", "line 2, column 1"),
        ("group: demo\nregions: {a: 1\n", "line 3, column 1"),
        ("group: demo\n---\ngroup: other\n", "line 2, column 1"),
    ],
    ids=["unclosed-list", "tab", "unclosed-mapping", "two-documents"],
)
def test_malformed_yaml_is_refused_with_position(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(text, FILE)
    assert str(err.value).startswith(f"group.yaml: not valid YAML: {where}: "), str(err.value)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file_is_refused(text: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(text, FILE)
    assert str(err.value) == (
        "group.yaml: empty file, expected a mapping with group, tables and regions"
    )


@pytest.mark.parametrize(("text", "shown"), [("- a\n", "a list"), ("demo\n", '"demo"')])
def test_root_must_be_a_mapping(text: str, shown: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(text, FILE)
    assert str(err.value) == (
        f"group.yaml: expected a mapping with group, tables and regions, got {shown}"
    )


# --------------------------------------------------------------------------- files


def test_load_reads_a_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(text_of(BASE))
    cfg = config.load(path)
    assert cfg.path == path
    assert config.load(str(path)) == cfg


def test_load_reports_unreadable_file(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as err:
        config.load(missing)
    assert str(err.value).startswith(f"{missing}: cannot read: ")


def test_load_reports_binary_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_bytes(b"group: \xff\xfe\n")
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert str(err.value).startswith(f"{path}: not valid UTF-8: ")


def test_errors_in_a_file_name_the_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("group: demo\ngroup: again\n")
    with pytest.raises(ConfigError, match=r"g\.yaml: line 2: duplicate key \"group\""):
        config.load(path)


def test_example_file_loads() -> None:
    cfg = config.load(EXAMPLE)
    assert cfg.group == "demo"
    assert [r.name for r in cfg.regions] == ["us-east", "eu-west", "ap-south"]
    assert [t.name for t in cfg.tables] == ["orders"]
    addresses = [
        (a.host, a.port)
        for r in cfg.regions
        for a in (r.node_listen, r.replicator_listen, r.metrics_listen, r.replicator_metrics_listen)
    ]
    assert len(addresses) == len(set(addresses)) == 12
    assert all(host == "127.0.0.1" for host, _ in addresses)
    assert len({r.data_dir for r in cfg.regions}) == 3
    assert cfg.region("eu-west").data_dir == pathlib.Path.cwd() / "var" / "eu-west"
    assert cfg.region("ap-south").replicator_metrics_listen == Address("127.0.0.1", 9203)


def test_example_file_mentions_every_key() -> None:
    text = EXAMPLE.read_text()
    keys = [
        "group:",
        "durability:",
        "tables:",
        "name:",
        "partition_key:",
        "sort_key:",
        "stream:",
        "view_type:",
        "retention:",
        "merge:",
        "replication:",
        "batch_size:",
        "max_clock_offset:",
        "tombstone_lifetime:",
        "heartbeat_interval:",
        "regions:",
        "node:",
        "listen:",
        "data_dir:",
        "replicator:",
        "metrics:",
    ]
    assert [k for k in keys if k not in text] == []


def test_the_summary_names_the_group_in_short_lines() -> None:
    summary = config.summary(config.load(EXAMPLE))
    lines = summary.splitlines()
    assert lines[0].endswith("group 'demo' is valid")
    assert "  durability: fsync" in lines
    assert "  1 table: orders" in lines
    assert "  3 regions:" in lines
    for port in (7101, 7202, 9103, 9201):
        assert f"127.0.0.1:{port}" in summary
    assert "DynamoDB API 127.0.0.1:8000" in summary
    assert max(len(line) for line in lines) <= 100


def test_load_raises_on_invalid_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(text_of(mutated(put("trigger", []))))
    with pytest.raises(ConfigError, match="unknown key"):
        config.load(path)


def test_triggers_default_to_lambda_values() -> None:
    cfg = parse_doc(mutated(with_trigger()))
    (trigger,) = cfg.triggers
    assert trigger == config.TriggerConfig(
        name="count",
        table="orders",
        regions=("us-east", "eu-west", "ap-south"),
        function=config.FunctionConfig("python", ("handlers:count",)),
        starting_position="TRIM_HORIZON",
        batch_size=100,
        batching_window_ms=0,
        filters=(),
        max_retries=-1,
        bisect_on_error=False,
        max_record_age_s=-1,
        report_batch_item_failures=False,
        on_failure=None,
        enabled=True,
        parallelization=1,
        timeout_ms=30_000,
        environment=(),
    )
    assert cfg.triggers_of("eu-west") == (trigger,)
    assert cfg.trigger("count") is trigger
    assert cfg.region("us-east").trigger_metrics_listen == Address("127.0.0.1", 9301)
    assert cfg.region("us-east").trigger_listen == Address("127.0.0.1", 7301)
    assert parse_doc(BASE).triggers == ()


def test_trigger_knobs_are_used(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    doc = mutated(
        with_trigger(
            put(
                *TG,
                {
                    "name": "archive",
                    "table": "orders",
                    "regions": ["eu-west"],
                    "function": {"command": ["python3", "archive.py", "--fast"]},
                    "starting_position": "LATEST",
                    "batch_size": 10000,
                    "batching_window": "1500ms",
                    "filters": [
                        {"eventName": ["REMOVE"]},
                        '{"meridian": {"origin": ["${region}"]}}',
                    ],
                    "max_retries": 3,
                    "bisect_on_error": True,
                    "max_record_age": "1h",
                    "report_batch_item_failures": True,
                    "on_failure": {"file": "var/dead.jsonl"},
                    "enabled": False,
                    "parallelization": 10,
                    "timeout": "2m",
                    "environment": {"ARCHIVE": "archive", "LEVEL": "debug"},
                },
            ),
            append(
                "triggers",
                {
                    **TRIGGER,
                    "name": "hook",
                    "function": {"url": "https://hooks.example/x?a=1"},
                    "on_failure": {"table": "dead"},
                },
            ),
            put(*R1, "triggers", {"metrics": "127.0.0.1:9999"}),
        )
    )
    cfg = parse_doc(doc)
    archive, hook = cfg.triggers
    assert archive.regions == ("eu-west",)
    assert archive.function == config.FunctionConfig("command", ("python3", "archive.py", "--fast"))
    assert (archive.starting_position, archive.batch_size, archive.batching_window_ms) == (
        "LATEST",
        10000,
        1500,
    )
    assert [f.text for f in archive.filters] == [
        '{"eventName":["REMOVE"]}',
        '{"meridian":{"origin":["${region}"]}}',
    ]
    assert (archive.max_retries, archive.bisect_on_error, archive.max_record_age_s) == (
        3,
        True,
        3600,
    )
    assert archive.report_batch_item_failures and not archive.enabled
    assert archive.on_failure == config.OnFailureConfig(
        "file", str(tmp_path / "var" / "dead.jsonl")
    )
    assert (archive.parallelization, archive.timeout_ms) == (10, 120_000)
    assert archive.environment == (("ARCHIVE", "archive"), ("LEVEL", "debug"))
    assert hook.function == config.FunctionConfig("url", ("https://hooks.example/x?a=1",))
    assert hook.on_failure == config.OnFailureConfig("table", "dead")
    assert cfg.region("eu-west").trigger_metrics_listen == Address("127.0.0.1", 9999)
    assert cfg.triggers_of("us-east") == (hook,)
    summary = config.summary(cfg).splitlines()
    assert "  2 triggers:" in summary
    assert (
        "    archive on orders in eu-west (command python3 archive.py --fast), disabled" in summary
    )


def test_trigger_metrics_only_need_a_port_where_triggers_run() -> None:
    # the default (metrics port + 200) would clash, but no trigger runs in the region
    doc = mutated(
        with_trigger(put(*TG, "regions", ["eu-west"]), put(*R1, "node", "listen", "127.0.0.1:9301"))
    )
    assert parse_doc(doc).triggers[0].regions == ("eu-west",)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("127.0.0.1", "127.0.0.1", True),
        ("localhost", "127.0.0.1", True),
        ("::1", "localhost", True),
        ("0.0.0.0", "127.0.0.1", True),
        ("::", "localhost", True),
        ("0.0.0.0", "127.0.0.5", True),
        ("127.0.0.1", "127.0.0.2", False),  # distinct loopback addresses bind separately
        ("10.0.0.1", "10.0.0.2", False),
        ("0.0.0.0", "10.0.0.2", False),  # another machine's address: not known to clash
        ("eu.example.com", "us.example.com", False),
    ],
)
def test_same_machine(a: str, b: str, same: bool) -> None:
    assert same_machine(a, b) is same
    assert same_machine(b, a) is same


def with_tls(doc: dict[str, Any]) -> dict[str, Any]:
    doc["tls"] = {
        "ca": "certs/ca.pem",
        "operator": {"cert": "certs/op.pem", "key": "certs/op-k.pem"},
    }
    for region in doc["regions"]:
        name = region["name"]
        region["tls"] = {"cert": f"certs/{name}.pem", "key": f"certs/{name}-key.pem"}
    return doc


def test_tls_auth_and_insecure_sections_are_read() -> None:
    doc = with_tls(copy.deepcopy(BASE))
    doc["auth"] = {"credentials": "creds.yaml"}
    doc["regions"][0]["metrics"]["basic_auth"] = {"username": "prom", "password_file": "pw"}
    cfg = parse_doc(doc)
    assert cfg.tls is not None and cfg.tls.ca == pathlib.Path("certs/ca.pem").absolute()
    assert cfg.tls.operator is not None and cfg.tls.operator.key.name == "op-k.pem"
    assert cfg.tls.client_ca is None
    assert cfg.region("us-east").tls is not None
    assert cfg.region("us-east").tls.cert.name == "us-east.pem"  # type: ignore[union-attr]
    assert cfg.auth is not None and cfg.auth.credentials.name == "creds.yaml"
    auth = cfg.region("us-east").metrics_auth
    assert auth is not None and auth.username == "prom"
    assert (cfg.insecure, parse_doc(BASE).tls, parse_doc(BASE).auth) == (False, None, None)


def remote(doc: dict[str, Any]) -> dict[str, Any]:
    """Every region on an address of its own, not a loopback one."""
    for i, region in enumerate(doc["regions"]):
        host = f"10.0.0.{i + 1}"
        region["node"]["listen"] = f"{host}:7100"
        region["replicator"] = {"listen": f"{host}:7200"}
        region["metrics"] = {"listen": f"{host}:9100"}
    return doc


@pytest.mark.parametrize(
    ("case", "change", "message"),
    [
        (
            "plaintext beyond loopback",
            lambda d: remote(d),
            "regions[0].node.listen: 10.0.0.1:7100 is not a loopback address, and without a "
            "tls section traffic would be plaintext",
        ),
        (
            "plaintext metrics beyond loopback",
            lambda d: d["regions"][1]["metrics"].update(listen="0.0.0.0:9102"),
            "regions[1].metrics.listen: 0.0.0.0:9102 is not a loopback address",
        ),
        (
            "a region without its certificate",
            lambda d: with_tls(d)["regions"][2].pop("tls"),
            "regions[2].tls: required (cert and key) because the group has a tls section",
        ),
        (
            "a region certificate without the group's ca",
            lambda d: d["regions"][0].update(tls={"cert": "a", "key": "b"}),
            "regions[0].tls: needs the group's tls section (its ca)",
        ),
        ("tls without ca", lambda d: d.update(tls={}), "tls.ca: required"),
        ("insecure not a boolean", lambda d: d.update(insecure="yes"), "insecure: expected"),
        ("auth without credentials", lambda d: d.update(auth={}), "auth.credentials: required"),
    ],
)
def test_transport_rules_are_enforced(case: str, change: Any, message: str) -> None:
    doc = copy.deepcopy(BASE)
    change(doc)
    with pytest.raises(ConfigError) as info:
        parse_doc(doc)
    assert str(info.value).startswith(message), (case, str(info.value))


def test_remote_addresses_are_allowed_with_tls_or_insecure() -> None:
    assert parse_doc(with_tls(remote(copy.deepcopy(BASE)))).tls is not None
    doc = remote(copy.deepcopy(BASE))
    doc["insecure"] = True
    assert parse_doc(doc).insecure


def test_a_health_listener_may_be_plaintext_beyond_loopback() -> None:
    """It serves only the health service (probes that cannot speak TLS), so it is exempt
    from the loopback-only rule for plaintext; the doors are not."""
    doc = copy.deepcopy(BASE)
    doc["regions"][0]["node"]["health"] = "0.0.0.0:7301"
    assert parse_doc(doc).regions[0].node_health == Address("0.0.0.0", 7301)
    doc["regions"][0]["node"]["listen"] = "0.0.0.0:7101"
    with pytest.raises(ConfigError, match=r"regions\[0\]\.node\.listen: .* not a loopback"):
        parse_doc(doc)
