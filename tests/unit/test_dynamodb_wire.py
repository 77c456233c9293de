"""The DynamoDB door's pure parts: DynamoDB JSON <-> items for every type, the mapping of
the node's exceptions to DynamoDB's error shapes, stream identifiers and sequence numbers,
and shard iterators that cannot be forged."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from meridian.expressions import ExpressionError
from meridian.model.items import ItemError
from meridian.pb import node_pb2 as pb
from meridian.security.access import DenialReason, PermissionDenied
from meridian.security.sigv4 import ErrorCode, SignatureError
from meridian.wire.errors import (
    ConditionFailed,
    NotFound,
    NotReady,
    TransactionCanceled,
    TrimmedData,
)
from regionnode.dynamodb import identifiers as ids
from regionnode.dynamodb.convert import item_in, item_out, legacy_in, values_in
from regionnode.dynamodb.errors import DynamoError, to_dynamo
from regionnode.dynamodb.iterators import TTL_MS, IteratorSigner, Position

B64 = base64.b64encode(b"\x00\xffbin").decode()

# (DynamoDB JSON in, DynamoDB JSON out): every type, numbers normalised as DynamoDB does.
ROUND_TRIPS: list[tuple[Any, Any]] = [
    ({"S": "text"}, {"S": "text"}),
    ({"S": ""}, {"S": ""}),
    ({"N": "1"}, {"N": "1"}),
    ({"N": "1.50"}, {"N": "1.5"}),
    ({"N": "-0.0"}, {"N": "0"}),
    ({"N": "1E+3"}, {"N": "1000"}),
    ({"N": "0.000000123"}, {"N": "1.23E-7"}),
    (
        {"N": "12345678901234567890123456789012345678"},
        {"N": "12345678901234567890123456789012345678"},
    ),
    ({"N": "1e125"}, {"N": "1E+125"}),
    ({"B": B64}, {"B": B64}),
    ({"BOOL": True}, {"BOOL": True}),
    ({"BOOL": False}, {"BOOL": False}),
    ({"NULL": True}, {"NULL": True}),
    ({"SS": ["a", "b"]}, {"SS": ["a", "b"]}),
    ({"NS": ["1.0", "2"]}, {"NS": ["1", "2"]}),
    ({"BS": [B64]}, {"BS": [B64]}),
    ({"L": []}, {"L": []}),
    ({"L": [{"S": "x"}, {"N": "01"}]}, {"L": [{"S": "x"}, {"N": "1"}]}),
    ({"M": {}}, {"M": {}}),
    ({"M": {"a": {"M": {"b": {"N": "2.0"}}}}}, {"M": {"a": {"M": {"b": {"N": "2"}}}}}),
]


@pytest.mark.parametrize(("given", "expected"), ROUND_TRIPS)
def test_values_round_trip(given: Any, expected: Any) -> None:
    item = item_in({"k": given})
    assert item_out(item) == {"k": expected}
    assert item_out(item_in(item_out(item))) == {"k": expected}  # stable


# (value, words of the error): refused as DynamoDB refuses them, naming the attribute.
REFUSED: list[tuple[Any, str]] = [
    ({"X": "1"}, "exactly one of"),
    ({"S": "a", "N": "1"}, "exactly one of"),
    ({"S": 1}, "S must be"),
    ({"N": "one"}, "invalid number"),
    ({"N": "1" * 39}, "more than 38"),
    ({"N": "1e126"}, "largest magnitude"),
    ({"N": "1e-131"}, "smallest magnitude"),
    ({"B": "not base64!"}, "base64"),
    ({"NULL": False}, "NULL must be true"),
    ({"SS": []}, "must not be empty"),
    ({"SS": ["a", "a"]}, "duplicates"),
    ({"NS": ["1", "1.0"]}, "duplicates"),
    ({"L": {"S": "x"}}, "L must be"),
]


@pytest.mark.parametrize(("given", "words"), REFUSED)
def test_bad_values_are_refused(given: Any, words: str) -> None:
    with pytest.raises(ItemError, match=words) as refused:
        item_in({"attr": {"M": {"inner": given}}})
    assert "attr.inner" in str(refused.value)


def test_expression_values_and_legacy_conditions_become_attribute_values() -> None:
    assert values_in({":v": {"N": "2.50"}}) == {":v": pb.AttributeValue(n="2.5")}
    legacy = legacy_in(
        {
            "a": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}, {"N": "2"}]},
            "b": {"Value": {"S": "x"}, "Exists": True},
        },
        "Expected",
    )
    assert legacy["a"]["AttributeValueList"] == [pb.AttributeValue(n="1"), pb.AttributeValue(n="2")]
    assert legacy["b"] == {"Value": pb.AttributeValue(s="x"), "Exists": True}
    with pytest.raises(ItemError, match=r"Expected\.a"):
        legacy_in({"a": "nope"}, "Expected")


OLD = pb.Item(attributes={"id": pb.AttributeValue(s="1")})
DENIED = PermissionDenied(DenialReason.READ_ONLY, "access key MK1 is read-only")

# (exception, HTTP status, __type, message start)
ERRORS: list[tuple[BaseException, int, str, str]] = [
    (
        ExpressionError("Invalid UpdateExpression: x"),
        400,
        "com.amazonaws.dynamodb.v20120810#ValidationException",
        "Invalid UpdateExpression: x",
    ),
    (
        ItemError("attribute 'a': bad"),
        400,
        "com.amazonaws.dynamodb.v20120810#ValidationException",
        "One or more parameter values were invalid: attribute 'a': bad",
    ),
    (
        ConditionFailed("condition failed: no"),
        400,
        "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
        "The conditional request failed",
    ),
    (
        NotFound("table 'x' does not exist"),
        400,
        "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
        "Requested resource not found",
    ),
    (
        TrimmedData("trimmed"),
        400,
        "com.amazonaws.dynamodb.v20120810#TrimmedDataAccessException",
        "trimmed",
    ),
    (DENIED, 400, "com.amazonaws.dynamodb.v20120810#AccessDeniedException", "access key MK1"),
    (
        SignatureError(ErrorCode.UNRECOGNIZED_CLIENT, "The security token"),
        400,
        "com.amazon.coral.service#UnrecognizedClientException",
        "The security token",
    ),
    (
        NotReady("bootstrapping"),
        503,
        "com.amazonaws.dynamodb.v20120810#ServiceUnavailable",
        "bootstrapping",
    ),
    (
        RuntimeError("a bug"),
        500,
        "com.amazonaws.dynamodb.v20120810#InternalServerError",
        "Internal server error",
    ),
]


@pytest.mark.parametrize(("exc", "status", "kind", "message"), ERRORS)
def test_errors_map_to_dynamodb_shapes(
    exc: BaseException, status: int, kind: str, message: str
) -> None:
    error = to_dynamo(exc)
    body = error.body()
    assert (error.status, body["__type"]) == (status, kind)
    assert body["message"].startswith(message)
    assert "a bug" not in body["message"]  # internals stay in the log


def test_condition_failure_carries_the_item_and_cancellations_their_reasons() -> None:
    assert to_dynamo(ConditionFailed("no", OLD)).body()["Item"] == {"id": {"S": "1"}}
    reasons = [
        pb.CancellationReason(code="None"),
        pb.CancellationReason(code="ConditionalCheckFailed", message="x", item=OLD),
        pb.CancellationReason(code="ValidationError", message="bad path"),
    ]
    body = to_dynamo(TransactionCanceled(reasons)).body()
    assert body["__type"].endswith("#TransactionCanceledException")
    assert body["Message"].endswith("[None, ConditionalCheckFailed, ValidationError]")
    assert body["CancellationReasons"] == [
        {"Code": "None"},
        {
            "Code": "ConditionalCheckFailed",
            "Message": "The conditional request failed",
            "Item": {"id": {"S": "1"}},
        },
        {"Code": "ValidationError", "Message": "bad path"},
    ]
    assert DynamoError("X", "m", extra={"A": 1}).body() == {
        "__type": "com.amazonaws.dynamodb.v20120810#X",
        "message": "m",
        "A": 1,
    }


# ---------------------------------------------------------------- identifiers


@pytest.mark.parametrize(
    ("sequence", "text"),
    [(0, "100000000000000000000"), (1, "100000000000000000001"), (123456, "100000000000000123456")],
)
def test_sequence_numbers_have_21_digits_in_stream_order(sequence: int, text: str) -> None:
    assert ids.sequence_text(sequence) == text and ids.sequence_of(text) == sequence


def test_sequence_numbers_sort_as_text_and_as_numbers() -> None:
    texts = [ids.sequence_text(n) for n in (1, 2, 9, 10, 99, 100, 10**12)]
    assert texts == sorted(texts) == sorted(texts, key=int)
    for bad in ("1", "abc", "0" * 21, "9" * 41, "-100000000000000000001"):
        assert ids.sequence_of(bad) is None, bad


def test_stream_arns_and_labels() -> None:
    created = 1_764_712_270_252  # 2025-12-02T21:51:10.252Z
    label = ids.stream_label(created)
    assert label == "2025-12-02T21:51:10.252"
    arn = ids.stream_arn("us-east", "orders", created)
    assert arn == f"arn:aws:dynamodb:us-east:000000000000:table/orders/stream/{label}"
    assert ids.parse_stream_arn(arn) == ("us-east", "orders", label)
    for bad in ("arn:aws:dynamodb:us-east:000000000000:table/orders", arn + "x", "orders"):
        assert ids.parse_stream_arn(bad) is None


# ---------------------------------------------------------------- iterators

ARN = ids.stream_arn("us-east", "orders", 1_764_712_270_252)
POSITION = Position("orders", "stream-1", "shardId-1", 42)
NOW = 1_000_000_000


def test_an_iterator_names_its_position_for_15_minutes() -> None:
    signer = IteratorSigner("node secret")
    iterator = signer.encode(ARN, POSITION, NOW)
    assert iterator.startswith(f"{ARN}|1|") and len(iterator) <= 2048
    assert signer.decode(iterator, NOW + TTL_MS) == POSITION
    with pytest.raises(DynamoError) as expired:
        signer.decode(iterator, NOW + TTL_MS + 1)
    assert expired.value.code == "ExpiredIteratorException"


def _repointed(iterator: str, old: str, new: str) -> str:
    head, _, signed = iterator.rpartition("|")
    payload, _, mac = signed.partition(".")
    text = base64.urlsafe_b64decode(payload).decode().replace(old, new)
    return f"{head}|{base64.urlsafe_b64encode(text.encode()).decode()}.{mac}"


def test_forged_iterators_are_refused() -> None:
    signer = IteratorSigner("node secret")
    iterator = signer.encode(ARN, POSITION, NOW)
    forgeries = [
        _repointed(iterator, '"orders"', '"users"'),  # another table's stream
        _repointed(iterator, "42", "1"),  # another position
        _repointed(iterator, str(NOW), str(NOW + 10**9)),  # a later issue time
        iterator[:-2] + ("00" if not iterator.endswith("00") else "11"),
        IteratorSigner("another node").encode(ARN, POSITION, NOW),
        "garbage",
        "",
        iterator + "|" + "x" * 3000,
    ]
    for forged in forgeries:
        with pytest.raises(DynamoError) as refused:
            signer.decode(forged, NOW)
        assert refused.value.code == "ValidationException", forged
