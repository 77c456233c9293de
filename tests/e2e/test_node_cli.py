"""A real `meridian node` process driven by the `meridian` CLI (and, where noted, raw gRPC).

Most tests share one node and each works on its own partition keys; the tests that need a
fresh data directory (restarts, kill -9, schema changes) start their own.
"""

from __future__ import annotations

import json
import pathlib
import re
import signal
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import grpc
import pytest
import yaml

from meridian.model import item_bytes, items
from meridian.pb import node_pb2 as pb
from meridian.wire.channels import connect
from tests.e2e.conftest import Nodes
from tests.e2e.helpers import (
    MERIDIAN,
    NodeProcess,
    e2e_group,
    json_lines,
    json_of,
    metric,
    node_info,
    run_cli,
)
from tests.harness import free_port, region_doc, wait_until, write_group

pytestmark = pytest.mark.e2e

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "local" / "group.yaml"


@pytest.fixture(scope="module")
def stub(shared_node: NodeProcess) -> Iterator[Any]:
    channel, node_stub = connect(shared_node.endpoint)
    try:
        yield node_stub
    finally:
        channel.close()


def head(stub: Any) -> int:
    """The newest stream sequence number: it moves exactly when something is written."""
    response = stub.DescribeStream(pb.DescribeStreamRequest(table="orders"), timeout=10)
    return int(response.head_sequence_number)


def grpc_get(stub: Any, **key: Any) -> pb.GetItemResponse:
    return stub.GetItem(pb.GetItemRequest(table="orders", key=items.from_plain(key)), timeout=10)


def grpc_put(stub: Any, **item: Any) -> pb.WriteResult:
    """Setup writes go straight to the node; the CLI calls are what a test is about."""
    request = pb.PutItemRequest(table="orders", item=items.from_plain(item))
    return stub.PutItem(request, timeout=10)


def sort_keys(out: str) -> list[str]:
    return [item["sk"] for item in json_lines(out)]


# ---------------------------------------------------------------- items in and out


def test_node_logs_which_item_check_it_runs(shared_node: NodeProcess) -> None:
    # The node runs in this venv with this environment: the same module loads (or not).
    kind = "compiled" if item_bytes.COMPILED else "Python (no compiled module)"
    assert f"item check: {kind}" in shared_node.log()


def test_put_and_get_plain_json_keep_numbers_sets_and_binary(shared_node: NodeProcess) -> None:
    item = (
        '{"pk": "plain", "sk": "1", "big": 123456789012345678901234567890.123456, '
        '"tiny": 1E-100, "neg": -0.50, "tags": {"$set": ["b", "a"]}, "nums": {"$set": [3, 1.50]}, '
        '"raw": {"$b": "AAEC/w=="}, "doc": {"list": [1, "x", true, null], "empty": {}}, '
        '"flag": false}'
    )
    put = json_of(shared_node.ok("put", item))
    assert put["changed"] is True
    assert put["version"]["region"] == "us-east" and put["version"]["hlc"] > 0

    out = shared_node.ok("get", '{"pk": "plain", "sk": "1"}')
    assert "123456789012345678901234567890.123456" in out  # every digit, not a float
    assert json_of(out) == {
        "pk": "plain",
        "sk": "1",
        "big": Decimal("123456789012345678901234567890.123456"),
        "tiny": Decimal("1E-100"),
        "neg": Decimal("-0.5"),
        "tags": {"$set": ["a", "b"]},
        "nums": {"$set": [Decimal("1.5"), 3]},
        "raw": {"$b": "AAEC/w=="},
        "doc": {"list": [1, "x", True, None], "empty": {}},
        "flag": False,
    }

    with_version = json_of(shared_node.ok("get", "--with-version", '{"pk": "plain", "sk": "1"}'))
    assert with_version["version"] == put["version"]

    again = json_of(shared_node.ok("put", item))  # the same item again: nothing changes
    assert again == {"version": put["version"], "changed": False}


def test_put_and_get_typed_json(shared_node: NodeProcess) -> None:
    typed = {
        "pk": {"S": "typed"},
        "sk": {"S": "1"},
        "n": {"N": "0012.500"},
        "ss": {"SS": ["z", "a"]},
        "ns": {"NS": ["10", "9"]},
        "b": {"B": "AAE="},
        "bs": {"BS": ["AQ==", "AA=="]},
        "l": {"L": [{"N": "1"}, {"NULL": True}]},
        "m": {"M": {"k": {"BOOL": False}}},
    }
    shared_node.ok("put", "--typed", json.dumps(typed))
    got = json_of(shared_node.ok("get", "--typed", '{"pk": {"S": "typed"}, "sk": {"S": "1"}}'))
    assert got == {
        **typed,
        "n": {"N": "12.5"},
        "ss": {"SS": ["a", "z"]},
        "ns": {"NS": ["9", "10"]},
        "bs": {"BS": ["AA==", "AQ=="]},
    }
    plain = json_of(shared_node.ok("get", '{"pk": "typed", "sk": "1"}'))
    assert plain["b"] == {"$b": "AAE="}
    assert plain["ns"] == {"$set": [9, 10]}
    assert plain["l"] == [1, None]


def test_get_of_a_missing_key_prints_null(shared_node: NodeProcess) -> None:
    assert shared_node.ok("get", '{"pk": "nobody", "sk": "1"}') == "null\n"
    assert json_of(shared_node.ok("get", "--with-version", '{"pk": "nobody", "sk": "1"}')) == {
        "item": None,
        "version": None,
    }


def test_update_applies_actions_and_a_no_op_writes_nothing(
    shared_node: NodeProcess, stub: Any
) -> None:
    key = '{"pk": "upd", "sk": "1"}'
    grpc_put(stub, pk="upd", sk="1", count=1, tags={"a", "b"}, note="x")
    result = json_of(
        shared_node.ok(
            "update",
            key,
            "--set",
            'status="shipped"',
            "--add",
            "count=41.5",
            "--remove",
            "note",
            "--delete",
            'tags={"$set": ["a"]}',
            "--return",
            "new",
        )
    )
    expected = {
        "pk": "upd",
        "sk": "1",
        "count": Decimal("42.5"),
        "status": "shipped",
        "tags": {"$set": ["b"]},
    }
    assert result["changed"] is True
    assert result["attributes"] == expected
    assert json_of(shared_node.ok("get", key)) == expected

    before = head(stub)
    same = json_of(shared_node.ok("update", key, "--set", 'status="shipped"'))
    assert same == {"version": result["version"], "changed": False}
    assert head(stub) == before


def test_delete_returns_the_old_item_and_leaves_nothing(
    shared_node: NodeProcess, stub: Any
) -> None:
    key = '{"pk": "del", "sk": "1"}'
    grpc_put(stub, pk="del", sk="1", v=1)
    deleted = json_of(shared_node.ok("delete", key, "--return", "old"))
    assert deleted["changed"] is True
    assert deleted["attributes"] == {"pk": "del", "sk": "1", "v": 1}
    assert shared_node.ok("get", key) == "null\n"
    assert json_of(shared_node.ok("delete", key)) == {"version": None, "changed": False}


def test_failed_conditions_exit_1_and_write_nothing(shared_node: NodeProcess, stub: Any) -> None:
    key = '{"pk": "cond", "sk": "1"}'
    first = grpc_put(stub, pk="cond", sk="1", status="new").version
    version = f"{first.hlc}@us-east"
    stale = f"{first.hlc - 1}@us-east"
    paid = '{"pk": "cond", "sk": "1", "status": "paid"}'

    before = head(stub)
    for result in shared_node.cli_many(
        ("put", "--if-not-exists", paid),
        ("put", "--if-version", stale, paid),
        ("put", "--if", 'status="shipped"', paid),
        ("delete", "--if", "status=1", key),
    ):
        assert result.returncode == 1, result
        assert "condition failed" in result.stderr
        assert result.stdout == ""
    assert head(stub) == before
    assert items.to_plain(grpc_get(stub, pk="cond", sk="1").item)["status"] == "new"

    put = json_of(shared_node.ok("put", "--if-version", version, "--if", 'status="new"', paid))
    assert put["changed"] is True
    shared_node.ok("delete", "--if-exists", "--if", 'status="paid"', key)
    assert not grpc_get(stub, pk="cond", sk="1").found


def test_expression_options_pass_dynamodb_expressions(shared_node: NodeProcess, stub: Any) -> None:
    key = '{"pk": "expr", "sk": "1"}'
    names = '{"#s": "status"}'
    put = shared_node.ok(
        "put",
        '{"pk": "expr", "sk": "1", "status": "new", "n": 1, "tags": {"$set": ["a"]}}',
        "--condition",
        "attribute_not_exists(pk) OR #s = :s",
        "--names",
        names,
        "--values",
        '{":s": "new"}',
    )
    assert json_of(put)["changed"] is True

    before = head(stub)
    failed = shared_node.cli(
        "delete", key, "--condition", "#s <> :s", "--names", names, "--values", '{":s": "new"}'
    )
    assert failed.returncode == 1 and "condition failed" in failed.stderr, failed
    assert head(stub) == before

    result = shared_node.cli(
        "update",
        key,
        "--update",
        "SET #s = :s ADD n :one",
        "--names",
        names,
        "--values",
        '{":s": "done", ":one": 1}',
        "--if",
        "n=1",
        "--return",
        "new",
    )
    assert result.returncode == 0, result
    assert json_of(result.stdout)["attributes"] == {
        "pk": "expr",
        "sk": "1",
        "status": "done",
        "n": 2,
        "tags": {"$set": ["a"]},
    }

    projected = shared_node.ok("get", key, "--projection", "#s, tags", "--names", names)
    assert json_of(projected) == {"status": "done", "tags": {"$set": ["a"]}}

    for sk in ("2", "3", "4"):
        grpc_put(stub, pk="expr", sk=sk, status="new", n=int(sk))
    filtered, counted = shared_node.cli_many(
        (
            "query",
            '"expr"',
            "--filter",
            "n >= :two",
            "--values",
            '{":two": 2}',
            "--projection",
            "sk",
        ),
        ("query", '"expr"', "--filter", "n > :n", "--values", '{":n": 2}', "--limit", "2"),
    )
    assert filtered.returncode == 0, filtered
    assert json_lines(filtered.stdout) == [{"sk": "1"}, {"sk": "2"}, {"sk": "3"}, {"sk": "4"}]
    # the limit counts the items read: of the first two (n 2 and 2), none passes
    assert counted.returncode == 0, counted
    assert json_lines(counted.stdout) == []
    assert "more items follow; continue with --start-key" in counted.stderr

    scanned = shared_node.ok(
        "scan",
        "--filter",
        "pk = :p AND #s = :s",
        "--names",
        names,
        "--values",
        '{":p": "expr", ":s": "new"}',
    )
    assert sorted(item["sk"] for item in json_lines(scanned)) == ["2", "3", "4"]


# ---------------------------------------------------------------- query, scan, batch-write


def test_batch_write_then_query_in_sort_key_order(shared_node: NodeProcess) -> None:
    lines = [{"put": {"pk": "q", "sk": sk, "i": i}} for i, sk in enumerate("cabed")]
    lines.append({"put": {"pk": "q-other", "sk": "a"}})
    summary = shared_node.ok("batch-write", "-", input="\n".join(map(json.dumps, lines)) + "\n")
    assert json_of(summary) == {"puts": 6, "deletes": 0, "changed": 6, "batches": 1}

    cases = {
        ("query", '"q"'): list("abcde"),
        ("query", '"q"', "--backward"): list("edcba"),
        ("query", '"q"', "--sk-between", '"b"', '"d"'): list("bcd"),
        ("query", '"q"', "--sk-gt", '"c"'): list("de"),
        ("query", '"q"', "--sk-le", '"b"', "--backward"): list("ba"),
        ("query", '"q"', "--sk-begins-with", '"a"'): ["a"],
    }
    for (args, expected), out in zip(cases.items(), shared_node.ok_many(*cases), strict=True):
        assert sort_keys(out) == expected, args
    typed = json_lines(shared_node.ok("query", "--typed", '{"S": "q"}', "--sk-eq", '{"S": "c"}'))
    assert typed == [{"pk": {"S": "q"}, "sk": {"S": "c"}, "i": {"N": "0"}}]

    page, every = shared_node.cli_many(
        ("query", '"q"', "--limit", "2"), ("query", '"q"', "--all", "--limit", "2")
    )
    assert page.returncode == 0 and sort_keys(page.stdout) == list("ab")
    match = re.search(r"--start-key '([^']*)'", page.stderr)
    assert match, page.stderr
    assert json_of(match.group(1)) == {"pk": "q", "sk": "b"}
    assert sort_keys(shared_node.ok("query", '"q"', "--start-key", match.group(1))) == list("cde")
    assert every.returncode == 0 and sort_keys(every.stdout) == list("abcde")
    assert every.stderr == ""


def test_batch_write_splits_batches_where_a_key_repeats(
    shared_node: NodeProcess, stub: Any
) -> None:
    lines = [
        {"put": {"pk": "bw", "sk": "1", "v": 1}},
        {"put": {"pk": "bw", "sk": "2", "v": 1}},
        {"delete": {"pk": "bw", "sk": "1"}},
        {"put": {"pk": "bw", "sk": "1", "v": 3}},
    ]
    summary = shared_node.ok("batch-write", "-", input="\n".join(map(json.dumps, lines)))
    assert json_of(summary) == {"puts": 3, "deletes": 1, "changed": 4, "batches": 3}
    assert json_of(shared_node.ok("get", '{"pk": "bw", "sk": "1"}'))["v"] == 3

    before = head(stub)
    bad = '{"put": {"pk": "bw", "sk": "3"}}\n{"put": {"pk": "bw", "sk": 4}}\n'
    result = shared_node.cli("batch-write", "-", input=bad)
    assert result.returncode == 2
    assert "line 2: put: key attribute 'sk': expected type S, got N" in result.stderr
    assert head(stub) == before


def test_scan_whole_table_pages_and_segments(shared_node: NodeProcess, stub: Any) -> None:
    for i in range(6):
        grpc_put(stub, pk=f"scan-{i}", sk="1")
    whole, *segments, one = shared_node.cli_many(
        ("scan",),
        *(("scan", "--segment", i, "--total-segments", 3) for i in range(3)),
        ("scan", "--limit", "1"),
    )
    keys = [(item["pk"], item["sk"]) for item in json_lines(whole.stdout)]
    assert len(set(keys)) == len(keys)
    assert {(f"scan-{i}", "1") for i in range(6)} <= set(keys)
    parts = [(item["pk"], item["sk"]) for part in segments for item in json_lines(part.stdout)]
    assert sorted(parts) == sorted(keys)
    assert one.returncode == 0 and len(json_lines(one.stdout)) == 1
    assert "more items follow; continue with --start-key" in one.stderr


# ---------------------------------------------------------------- the change stream


def test_stream_tail_shows_insert_modify_remove_and_no_op_writes_emit_nothing(
    shared_node: NodeProcess, stub: Any
) -> None:
    start = head(stub) + 1
    insert = grpc_put(stub, pk="s", sk="1", v=1)
    grpc_put(stub, pk="s", sk="1", v=2)
    shared_node.ok("put", '{"pk": "s", "sk": "1", "v": 2}')  # no change: no record
    shared_node.ok("update", '{"pk": "s", "sk": "1"}', "--set", "v=2")  # no change either
    shared_node.ok("delete", '{"pk": "s", "sk": "1"}')
    grpc_put(stub, pk="s", sk="marker")

    records = json_lines(shared_node.ok("stream tail", "--from", start, "--count", 4))
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE", "INSERT"]
    assert records[3]["dynamodb"]["Keys"] == {"pk": "s", "sk": "marker"}
    body = [r["dynamodb"] for r in records]
    assert body[0]["NewImage"] == {"pk": "s", "sk": "1", "v": 1} and "OldImage" not in body[0]
    assert body[1]["NewImage"]["v"] == 2 and body[1]["OldImage"]["v"] == 1
    assert body[2]["OldImage"]["v"] == 2 and "NewImage" not in body[2]
    assert [b["SequenceNumber"] for b in body] == [str(start + i).zfill(21) for i in range(4)]
    for record in records:
        assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert record["dynamodb"]["SizeBytes"] > 0
        assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
        assert record["meridian"]["origin"] == "us-east"
        assert record["meridian"]["table"] == "orders"
        assert record["eventID"]
    assert records[0]["meridian"]["version"] == {"hlc": insert.version.hlc, "region": "us-east"}

    typed = json_lines(shared_node.ok("stream tail", "--typed", "--from", start, "--count", 1))
    assert typed[0]["dynamodb"]["NewImage"]["v"] == {"N": "1"}


def test_stream_tail_is_live_and_ctrl_c_exits_quietly(shared_node: NodeProcess, stub: Any) -> None:
    subscribes = {"name": "meridian_node_requests_total", "operation": "Subscribe"}
    before = metric(shared_node, **subscribes)
    tail_args = [*MERIDIAN, "stream", "tail", *shared_node.target]
    live = subprocess.Popen(
        [*tail_args, "--count", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    other_origin = subprocess.Popen(
        [*tail_args, "--origin", "eu-west", "--from", "trim-horizon"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Both are subscribed (and "latest" was fixed) once the node has counted them.
        wait_until(
            lambda: metric(shared_node, **subscribes) >= before + 2,
            15,
            "two subscribers",
            logs=[shared_node],
        )
        item = items.from_plain({"pk": "live", "sk": "1", "v": 1})
        stub.PutItem(pb.PutItemRequest(table="orders", item=item), timeout=10)
        out, err = live.communicate(timeout=15)
        assert live.returncode == 0, err
        (record,) = json_lines(out)
        assert record["eventName"] == "INSERT"
        assert record["dynamodb"]["Keys"] == {"pk": "live", "sk": "1"}

        other_origin.send_signal(signal.SIGINT)
        out, err = other_origin.communicate(timeout=15)
        assert (other_origin.returncode, out, err) == (0, "", "")
    finally:
        for process in (live, other_origin):
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)


# ---------------------------------------------------------------- bad input and failures

BIG = json.dumps({"pk": "bad", "sk": "1", "data": "x" * (400 * 1024)})


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("put", '{"pk": 5, "sk": "1"}'), None, "key attribute 'pk': expected type S, got N"),
        (("put", '{"pk": "bad"}'), None, "key attribute 'sk': missing"),
        (("put", '{"pk": "bad", "sk": "1",'), None, "item: not valid JSON"),
        (("put", "-"), BIG, "exceeds the 409600-byte limit"),
        (("put", '{"pk": "bad", "sk": "1", "s": {"$set": []}}'), None, "set must not be empty"),
        (
            ("put", "--typed", '{"pk": {"S": "bad"}, "sk": {"N": "1"}}'),
            None,
            "'sk': expected type S",
        ),
        (("get", '{"pk": "bad", "sk": "1", "x": 1}'), None, "'x': not part of the key schema"),
        (
            ("update", '{"pk": "bad", "sk": "1"}', "--set", 'pk="z"'),
            None,
            "Cannot update attribute pk. This attribute is part of the key",
        ),
        (
            ("put", "--condition", "a = = :v", '{"pk": "bad", "sk": "1"}'),
            None,
            "Invalid ConditionExpression: Syntax error",
        ),
        (
            ("update", '{"pk": "bad", "sk": "1"}', "--set", "a=1", "--update", "SET b = :b"),
            None,
            "--update replaces --set",
        ),
        (("scan", "--names", "[]"), None, "--names: expected a JSON object"),
        (("put", "--if", "status", '{"pk": "bad", "sk": "1"}'), None, "expected ATTR=JSON"),
        (("query", "bad"), None, "a JSON string needs quotes"),
    ],
)
def test_bad_input_is_refused_with_exit_2_and_nothing_written(
    shared_node: NodeProcess,
    stub: Any,
    args: tuple[str, ...],
    stdin: str | None,
    message: str,
) -> None:
    before = head(stub)
    result = shared_node.cli(*args, input=stdin)
    assert result.returncode == 2, result
    assert message in result.stderr
    assert result.stderr.startswith("error: ")
    assert result.stdout == ""
    assert head(stub) == before
    assert not grpc_get(stub, pk="bad", sk="1").found


def test_node_itself_refuses_an_oversized_item(stub: Any) -> None:
    item = pb.Item()
    item.attributes["pk"].s = "bad"
    item.attributes["sk"].s = "1"
    item.attributes["data"].s = "x" * (400 * 1024)
    before = head(stub)
    with pytest.raises(grpc.RpcError) as caught:
        stub.PutItem(pb.PutItemRequest(table="orders", item=item), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "exceeds" in caught.value.details()
    assert head(stub) == before


def test_unknown_table_exits_1(shared_node: NodeProcess) -> None:
    result = shared_node.cli("get", "--table", "nope", '{"pk": "a", "sk": "1"}')
    assert result.returncode == 1
    assert "error: table 'nope' does not exist" in result.stderr


def test_endpoint_target_and_unreachable_nodes(
    shared_node: NodeProcess, stub: Any, tmp_path: Any
) -> None:
    grpc_put(stub, pk="ep", sk="1")
    got = run_cli(
        "get", "--endpoint", shared_node.endpoint, "--table", "orders", '{"pk": "ep", "sk": "1"}'
    )
    assert got.returncode == 0 and json_of(got.stdout) == {"pk": "ep", "sk": "1"}

    port = free_port()
    gone = run_cli("get", "--endpoint", f"127.0.0.1:{port}", "--table", "orders", "{}")
    assert gone.returncode == 1
    assert f"error: cannot reach node at 127.0.0.1:{port}: " in gone.stderr

    # The shared node's group plus a region whose node is not running.
    doc = yaml.safe_load(shared_node.config.read_text())
    doc["regions"].append(region_doc("eu-west", tmp_path / "eu-west"))
    config = write_group(tmp_path / "two.yaml", doc)
    eu = doc["regions"][1]["node"]["listen"]
    down = run_cli("get", "--config", config, "--region", "eu-west", '{"pk": "a", "sk": "1"}')
    assert down.returncode == 1
    assert f"error: cannot reach node eu-west at {eu}: " in down.stderr

    verify = run_cli("verify", "--config", config)
    assert verify.returncode == 1
    assert f"cannot reach node eu-west at {eu}" in verify.stderr


def test_verify_and_conflicts_on_one_region(shared_node: NodeProcess) -> None:
    verify = run_cli("verify", "--config", shared_node.config, "--json")
    assert verify.returncode == 0, verify.stderr
    report = json_of(verify.stdout)
    assert report["identical"] is True
    (table,) = report["tables"]
    assert table["table"] == "orders" and table["regions"][0]["region"] == "us-east"

    human = run_cli("verify", "--config", shared_node.config)
    assert human.returncode == 0 and "identical" in human.stdout

    conflicts = json_of(shared_node.ok("conflicts", "--json"))
    assert conflicts == {"region": "us-east", "conflicts": []}


# ---------------------------------------------------------------- configuration and startup


def test_check_config(tmp_path: Any) -> None:
    good = write_group(tmp_path / "good.yaml", e2e_group(tmp_path))
    result = run_cli("check-config", good)
    assert result.returncode == 0 and "is valid" in result.stdout

    example = run_cli("check-config", EXAMPLE)
    assert example.returncode == 0, example.stderr

    doc = e2e_group(tmp_path)
    doc["regions"][0]["node"]["listen"] = "eu-west"
    bad = write_group(tmp_path / "bad.yaml", doc)
    result = run_cli("check-config", bad)
    assert result.returncode == 3
    assert "regions[0].node.listen: expected HOST:PORT" in result.stderr


def test_node_with_a_bad_config_exits_3(tmp_path: Any) -> None:
    doc = e2e_group(tmp_path)
    doc["tables"][0]["partition_key"]["type"] = "X"
    bad = write_group(tmp_path / "bad.yaml", doc)
    result = run_cli("node", "--config", bad, "--region", "us-east")
    assert result.returncode == 3
    assert "tables[0].partition_key.type" in result.stderr

    good = write_group(tmp_path / "good.yaml", e2e_group(tmp_path))
    result = run_cli("node", "--config", good, "--region", "mars")
    assert result.returncode == 3
    assert "unknown region 'mars'" in result.stderr


def test_sigterm_exits_0_and_a_changed_key_schema_is_refused(nodes: Nodes) -> None:
    config = nodes.config()
    node = nodes.node(config)
    assert node.stop() == 0

    doc = yaml.safe_load(config.read_text())
    doc["tables"][0]["sort_key"]["type"] = "N"
    write_group(config, doc)
    again = nodes.node(config, ready=False)
    assert again.wait_exit() == 3, again.log()
    assert "'orders'" in again.log()
    assert "sort key sk (S)" in again.log()
    assert "the group's catalog holds it with" in again.log()


def test_a_changed_merge_mode_is_refused(nodes: Nodes) -> None:
    config = nodes.config()
    node = nodes.node(config)
    assert node.stop() == 0

    doc = yaml.safe_load(config.read_text())
    doc["tables"][0]["merge"] = "attribute"
    write_group(config, doc)
    again = nodes.node(config, ready=False)
    assert again.wait_exit() == 3, again.log()
    assert "table 'orders' exists with merge mode item, not attribute" in again.log()


def test_acknowledged_writes_survive_kill_9(nodes: Nodes) -> None:
    node = nodes.node()  # durability: fsync
    channel, node_stub = connect(node.endpoint)
    with channel:
        futures = [
            node_stub.PutItem.future(
                pb.PutItemRequest(
                    table="orders",
                    item=items.from_plain({"pk": "dur", "sk": f"{i:04d}", "n": i, "s": f"v{i}"}),
                ),
                timeout=30,
            )
            for i in range(199)
        ]
        acked = {f"{i:04d}": future.result() for i, future in enumerate(futures)}
    last = json_of(node.ok("put", '{"pk": "dur", "sk": "cli", "n": 199}'))
    node.kill9()
    assert all(result.changed for result in acked.values())
    newest = max([last["version"]["hlc"], *(r.version.hlc for r in acked.values())])

    restarted = nodes.restart(node)
    channel, node_stub = connect(restarted.endpoint)
    with channel:
        for sk, result in acked.items():
            key = items.from_plain({"pk": "dur", "sk": sk})
            got = node_stub.GetItem(pb.GetItemRequest(table="orders", key=key), timeout=10)
            assert got.found, sk
            assert got.version == result.version
            assert items.to_plain(got.item) == {
                "pk": "dur",
                "sk": sk,
                "n": int(sk),
                "s": f"v{int(sk)}",
            }
        stream = node_stub.DescribeStream(pb.DescribeStreamRequest(table="orders"), timeout=10)
        assert stream.head_sequence_number == 200
        info = node_info(restarted.config, restarted.region)
        assert info.hlc >= newest
    assert json_of(restarted.ok("get", '{"pk": "dur", "sk": "cli"}'))["n"] == 199
    after = json_of(restarted.ok("put", '{"pk": "dur", "sk": "new"}'))
    assert after["version"]["hlc"] > newest
    assert restarted.stop() == 0
