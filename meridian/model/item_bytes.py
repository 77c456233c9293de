"""A fast accept for serialized items: whether the bytes of a pb.Item are known to be valid.

The compiled module (meridian/model/_item_check.c) walks the encoding without building
protobuf objects, whose first touch of each attribute costs about a microsecond in Python.
It may say False for a valid item; callers then parse it and call validate_item, which gives
the verdict and its exact error message::

    if not item_bytes_valid(raw):
        validate_item(parsed)

Without a C compiler at install the same contract is kept by parsing in Python.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

from google.protobuf.message import DecodeError

from meridian.model.items import ItemError, normalize_item, validate_item
from meridian.model.schema import MAX_PARTITION_KEY_BYTES, MAX_SORT_KEY_BYTES, Schema
from meridian.pb import node_pb2 as pb


def _parse_and_check(data: bytes) -> bool:
    """The pure-Python fallback: parse, validate and require the canonical form that
    normalize_item gives, as the compiled check does (which may say False for more)."""
    try:
        item = pb.Item.FromString(data)
        validate_item(item)
    except (DecodeError, ItemError):
        return False
    canonical = pb.Item()
    canonical.CopyFrom(item)
    normalize_item(canonical)
    return canonical == item


def compiled_module() -> Any:
    """The compiled extension (`_item_check`), or None when it is missing (no compiler at
    install) or MERIDIAN_ITEM_CHECK=python asks for the Python code (to measure what the
    compiled code saves)."""
    if os.environ.get("MERIDIAN_ITEM_CHECK") == "python":
        return None
    try:
        return importlib.import_module("meridian.model._item_check")
    except ImportError:  # no compiler at install: the fallback
        return None


_compiled: Callable[[bytes], bool] | None = getattr(compiled_module(), "item_bytes_valid", None)
COMPILED = _compiled is not None
"""Whether this process runs the compiled check (each daemon logs it at start)."""


def item_bytes_valid(data: bytes) -> bool:
    """True only if the serialized pb.Item `data` parses and passes validate_item
    unchanged (a fast accept). False means: not known to be valid; parse it and call
    validate_item for the verdict and its exact error message."""
    if _compiled is not None:
        return bool(_compiled(data))
    return _parse_and_check(data)


_item_key: Callable[..., tuple[bytes, bytes] | None] | None = getattr(
    compiled_module(), "item_key", None
)


def item_key(data: bytes, schema: Schema) -> tuple[bytes, pb.Item] | None:
    """`schema.extract` of the item serialized as `data`, which `item_bytes_valid` accepted,
    read off the bytes: its storage key and its key attributes. None when the compiled
    module is missing or the key is not one it encodes (a key attribute missing, of
    another type, empty or too long): then `schema.extract` gives the verdict and its error.
    """
    if _item_key is None:
        return None
    found = _item_key(
        data,
        schema.pk_name,
        schema.pk_type,
        MAX_PARTITION_KEY_BYTES,
        schema.sk_name or "",
        schema.sk_type,
        MAX_SORT_KEY_BYTES,
    )
    if found is None:
        return None
    return schema.prefix + found[0], pb.Item.FromString(found[1])
