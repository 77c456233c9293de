"""The CLI's pure helpers: JSON shapes, tables, and parsing of flag values."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Any

import pytest

from meridian.cli import errors, output, parsing, verify
from meridian.cli import main as cli
from meridian.config import KeyAttr, TableConfig
from meridian.model import items, render
from meridian.pb import node_pb2 as pb


def item(**attrs: Any) -> pb.Item:
    return items.from_plain(attrs)


def record(**fields: Any) -> pb.StreamRecord:
    base: dict[str, Any] = {
        "event_id": "abc.orders.42",
        "event_name": pb.INSERT,
        "sequence_number": 42,
        "creation_time_ms": 1_795_347_911_999,
        "keys": item(pk="a", sk="1"),
        "size_bytes": 123,
        "version": pb.Version(hlc=117659920710238208, region="eu-west"),
        "table": "orders",
        "view_type": pb.NEW_AND_OLD_IMAGES,
    }
    base.update(fields)
    return pb.StreamRecord(**base)


# ---------------------------------------------------------------- stream records


def test_stream_record_shape() -> None:
    new = item(pk="a", sk="1", n=Decimal("12345678901234567890.5"), tags={"x", "y"})
    got = render.stream_record_json(record(new_image=new))
    assert got == {
        "eventID": "abc.orders.42",
        "eventName": "INSERT",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_795_347_911,  # seconds, rounded down
            "Keys": {"pk": "a", "sk": "1"},
            "NewImage": {
                "n": Decimal("12345678901234567890.5"),
                "pk": "a",
                "sk": "1",
                "tags": {"x", "y"},
            },
            "SequenceNumber": "000000000000000000042",
            "SizeBytes": 123,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "meridian": {
            "origin": "eu-west",
            "version": {"hlc": 117659920710238208, "region": "eu-west"},
            "table": "orders",
        },
    }
    text = render.to_json(got)
    assert '"n": 12345678901234567890.5' in text
    assert '"tags": {"$set": ["x", "y"]}' in text


@pytest.mark.parametrize(
    ("event", "new", "old", "view", "keys_present"),
    [
        (pb.INSERT, True, False, pb.NEW_AND_OLD_IMAGES, ["NewImage"]),
        (pb.MODIFY, True, True, pb.NEW_AND_OLD_IMAGES, ["NewImage", "OldImage"]),
        (pb.REMOVE, False, True, pb.NEW_AND_OLD_IMAGES, ["OldImage"]),
        (pb.MODIFY, False, False, pb.KEYS_ONLY, []),
    ],
)
def test_stream_record_images_only_when_present(
    event: int, new: bool, old: bool, view: int, keys_present: list[str]
) -> None:
    fields: dict[str, Any] = {"event_name": event, "view_type": view}
    if new:
        fields["new_image"] = item(pk="a", sk="1", v=2)
    if old:
        fields["old_image"] = item(pk="a", sk="1", v=1)
    body = render.stream_record_json(record(**fields))["dynamodb"]
    assert [k for k in ("NewImage", "OldImage") if k in body] == keys_present
    assert body["StreamViewType"] == pb.StreamViewType.Name(view)


def test_stream_record_typed_images() -> None:
    got = render.stream_record_json(record(new_image=item(pk="a", sk="1", b=b"\x00\x01")), True)
    assert got["dynamodb"]["Keys"] == {"pk": {"S": "a"}, "sk": {"S": "1"}}
    assert got["dynamodb"]["NewImage"]["b"] == {"B": "AAE="}


@pytest.mark.parametrize(
    ("seq", "text"),
    [
        (0, "0" * 21),
        (1, "0" * 20 + "1"),
        (10**21 - 1, "9" * 21),
        (2**64 - 1, str(2**64 - 1).zfill(21)),
    ],
)
def test_sequence_number_text(seq: int, text: str) -> None:
    assert render.sequence_number_text(seq) == text
    assert len(text) >= 21 and text.isdigit()


# ---------------------------------------------------------------- results and versions


@pytest.mark.parametrize(
    ("result", "with_attributes", "expected"),
    [
        (
            pb.WriteResult(version=pb.Version(hlc=7, region="us-east"), changed=True),
            False,
            {"version": {"hlc": 7, "region": "us-east"}, "changed": True},
        ),
        (pb.WriteResult(changed=False), False, {"version": None, "changed": False}),
        (
            pb.WriteResult(changed=False),
            True,
            {"version": None, "changed": False, "attributes": None},
        ),
        (
            pb.WriteResult(
                version=pb.Version(hlc=9, region="r"), changed=True, attributes=item(pk="a", n=1)
            ),
            True,
            {
                "version": {"hlc": 9, "region": "r"},
                "changed": True,
                "attributes": {"n": 1, "pk": "a"},
            },
        ),
    ],
)
def test_write_result_json(result: pb.WriteResult, with_attributes: bool, expected: Any) -> None:
    assert output.write_result_json(result, with_attributes=with_attributes) == expected


def test_version_text_round_trips_through_if_version() -> None:
    version = pb.Version(hlc=117659920710238208, region="us-east")
    assert render.version_text(version) == "117659920710238208@us-east"
    assert parsing.parse_version(render.version_text(version)) == version
    assert render.version_text(pb.Version()) == "-"


def test_item_json_sorts_nested_maps() -> None:
    text = render.to_json(render.item_json(item(pk="a", m={"z": 1, "a": {"y": 2, "b": 3}})))
    assert text == '{"m": {"a": {"b": 3, "y": 2}, "z": 1}, "pk": "a"}'


def test_time_text() -> None:
    assert render.time_text(1_795_347_911_218) == "2026-11-22T11:45:11.218Z"
    assert render.time_text(0) == "1970-01-01T00:00:00.000Z"


# ---------------------------------------------------------------- tables


@pytest.mark.parametrize(
    ("headers", "rows", "expected"),
    [
        (["A"], [], "A"),
        (
            ["REGION", "ITEMS", "DIGEST"],
            [["us-east", 3, "ab"], ["ap-south", 120, None]],
            "REGION    ITEMS  DIGEST\nus-east       3  ab\nap-south    120  -",
        ),
        (["LONG HEADER", "B"], [["x", ""]], "LONG HEADER  B\nx"),
        (["N", "BOOL"], [[Decimal("1.5"), True]], "N    BOOL\n1.5  True"),
    ],
)
def test_render_table(headers: list[str], rows: list[list[Any]], expected: str) -> None:
    assert output.render_table(headers, rows) == expected


def test_render_table_refuses_ragged_rows() -> None:
    with pytest.raises(ValueError, match="row 1 has 1 cells, expected 2"):
        output.render_table(["A", "B"], [["x", "y"], ["z"]])


# ---------------------------------------------------------------- flag values


@pytest.mark.parametrize(
    ("text", "typed", "name", "value"),
    [
        ('status="shipped"', False, "status", pb.AttributeValue(s="shipped")),
        ("n=1.50", False, "n", pb.AttributeValue(n="1.5")),
        ("a=b=c", False, "a", None),  # only the first '=' separates; b=c is not JSON
        (
            'tags={"$set": ["b", "a"]}',
            False,
            "tags",
            pb.AttributeValue(ss=pb.StringSet(values=["a", "b"])),
        ),
        ('n={"N": "007"}', True, "n", pb.AttributeValue(n="7")),
        ("x=null", False, "x", pb.AttributeValue(null=True)),
    ],
)
def test_parse_assignment(
    text: str, typed: bool, name: str, value: pb.AttributeValue | None
) -> None:
    if value is None:
        with pytest.raises(errors.UsageError, match="not valid JSON"):
            parsing.parse_assignment(text, "--set", typed)
        return
    got = parsing.parse_assignment(text, "--set", typed)
    assert got == (name, value)


@pytest.mark.parametrize(
    ("text", "typed", "message"),
    [
        ("status", False, "--if 'status': expected ATTR=JSON"),
        ("=1", False, "--if '=1': the attribute name before '=' is empty"),
        ("s=shipped", False, "not valid JSON.*a JSON string needs quotes: '\"shipped\"'"),
        ("s=", False, "--if 's=': not valid JSON"),
        ('s={"$set": []}', False, "set must not be empty"),
        ("n=1e400", False, "out of range|exceeds the largest magnitude"),
        ("n=NaN", False, "not valid JSON"),
        ('s="x"', True, "value must be an object with exactly one of S, N"),
        ('n={"N": "abc"}', True, "invalid number 'abc'"),
    ],
)
def test_parse_assignment_errors(text: str, typed: bool, message: str) -> None:
    with pytest.raises(errors.UsageError, match=message) as caught:
        parsing.parse_assignment(text, "--if", typed)
    assert caught.value.code == errors.EXIT_USAGE


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("123", "expected HLC@REGION"),
        ("@us-east", "HLC must be an integer"),
        ("123@", "expected HLC@REGION"),
        ("abc@us-east", "HLC must be an integer"),
        ("-1@us-east", "HLC must be an integer"),
        (f"{2**64}@us-east", "HLC must be an integer from 0 to 2\\^64-1"),
        ("\uff11\uff12@us-east", "HLC must be an integer"),  # fullwidth digits
    ],
)
def test_parse_version_errors(text: str, message: str) -> None:
    with pytest.raises(errors.UsageError, match=message):
        parsing.parse_version(text)


def test_parse_version() -> None:
    assert parsing.parse_version("5@eu-west") == pb.Version(hlc=5, region="eu-west")
    assert parsing.parse_version(f"{2**64 - 1}@a@b") == pb.Version(hlc=2**64 - 1, region="a@b")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("latest", "latest"), ("trim-horizon", "trim-horizon"), ("000000000000000000042", 42)],
)
def test_parse_stream_position(text: str, expected: str | int) -> None:
    assert parsing.parse_stream_position(text) == expected


@pytest.mark.parametrize("text", ["", "-1", "LATEST", "4x"])
def test_parse_stream_position_errors(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="expected trim-horizon, latest"):
        parsing.parse_stream_position(text)


def parsed(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(
        [*argv[:1], "--endpoint", "h:1", "--table", "t", *argv[1:]]
    )


def test_update_flags_become_one_update_expression() -> None:
    args = parsed("update", "{}", "--add", "n=1", "--remove", "old", "--set", 's="x"')
    args.actions.append(("delete", 'tags={"$set": ["a"]}'))
    names = parsing.Placeholders(args)
    text = parsing.update_of(args.actions, False, names)
    assert text == "SET #m2 = :m1 REMOVE #m1 ADD #m0 :m0 DELETE #m3 :m2"
    assert names.names == {"#m0": "n", "#m1": "old", "#m2": "s", "#m3": "tags"}
    assert names.values == {
        ":m0": pb.AttributeValue(n="1"),
        ":m1": pb.AttributeValue(s="x"),
        ":m2": pb.AttributeValue(ss=pb.StringSet(values=["a"])),
    }


def test_update_needs_an_action() -> None:
    with pytest.raises(errors.UsageError, match="at least one of --set"):
        parsing.update_of([], False, parsing.Placeholders(parsed("update", "{}")))


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ((), None),
        (("--if-not-exists",), "attribute_not_exists(#m0)"),
        (("--if-exists", "--if", "n=1"), "attribute_exists(#m0) AND #m1 = :m0"),
        (("--condition", "a = :a OR b = :a"), "a = :a OR b = :a"),
        (
            ("--if-exists", "--condition", "a = :a OR b = :a"),
            "attribute_exists(#m0) AND (a = :a OR b = :a)",
        ),
        (("--if-exists", "--condition", "(a = :a)"), "attribute_exists(#m0) AND (a = :a)"),
        (("--if-exists", "--condition", "(a) OR (b)"), "attribute_exists(#m0) AND ((a) OR (b))"),
    ],
)
def test_condition_flags_become_one_condition_expression(
    flags: tuple[str, ...], expected: str | None
) -> None:
    args = parsed("put", "{}", *flags)
    names = parsing.Placeholders(args)
    assert parsing.condition_of(args, names, "pk") == expected
    if "--if-exists" in flags or "--if-not-exists" in flags:
        assert names.names["#m0"] == "pk"


def test_generated_placeholders_skip_the_users_own() -> None:
    args = parsed("put", "{}", "--names", '{"#m0": "x", "#m2": "y"}', "--values", '{":m1": 5}')
    names = parsing.Placeholders(args)
    assert [names.name("a"), names.name("b"), names.value(pb.AttributeValue(s="v"))] == [
        "#m1",
        "#m3",
        ":m0",
    ]
    assert names.names == {"#m0": "x", "#m2": "y", "#m1": "a", "#m3": "b"}
    assert names.values[":m1"] == pb.AttributeValue(n="5")


def test_typed_values_and_bad_placeholder_maps() -> None:
    typed = parsing.Placeholders(parsed("put", "--typed", "{}", "--values", '{":v": {"N": "1"}}'))
    assert typed.values == {":v": pb.AttributeValue(n="1")}
    for flags, message in [
        (("--names", '["#a"]'), "--names: expected a JSON object of strings"),
        (("--names", '{"#a": 1}'), "--names: expected a JSON object of strings"),
        (("--values", "[1]"), "--values: expected a JSON object"),
        (("--values", '{":v": {"$set": []}}'), "--values: .*set must not be empty"),
        (("--values", "{"), "--values: not valid JSON"),
    ]:
        with pytest.raises(errors.UsageError, match=message):
            parsing.Placeholders(parsed("put", "{}", *flags))


def spec(sort: bool = True) -> pb.TableSpec:
    out = pb.TableSpec(name="t", partition_key=pb.KeyAttribute(name="pk", type=pb.KEY_TYPE_S))
    if sort:
        out.sort_key.CopyFrom(pb.KeyAttribute(name="sk", type=pb.KEY_TYPE_N))
    return out


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ((), "#m0 = :m0"),
        (("--sk-eq", "1"), "#m0 = :m0 AND #m1 = :m1"),
        (("--sk-le", "1"), "#m0 = :m0 AND #m1 <= :m1"),
        (("--sk-begins-with", '"a"'), "#m0 = :m0 AND begins_with(#m1, :m1)"),
        (("--sk-between", "1", "2"), "#m0 = :m0 AND #m1 BETWEEN :m1 AND :m2"),
    ],
)
def test_query_flags_become_a_key_condition(flags: tuple[str, ...], expected: str) -> None:
    args = parsed("query", '"p"', *flags)
    names = parsing.Placeholders(args)
    assert parsing.key_condition_of(args, names, spec()) == expected
    assert names.names == {"#m0": "pk", **({"#m1": "sk"} if flags else {})}
    assert names.values[":m0"] == pb.AttributeValue(s="p")


def test_a_sort_key_condition_needs_a_sort_key() -> None:
    args = parsed("query", '"p"', "--sk-gt", "1")
    with pytest.raises(errors.UsageError, match="--sk-gt: table 't' has no sort key"):
        parsing.key_condition_of(args, parsing.Placeholders(args), spec(sort=False))


# ---------------------------------------------------------------- usage errors before any call


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["put", '{"pk": "a"}'], "give either --endpoint"),
        (["put", "--endpoint", "h:1", "--config", "g.yaml", "{}"], "give either --endpoint"),
        (["put", "--endpoint", "h:1", '{"pk": "a"}'], "--table is required with --endpoint"),
        (["put", "--endpoint", "h:1", "--region", "x", "{}"], "--region goes with --config"),
        (["put", "--endpoint", "h:1", "--table", "t", '{"pk": '], "item: not valid JSON"),
        (["put", "--endpoint", "h:1", "--table", "t", "[1]"], "item: item must be a JSON object"),
        (["get", "--endpoint", "h:1", "--table", "t", '{"pk": {"$b": "!"}}'], "not valid base64"),
        (["scan", "--endpoint", "h:1", "--table", "t", "--segment", "1"], "go together"),
        (
            [
                "scan",
                "--endpoint",
                "h:1",
                "--table",
                "t",
                "--segment",
                "2",
                "--total-segments",
                "2",
            ],
            "must be below --total-segments 2",
        ),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == errors.EXIT_USAGE
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["get"],
        ["stream"],
        ["query", "--endpoint", "h:1", '"a"', "--sk-eq", '"1"', "--sk-lt", '"2"'],
        ["put", "--endpoint", "h:1", "--if-exists", "--if-not-exists", "{}"],
        ["scan", "--endpoint", "h:1", "--limit", "0"],
        ["stream", "tail", "--endpoint", "h:1", "--from", "yesterday"],
    ],
)
def test_argparse_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == errors.EXIT_USAGE
    assert "usage: meridian" in capsys.readouterr().err


def test_check_config_error_exits_3(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "group.yaml"
    path.write_text("group: demo\nbogus: 1\n")
    assert cli.main(["check-config", str(path)]) == errors.EXIT_CONFIG
    assert "bogus" in capsys.readouterr().err


# ---------------------------------------------------------------- verify's key walk


class FakeNode:
    """DiffKeys pages over fixed entries (answers only what first_differences asks)."""

    def __init__(self, entries: list[pb.KeyVersion], page: int = 2) -> None:
        self.entries = entries
        self.page = page

    def call(self, method: str, request: Any) -> Any:
        assert method == "DiffKeys"
        start = 0
        if request.HasField("exclusive_start_key"):
            start = 1 + next(
                i for i, e in enumerate(self.entries) if e.keys == request.exclusive_start_key
            )
        chunk = self.entries[start : start + self.page]
        response = pb.DiffKeysResponse(entries=chunk)
        if start + self.page < len(self.entries):
            response.last_evaluated_key.CopyFrom(chunk[-1].keys)
        return response


TABLE = TableConfig("orders", KeyAttr("pk", pb.KEY_TYPE_N), None, pb.NEW_AND_OLD_IMAGES, 86400)


def entry(pk: int, hlc: int = 1, tombstone: bool = False, value: str = "h") -> pb.KeyVersion:
    return pb.KeyVersion(
        keys=item(pk=pk),
        version=pb.Version(hlc=hlc, region="us-east"),
        tombstone=tombstone,
        value_hash=value,
    )


@pytest.mark.parametrize(
    ("a", "b", "differing"),
    [
        ([entry(1), entry(2)], [entry(1), entry(2)], []),
        ([entry(1), entry(2), entry(3)], [entry(1), entry(3)], [2]),
        ([entry(-5), entry(10)], [entry(-5, hlc=2), entry(10, tombstone=True)], [-5, 10]),
        ([entry(1, value="x")], [entry(1, value="y"), entry(2)], [1, 2]),
        ([], [entry(i) for i in range(20)], list(range(10))),  # stops at ten
        ([entry(i) for i in range(9, -1, -1)][::-1], [entry(100)], [*range(10)]),
    ],
)
def test_first_differences(
    a: list[pb.KeyVersion], b: list[pb.KeyVersion], differing: list[int]
) -> None:
    nodes = {"us-east": FakeNode(a), "eu-west": FakeNode(b)}
    found = verify.first_differences(nodes, TABLE.to_spec())  # type: ignore[arg-type]
    assert [int(items.to_plain(keys)["pk"]) for keys, _ in found] == differing
    for keys, here in found:
        assert set(here) == {"us-east", "eu-west"}
        assert len({verify._fingerprint(e) for e in here.values()}) == 2
        assert any(e is not None and e.keys == keys for e in here.values())


class ListingNode:
    """Answers ListTables and DescribeTable with fixed tables; None: unreachable."""

    def __init__(self, tables: list[str] | None) -> None:
        self.tables = tables

    def call(self, method: str, request: Any) -> Any:
        if self.tables is None:
            raise errors.CliError("node unreachable")
        if method == "ListTables":
            return pb.ListTablesResponse(tables=self.tables)
        assert method == "DescribeTable" and request.table in self.tables
        spec = pb.TableSpec(name=request.table, partition_key=pb.KeyAttribute(name="id"))
        return pb.DescribeTableResponse(table=pb.TableDescription(spec=spec))


@pytest.mark.parametrize(
    ("listed", "compared", "partial"),
    [
        # every region holds a runtime table: compared with the declared one
        ({"a": ["carts", "orders"], "b": ["carts", "orders"]}, ["carts", "orders"], {}),
        # one region only (being created, or a set-aside copy): named, not compared
        ({"a": ["carts", "orders"], "b": ["orders"]}, ["orders"], {"carts": ["a"]}),
        # an unreachable region does not make every table partial
        ({"a": ["carts", "orders"], "b": None}, ["carts", "orders"], {}),
        # a declared table is compared even where it is missing
        ({"a": [], "b": []}, ["orders"], {}),
    ],
)
def test_verify_compares_the_group_file_and_the_catalog_tables(
    listed: dict[str, list[str] | None], compared: list[str], partial: dict[str, list[str]]
) -> None:
    nodes = {region: ListingNode(tables) for region, tables in listed.items()}
    specs, found = verify.group_tables(nodes, [TABLE])  # type: ignore[arg-type]
    assert [spec.name for spec in specs] == compared
    assert found == partial
