"""A fast accept of a serialized item: whether it is valid without building its attributes
as Python objects. This module holds only the pure-Python fallback; a compiled check takes
its place where it is built, with the same name and meaning."""

from __future__ import annotations

from google.protobuf.message import DecodeError

from meridian.model.items import ItemError, validate_item
from meridian.pb import node_pb2 as pb


def item_bytes_valid(data: bytes) -> bool:
    """True only if the serialized pb.Item `data` parses and passes validate_item
    unchanged (a fast accept). False means: not known to be valid; parse it and call
    validate_item for the verdict and its exact error message."""
    try:
        validate_item(pb.Item.FromString(data))
    except (ItemError, DecodeError):
        return False
    return True
