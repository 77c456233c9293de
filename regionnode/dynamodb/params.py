"""Reading the members of a request body: each has the type DynamoDB declares, or the
request is refused with a ValidationException naming the member (nothing has happened yet).
A member that is absent (or JSON null) reads as None."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from regionnode.dynamodb.errors import DynamoError, serialization, validation

_TABLE_NAME = re.compile(r"[a-zA-Z0-9_.-]{3,255}")
_TABLE_ARN = re.compile(r"arn:aws[a-z-]*:dynamodb:[^:]*:[0-9]*:table/([a-zA-Z0-9_.-]{3,255})")


def _member(name: str) -> str:
    """The member's name as DynamoDB's messages write it (tableName)."""
    return name[:1].lower() + name[1:]


def _failed(name: str, value: Any, constraint: str) -> DynamoError:
    shown = "null" if value is None else f"'{value}'" if isinstance(value, str | int) else "'…'"
    return validation(
        f"1 validation error detected: Value {shown} at '{_member(name)}' failed to satisfy "
        f"constraint: {constraint}"
    )


def _typed(body: dict[str, Any], name: str, kind: type | tuple[type, ...], what: str) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise serialization(f"{name}: expected {what}")
    return value


def required(name: str, value: Any) -> Any:
    if value is None:
        raise _failed(name, None, "Member must not be null")
    return value


def string(body: dict[str, Any], name: str, must: bool = False) -> str | None:
    value = _typed(body, name, str, "a string")
    return required(name, value) if must else value


def table_name(body: dict[str, Any], name: str = "TableName") -> str:
    """A table name, or the table's ARN (as DynamoDB accepts since 2024)."""
    value = string(body, name, must=True)
    assert value is not None
    arn = _TABLE_ARN.fullmatch(value)
    if arn is not None:
        return arn[1]
    if not _TABLE_NAME.fullmatch(value):
        raise _failed(
            name,
            value,
            "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length "
            "between 3 and 255",
        )
    return value


def mapping(body: dict[str, Any], name: str, must: bool = False) -> dict[str, Any] | None:
    value = _typed(body, name, dict, "an object")
    return required(name, value) if must else value


def array(body: dict[str, Any], name: str, must: bool = False) -> list[Any] | None:
    value = _typed(body, name, list, "a list")
    return required(name, value) if must else value


def boolean(body: dict[str, Any], name: str) -> bool | None:
    result: bool | None = _typed(body, name, bool, "a boolean")
    return result


def integer(body: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = _typed(body, name, int, "an integer")
    if value is None:
        return None
    if value < low:
        raise _failed(name, value, f"Member must have value greater than or equal to {low}")
    if value > high:
        raise _failed(name, value, f"Member must have value less than or equal to {high}")
    result: int = value
    return result


def choice(body: dict[str, Any], name: str, allowed: Collection[str]) -> str | None:
    value = string(body, name)
    if value is not None and value not in allowed:
        raise _failed(
            name, value, f"Member must satisfy enum value set: [{', '.join(sorted(allowed))}]"
        )
    return value


def names(body: dict[str, Any]) -> dict[str, str] | None:
    """ExpressionAttributeNames: placeholder -> attribute name, strings only."""
    value = mapping(body, "ExpressionAttributeNames")
    if value is not None:
        for key, name in value.items():
            if not isinstance(name, str):
                raise serialization(f"ExpressionAttributeNames.{key}: expected a string")
    return value


def strings(body: dict[str, Any], name: str) -> list[str] | None:
    value = array(body, name)
    if value is not None and not all(isinstance(v, str) for v in value):
        raise serialization(f"{name}: expected a list of strings")
    return value


def refuse(body: dict[str, Any], name: str, why: str) -> None:
    """A member Meridian does not serve (yet): refused rather than silently ignored."""
    if body.get(name) is not None:
        raise validation(f"{name} is not supported: {why}")
