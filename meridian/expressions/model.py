"""The item model the expression engine works on.

The only module of the package that imports it, so that moving the model to a shared place
changes one file.
"""

from __future__ import annotations

from meridian.model.items import (
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_EXPONENT,
    MAX_ITEM_BYTES,
    MIN_EXPONENT,
    item_size,
    normalize_item,
    normalize_number,
    values_equal,
)
from meridian.pb.node_pb2 import AttributeValue, Item

__all__ = [
    "MAX_DEPTH",
    "MAX_DIGITS",
    "MAX_EXPONENT",
    "MAX_ITEM_BYTES",
    "MIN_EXPONENT",
    "AttributeValue",
    "Item",
    "item_size",
    "normalize_item",
    "normalize_number",
    "values_equal",
]
