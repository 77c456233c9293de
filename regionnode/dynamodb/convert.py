"""DynamoDB JSON <-> the node's items.

DynamoDB JSON writes each value as an object with one type member: ``{"S": "x"}``,
``{"N": "1.50"}`` (numbers are strings), ``{"B": "<base64>"}``, ``{"BOOL": true}``,
``{"NULL": true}``, ``{"M": {...}}``, ``{"L": [...]}``, ``{"SS": [...]}``, ``{"NS": [...]}``,
``{"BS": [...]}``. Incoming values are checked and normalised as DynamoDB does (numbers in
canonical form: ``1.50`` -> ``1.5``, ``1E+3`` -> ``1000``; at most 38 significant digits,
magnitudes from 1E-130 to below 1E+126; non-empty sets without duplicates; nesting up to
32 levels); a bad value raises ItemError naming its attribute path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meridian.model.items import ItemError, from_typed, to_typed, value_from_typed
from meridian.pb import node_pb2 as pb


def item_in(obj: Any) -> pb.Item:
    """An item (or a key) from DynamoDB JSON, validated and normalised."""
    return from_typed(obj)


def values_in(obj: Mapping[str, Any]) -> dict[str, pb.AttributeValue]:
    """ExpressionAttributeValues: placeholder -> AttributeValue."""
    return {name: value_from_typed(name, value) for name, value in obj.items()}


def item_out(item: pb.Item) -> dict[str, Any]:
    """An item as DynamoDB JSON (stored items are normalised already)."""
    return to_typed(item)


def legacy_in(obj: Mapping[str, Any], parameter: str) -> dict[str, dict[str, Any]]:
    """A legacy parameter ({attribute: {ComparisonOperator, Value, AttributeValueList, ...}})
    with its values as AttributeValues, as the expression engine takes them."""
    out: dict[str, dict[str, Any]] = {}
    for attribute, spec in obj.items():
        if not isinstance(spec, dict):
            raise ItemError(f"{parameter}.{attribute}: expected an object")
        converted = dict(spec)
        if "Value" in spec:
            converted["Value"] = value_from_typed(attribute, spec["Value"])
        if "AttributeValueList" in spec:
            values = spec["AttributeValueList"]
            if not isinstance(values, list):
                raise ItemError(f"{parameter}.{attribute}.AttributeValueList: expected a list")
            converted["AttributeValueList"] = [value_from_typed(attribute, v) for v in values]
        out[attribute] = converted
    return out
