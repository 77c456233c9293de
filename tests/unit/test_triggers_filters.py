"""Filter patterns: matching is a table of (pattern, expected) against one event record."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from meridian.config import ConfigError
from triggers.filters import bind, compile_pattern, matches, matches_any

EVENT: dict[str, Any] = {
    "eventID": "4af83aedbfcf.tasks.7",
    "eventName": "MODIFY",
    "eventVersion": "1.1",
    "eventSource": "meridian:stream",
    "awsRegion": "us-east",
    "dynamodb": {
        "ApproximateCreationDateTime": 1795350140,
        "Keys": {"list": {"S": "list-1"}, "task": {"S": "task-9"}},
        "NewImage": {
            "list": {"S": "list-1"},
            "task": {"S": "task-9"},
            "status": {"S": "open"},
            "priority": {"N": "3"},
            "tags": {"SS": ["home", "urgent"]},
            "done": {"BOOL": False},
            "note": {"NULL": True},
            "meta": {"M": {"owner": {"S": "ann"}}},
            "steps": {"L": [{"S": "a"}, {"N": "2"}]},
        },
        "OldImage": {"list": {"S": "list-1"}, "task": {"S": "task-9"}, "status": {"S": "new"}},
        "SequenceNumber": "000000000000000000007",
        "SizeBytes": 120,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    },
    "meridian": {
        "origin": "us-east",
        "version": {"hlc": 117660066563424256, "region": "us-east"},
        "table": "tasks",
    },
}

INSERT = copy.deepcopy(EVENT)
INSERT["eventName"] = "INSERT"
del INSERT["dynamodb"]["OldImage"]


def new(**fields: Any) -> dict[str, Any]:
    return {"dynamodb": {"NewImage": fields}}


# (id, pattern, matches EVENT)
CASES: list[tuple[str, Any, bool]] = [
    ("event-name", {"eventName": ["MODIFY"]}, True),
    ("event-name-other", {"eventName": ["INSERT", "REMOVE"]}, False),
    ("event-name-one-of", {"eventName": ["INSERT", "MODIFY"]}, True),
    ("event-name-case-matters", {"eventName": ["modify"]}, False),
    ("equals-ignore-case", {"eventName": [{"equals-ignore-case": "modify"}]}, True),
    ("origin", {"meridian": {"origin": ["us-east"]}}, True),
    ("origin-other", {"meridian": {"origin": ["eu-west"]}}, False),
    ("version-number", {"meridian": {"version": {"hlc": [117660066563424256]}}}, True),
    ("new-image-string", new(status={"S": ["open"]}), True),
    ("new-image-string-other", new(status={"S": ["closed"]}), False),
    ("old-image-string", {"dynamodb": {"OldImage": {"status": {"S": ["new"]}}}}, True),
    ("keys-prefix", {"dynamodb": {"Keys": {"list": {"S": [{"prefix": "list-"}]}}}}, True),
    ("prefix-no", new(status={"S": [{"prefix": "cl"}]}), False),
    ("suffix", new(task={"S": [{"suffix": "-9"}]}), True),
    ("suffix-no", new(task={"S": [{"suffix": "-8"}]}), False),
    ("exists-leaf", new(status={"S": [{"exists": True}]}), True),
    ("exists-missing", new(owner={"S": [{"exists": True}]}), False),
    ("not-exists-missing", new(owner={"S": [{"exists": False}]}), True),
    ("not-exists-present", new(status={"S": [{"exists": False}]}), False),
    ("exists-on-a-map", {"dynamodb": {"OldImage": [{"exists": True}]}}, True),
    ("anything-but", new(status={"S": [{"anything-but": ["closed", "archived"]}]}), True),
    ("anything-but-listed", new(status={"S": [{"anything-but": "open"}]}), False),
    ("anything-but-missing-field", new(owner={"S": [{"anything-but": "x"}]}), False),
    ("anything-but-prefix", new(status={"S": [{"anything-but": {"prefix": "cl"}}]}), True),
    ("anything-but-prefix-no", new(status={"S": [{"anything-but": {"prefix": "op"}}]}), False),
    ("anything-but-suffix", new(status={"S": [{"anything-but": {"suffix": "en"}}]}), False),
    ("numeric-on-n-string", new(priority={"N": [{"numeric": [">", 2]}]}), True),
    ("numeric-range-out", new(priority={"N": [{"numeric": [">", 2, "<", 3]}]}), False),
    ("numeric-range-in", new(priority={"N": [{"numeric": [">=", 3, "<", 4]}]}), True),
    ("numeric-equal", new(priority={"N": [{"numeric": ["=", 3.0]}]}), True),
    ("number-equals-n-string", new(priority={"N": [3]}), True),
    ("n-string-exact", new(priority={"N": ["3"]}), True),
    ("n-string-is-a-string", new(priority={"N": ["3.0"]}), False),
    ("string-set-member", new(tags={"SS": ["urgent"]}), True),
    ("string-set-no-member", new(tags={"SS": ["work"]}), False),
    ("list-elements", new(steps={"L": {"S": ["a"]}}), True),
    ("list-elements-numbers", new(steps={"L": {"N": [{"numeric": ["=", 2]}]}}), True),
    ("nested-map", new(meta={"M": {"owner": {"S": ["ann"]}}}), True),
    ("bool", new(done={"BOOL": [False]}), True),
    ("bool-other", new(done={"BOOL": [True]}), False),
    ("bool-is-not-zero", new(done={"BOOL": [0]}), False),
    ("null-type", new(note={"NULL": [True]}), True),
    ("null-value", {"awsRegion": [None]}, False),
    ("object-never-equals", {"dynamodb": {"Keys": ["list-1"]}}, False),
    (
        "all-fields-must-match",
        {"eventName": ["MODIFY"], "meridian": {"origin": ["eu-west"]}},
        False,
    ),
    ("several-fields", {"eventName": ["MODIFY"], "awsRegion": [{"prefix": "us-"}]}, True),
    (
        "or-one-side",
        {"$or": [{"eventName": ["INSERT"]}, new(status={"S": ["open"]})]},
        True,
    ),
    ("or-neither", {"$or": [{"eventName": ["INSERT"]}, {"eventName": ["REMOVE"]}]}, False),
    (
        "json-text",
        '{"eventName": ["MODIFY"], "dynamodb": {"Keys": {"task": {"S": ["task-9"]}}}}',
        True,
    ),
]


@pytest.mark.parametrize(("pattern", "expected"), [pytest.param(p, e, id=i) for i, p, e in CASES])
def test_pattern_matches(pattern: Any, expected: bool) -> None:
    assert matches(compile_pattern(pattern), EVENT) is expected


def test_case_ids_are_unique() -> None:
    ids = [i for i, _, _ in CASES]
    assert len(ids) == len(set(ids))


def test_missing_image_counts_as_absent() -> None:
    no_old = compile_pattern({"dynamodb": {"OldImage": [{"exists": False}]}})
    assert matches(no_old, INSERT)
    assert not matches(no_old, EVENT)
    old_status = compile_pattern({"dynamodb": {"OldImage": {"status": {"S": [{"exists": False}]}}}})
    assert matches(old_status, INSERT)


def test_any_pattern_of_a_trigger_is_enough() -> None:
    insert = compile_pattern({"eventName": ["INSERT"]})
    modify = compile_pattern({"eventName": ["MODIFY"]})
    assert matches_any([], EVENT)
    assert matches_any([insert, modify], EVENT)
    assert not matches_any([insert], EVENT)


def test_region_variable_is_bound_per_runner() -> None:
    local = compile_pattern({"meridian": {"origin": ["${region}"]}})
    assert not matches(local, EVENT)  # unbound: the literal text
    assert matches(bind(local, "us-east"), EVENT)
    assert not matches(bind(local, "eu-west"), EVENT)
    others = bind(
        compile_pattern({"meridian": {"origin": [{"anything-but": "${region}"}]}}), "us-east"
    )
    assert not matches(others, EVENT)
    assert bind(local, "us-east").text == '{"meridian":{"origin":["us-east"]}}'


# (id, pattern, start of the error message)
INVALID: list[tuple[str, Any, str]] = [
    ("not-a-mapping", ["INSERT"], "pattern: expected a non-empty mapping"),
    ("empty", {}, "pattern: expected a non-empty mapping"),
    (
        "bare-value",
        {"eventName": "INSERT"},
        "pattern.eventName: expected a list of values to match",
    ),
    ("empty-list", {"eventName": []}, "pattern.eventName: expected at least one value"),
    ("prefix-number", {"x": [{"prefix": 5}]}, "pattern.x[0].prefix: expected a string, got 5"),
    ("unknown-operator", {"x": [{"wildcard": "a*"}]}, 'pattern.x[0]: unknown operator "wildcard"'),
    ("exists-text", {"x": [{"exists": "yes"}]}, "pattern.x[0].exists: expected true or false"),
    ("numeric-short", {"x": [{"numeric": [">"]}]}, "pattern.x[0].numeric: expected [OP, NUMBER]"),
    ("numeric-op", {"x": [{"numeric": ["!=", 1]}]}, "pattern.x[0].numeric[0]: expected one of <"),
    (
        "numeric-text",
        {"x": [{"numeric": [">", "1"]}]},
        "pattern.x[0].numeric[1]: expected a number",
    ),
    ("dollar-and", {"$and": [{"x": [1]}, {"y": [2]}]}, 'pattern.$and: unknown operator "$and"'),
    ("or-single", {"$or": [{"x": [1]}]}, "pattern.$or: expected a list of at least two patterns"),
    ("or-bad-member", {"$or": [{"x": [1]}, {"y": 2}]}, "pattern.$or[1].y: expected a list"),
    ("bad-json", '{"eventName": [', "pattern: not valid JSON"),
    ("anything-but-empty", {"x": [{"anything-but": []}]}, "pattern.x[0].anything-but: expected"),
    ("anything-but-null", {"x": [{"anything-but": None}]}, "pattern.x[0].anything-but: expected"),
    (
        "anything-but-wildcard",
        {"x": [{"anything-but": {"wildcard": "a"}}]},
        "pattern.x[0].anything-but: expected a value, a list of values, {prefix: TEXT}",
    ),
    ("two-operators", {"x": [{"prefix": "a", "suffix": "b"}]}, "pattern.x[0]: expected a value or"),
    ("nested-list", {"x": [[1]]}, "pattern.x[0]: expected a value or"),
    (
        "nested-error-path",
        new(status={"S": [{"prefix": None}]}),
        "pattern.dynamodb.NewImage.status.S[0].prefix",
    ),
]


@pytest.mark.parametrize(("pattern", "expected"), [pytest.param(p, e, id=i) for i, p, e in INVALID])
def test_malformed_patterns_are_refused(pattern: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        compile_pattern(pattern)
    assert str(err.value).startswith(expected), str(err.value)
