"""Items in DynamoDB's attribute-value model: validation, sizing, equality and JSON forms.

Two JSON forms are supported. *Plain* values look like boto3's resource layer (``str``,
``Decimal``, ``bytes``, ``set`` ...); since JSON text has neither bytes nor sets, plain JSON
writes them as ``{"$b": "<base64>"}`` and ``{"$set": [...]}``. *Typed* values are DynamoDB
JSON (``{"S": "x"}``, ``{"N": "1"}`` ...).

Error messages name the offending attribute by path: ``a`` for a top-level attribute,
``a.b`` for a map member and ``a[2]`` for a list element.
"""

from __future__ import annotations

import base64
import binascii
import decimal
import json
import re
import secrets
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, NoReturn

from meridian.pb import node_pb2 as pb

MAX_ITEM_BYTES = 400 * 1024
MAX_DEPTH = 32
MAX_DIGITS = 38
MAX_EXPONENT = 125  # largest magnitude: 9.9999999999999999999999999999999999999E+125
MIN_EXPONENT = -130  # smallest nonzero magnitude: 1E-130

# Stricter than Decimal(), which also takes whitespace, underscores, non-ASCII digits, NaN...
_NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

_SET_KINDS = {"ss": "string", "ns": "number", "bs": "binary"}
_TYPED_KINDS = {
    "S": "s",
    "N": "n",
    "B": "b",
    "BOOL": "bool",
    "NULL": "null",
    "L": "l",
    "M": "m",
    "SS": "ss",
    "NS": "ns",
    "BS": "bs",
}
_TYPED_NAMES = {kind: name for name, kind in _TYPED_KINDS.items()}


class ItemError(ValueError):
    """An item or attribute value that DynamoDB's rules reject."""


def _error(path: str, message: str) -> ItemError:
    return ItemError(f"attribute '{path}': {message}")


# ---------------------------------------------------------------- numbers


def _parse_decimal(path: str, text: str) -> Decimal:
    if not _NUMBER_RE.fullmatch(text):
        raise _error(path, f"invalid number {text!r}")
    try:
        return Decimal(text)
    except decimal.InvalidOperation:
        # Syntactically fine, but the exponent is beyond what the decimal module can hold.
        raise _error(path, f"number {text!r} is out of range") from None


def _reduce(d: Decimal) -> Decimal:
    """Drop trailing zeros and the sign of zero, so that equal numbers have equal digits.

    The context's precision is the number's own digit count, so nothing is rounded.
    """
    if d.is_zero():
        return Decimal(0)
    context = decimal.Context(
        prec=len(d.as_tuple().digits), Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN
    )
    return d.normalize(context)


def _format(d: Decimal) -> str:
    """Positional notation for magnitudes in [1e-7, 1e21), as JavaScript does; else scientific."""
    if -7 < d.adjusted() < 21:
        return format(d, "f")
    return str(d)


def normalize_number(path: str, text: str) -> str:
    """Return the canonical spelling of a number, or raise ItemError if DynamoDB rejects it.

    Canonical means no leading or trailing zeros, no sign on zero and no exponent unless the
    magnitude is below 1e-7 or at least 1e21 (``1.50`` -> ``1.5``, ``1E+3`` -> ``1000``).
    """
    if _is_canonical(text):
        return text  # the common case, without building a Decimal
    d = _reduce(_parse_decimal(path, text))
    if d.is_zero():
        return "0"
    if len(d.as_tuple().digits) > MAX_DIGITS:
        raise _error(path, f"number {text!r} has more than {MAX_DIGITS} significant digits")
    if d.adjusted() > MAX_EXPONENT:
        raise _error(
            path, f"number {text!r} exceeds the largest magnitude 9.{'9' * 37}E+{MAX_EXPONENT}"
        )
    if d.adjusted() < MIN_EXPONENT:
        raise _error(path, f"number {text!r} is below the smallest magnitude 1E{MIN_EXPONENT}")
    return _format(d)


# Plain spellings that normalize_number would return unchanged: zero, or no exponent, no
# leading or trailing zeros, at most five zeros after "0." (smaller ones take an exponent)
# and below 1e21.
_CANONICAL = re.compile(
    r"0|-?(?:[1-9][0-9]{0,20}(?:\.[0-9]*[1-9])?|0\.0{0,5}[1-9](?:[0-9]*[1-9])?)"
)


def _is_canonical(text: str) -> bool:
    """A canonical spelling with at most MAX_DIGITS digits (no text shorter than that can
    have more, so counting them is rarely needed)."""
    return _CANONICAL.fullmatch(text) is not None and (
        len(text) <= MAX_DIGITS or _significant_digits(text) <= MAX_DIGITS
    )


def _significant_digits(text: str) -> int:
    return len(text.replace("-", "").replace(".", "").lstrip("0"))


def number(v: str) -> Decimal:
    """Parse a number as stored in an AttributeValue (exactly, whatever the decimal context)."""
    if not _NUMBER_RE.fullmatch(v):
        raise ValueError(f"invalid number {v!r}")
    return Decimal(v)


# ---------------------------------------------------------------- validation


def validate_value(path: str, v: pb.AttributeValue, depth: int = 0) -> None:
    """Raise ItemError, naming the attribute path, unless ``v`` is a valid attribute value."""
    if depth > MAX_DEPTH:
        raise _error(path, f"nesting exceeds {MAX_DEPTH} levels (DynamoDB's limit)")
    kind = v.WhichOneof("value")
    if kind is None:
        raise _error(path, "no type set")
    if kind == "n":
        normalize_number(path, v.n)
    elif kind == "null" and not v.null:
        raise _error(path, "NULL must be true")
    elif kind == "l":
        for i, element in enumerate(v.l.values):
            validate_value(f"{path}[{i}]", element, depth + 1)
    elif kind == "m":
        for name, member in v.m.fields.items():
            validate_value(f"{path}.{name}", member, depth + 1)
    elif kind in _SET_KINDS:
        _validate_set(path, kind, getattr(v, kind).values)


def _validate_set(path: str, kind: str, values: Iterable[Any]) -> None:
    label = f"{_SET_KINDS[kind]} set"
    members = list(values)
    if not members:
        raise _error(path, f"{label} must not be empty")
    if kind == "ns":
        # Canonical spellings are equal exactly when the numbers are, so 1 and 1.0 collide.
        members = [normalize_number(path, m) for m in members]
    if len(set(members)) != len(members):
        raise _error(path, f"{label} must not contain duplicates")


def validate_item(item: pb.Item) -> None:
    """Raise ItemError unless every attribute is valid and the item fits the size limit."""
    if not _plain_and_canonical(item):
        _validate_attributes(item)


def check_item(item: pb.Item) -> None:
    """validate_item, then normalize_item: the same errors and the same result, in one quick
    look for the common item that is valid and canonical already."""
    if not _plain_and_canonical(item):
        _validate_attributes(item)
        normalize_item(item)


def _validate_attributes(item: pb.Item) -> None:
    for name, value in item.attributes.items():
        if not name:
            raise _error(name, "name must not be empty")
        validate_value(name, value)
    # item_size never exceeds the protobuf encoding's size, which adds at least a tag and a
    # length to every name and value: an item whose encoding fits needs no exact count.
    if item.ByteSize() > MAX_ITEM_BYTES:
        size = item_size(item)
        if size > MAX_ITEM_BYTES:
            raise ItemError(f"item size {size} bytes exceeds the {MAX_ITEM_BYTES}-byte limit")


_PLAIN_KINDS = frozenset(("s", "b", "bool"))


def _plain_and_canonical(item: pb.Item) -> bool:
    """Whether every attribute is a string, binary, boolean or canonically spelled number,
    no name is empty and the encoding fits the size limit: then the item is valid and
    normalize_item would not change it. False means "look closer", not "invalid"."""
    attributes = item.attributes
    if "" in attributes or item.ByteSize() > MAX_ITEM_BYTES:
        return False
    for name in attributes:  # iterating names and indexing is faster than values()
        value = attributes[name]
        kind = value.WhichOneof("value")
        if kind not in _PLAIN_KINDS and (kind != "n" or not _is_canonical(value.n)):
            return False
    return True


# ---------------------------------------------------------------- normalization


def _normalize_value(v: pb.AttributeValue) -> None:
    # Only called on validated values, so normalize_number never raises and needs no path.
    kind = v.WhichOneof("value")
    if kind == "n":
        v.n = normalize_number("", v.n)
    elif kind == "ns":
        canonical = sorted((normalize_number("", m) for m in v.ns.values), key=Decimal)
        v.ns.values[:] = canonical
    elif kind in ("ss", "bs"):
        # Code point order is UTF-8 byte order, so strings sort as DynamoDB sorts them.
        getattr(v, kind).values.sort()
    elif kind == "l":
        for element in v.l.values:
            _normalize_value(element)
    elif kind == "m":
        for member in v.m.fields.values():
            _normalize_value(member)


def normalize_item(item: pb.Item) -> None:
    """Canonicalize a validated item in place: numbers spelled canonically, set members sorted.

    Equal items then serialize to equal bytes (with deterministic map ordering).
    """
    for value in item.attributes.values():
        _normalize_value(value)


# ---------------------------------------------------------------- size


def _number_size(text: str) -> int:
    """About one byte per two significant digits, plus one (DynamoDB's approximation)."""
    mantissa = text.lower().partition("e")[0]
    digits = mantissa.lstrip("+-").replace(".", "").strip("0")
    return (max(len(digits), 1) + 1) // 2 + 1


def _value_size(v: pb.AttributeValue) -> int:
    kind = v.WhichOneof("value")
    if kind == "s":
        return len(v.s.encode())
    if kind == "n":
        return _number_size(v.n)
    if kind == "b":
        return len(v.b)
    if kind == "l":
        return 3 + sum(_value_size(element) for element in v.l.values)
    if kind == "m":
        return 3 + _fields_size(v.m.fields)
    if kind == "ss":
        return sum(len(m.encode()) for m in v.ss.values)
    if kind == "ns":
        return sum(_number_size(m) for m in v.ns.values)
    if kind == "bs":
        return sum(len(m) for m in v.bs.values)
    return 1  # BOOL, NULL


def _fields_size(fields: Any) -> int:
    return sum(len(name.encode()) + _value_size(value) for name, value in fields.items())


def item_size(item: pb.Item) -> int:
    """The item's size as DynamoDB counts it against the 400 KB limit."""
    return _fields_size(item.attributes)


# ---------------------------------------------------------------- equality


def values_equal(a: pb.AttributeValue, b: pb.AttributeValue) -> bool:
    """Equality by meaning: numbers compare numerically and sets ignore member order."""
    kind = a.WhichOneof("value")
    if kind != b.WhichOneof("value"):
        return False
    if kind == "s":  # the common kinds first, compared without building messages or Decimals
        return a.s == b.s
    if kind == "n":
        return a.n == b.n or (not _both_canonical(a.n, b.n) and number(a.n) == number(b.n))
    if kind == "ns":
        return sorted(map(number, a.ns.values)) == sorted(map(number, b.ns.values))
    if kind in ("ss", "bs"):
        return sorted(getattr(a, kind).values) == sorted(getattr(b, kind).values)
    if kind == "l":
        return len(a.l.values) == len(b.l.values) and all(
            values_equal(x, y) for x, y in zip(a.l.values, b.l.values, strict=True)
        )
    if kind == "m":
        return _fields_equal(a.m.fields, b.m.fields)
    return bool(a == b)


def _both_canonical(a: str, b: str) -> bool:
    """Two canonical spellings differ exactly when their numbers do (each number has one)."""
    return _is_canonical(a) and _is_canonical(b)


def _fields_equal(a: Any, b: Any) -> bool:
    # Same size and every name of `a` in `b`: the same names. Each is looked up in `b` before
    # indexing it, since indexing a protobuf map with a missing key inserts it. Identical
    # messages (protobuf's own comparison, in C) are equal without a closer look.
    if len(a) != len(b):
        return False
    for name in a:
        if name not in b:
            return False
        x, y = a[name], b[name]
        if x != y and not values_equal(x, y):
            return False
    return True


def items_equal(a: pb.Item, b: pb.Item) -> bool:
    """Whether two items have the same attributes with equal values (see values_equal)."""
    return _fields_equal(a.attributes, b.attributes)


# ---------------------------------------------------------------- plain form


def _check_depth(path: str, depth: int) -> None:
    # Checked while converting too, so deeply nested input fails cleanly, not by recursion.
    if depth > MAX_DEPTH:
        raise _error(path, f"nesting exceeds {MAX_DEPTH} levels (DynamoDB's limit)")


def _decode_base64(path: str, text: Any) -> bytes:
    if not isinstance(text, str):
        raise _error(path, "binary value must be a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise _error(path, "binary value is not valid base64") from None


def _plain_number_text(path: str, obj: int | float | Decimal) -> str:
    # repr() of a float is its shortest round-tripping spelling: 0.1 -> "0.1".
    text = repr(obj) if isinstance(obj, float) else str(obj)
    if not _NUMBER_RE.fullmatch(text):
        raise _error(path, f"invalid number {text}")
    return text


def _is_number(obj: Any) -> bool:
    return isinstance(obj, int | float | Decimal) and not isinstance(obj, bool)


def _tagged(obj: dict[Any, Any], tag: str) -> bool:
    return len(obj) == 1 and tag in obj


def _plain_set_member(path: str, member: Any) -> tuple[str, Any]:
    if isinstance(member, str):
        return "ss", member
    if _is_number(member):
        return "ns", _plain_number_text(path, member)
    if isinstance(member, bytes | bytearray):
        return "bs", bytes(member)
    if isinstance(member, dict) and _tagged(member, "$b"):
        return "bs", _decode_base64(path, member["$b"])
    raise _error(path, f"unsupported set member of type {type(member).__name__}")


def _fill_plain_set(v: pb.AttributeValue, path: str, members: Iterable[Any]) -> None:
    converted = [_plain_set_member(path, m) for m in members]
    kinds = {kind for kind, _ in converted}
    if not kinds:
        raise _error(path, "set must not be empty")
    if len(kinds) > 1:
        raise _error(path, "set members must be all strings, all numbers or all binary")
    (kind,) = kinds
    getattr(v, kind).values.extend(value for _, value in converted)


def _fill_plain(v: pb.AttributeValue, path: str, obj: Any, depth: int) -> None:
    _check_depth(path, depth)
    if isinstance(obj, bool):
        v.bool = obj
    elif isinstance(obj, str):
        v.s = obj
    elif _is_number(obj):
        v.n = _plain_number_text(path, obj)
    elif obj is None:
        v.null = True
    elif isinstance(obj, bytes | bytearray):
        v.b = bytes(obj)
    elif isinstance(obj, list | tuple):
        v.l.SetInParent()
        for i, element in enumerate(obj):
            _fill_plain(v.l.values.add(), f"{path}[{i}]", element, depth + 1)
    elif isinstance(obj, set | frozenset):
        _fill_plain_set(v, path, obj)
    elif isinstance(obj, dict) and _tagged(obj, "$b"):
        v.b = _decode_base64(path, obj["$b"])
    elif isinstance(obj, dict) and _tagged(obj, "$set"):
        if not isinstance(obj["$set"], list):
            raise _error(path, "$set must be a list")
        _fill_plain_set(v, path, obj["$set"])
    elif isinstance(obj, dict):
        v.m.SetInParent()
        for name, member in obj.items():
            if not isinstance(name, str):
                raise _error(path, f"map key {name!r} is not a string")
            _fill_plain(v.m.fields[name], f"{path}.{name}", member, depth + 1)
    else:
        raise _error(path, f"unsupported type {type(obj).__name__}")


def value_from_plain(path: str, obj: Any) -> pb.AttributeValue:
    """Convert a plain value to a validated, normalized AttributeValue."""
    v = pb.AttributeValue()
    _fill_plain(v, path, obj, 0)
    validate_value(path, v)
    _normalize_value(v)
    return v


def _item_object(obj: Any) -> dict[Any, Any]:
    if not isinstance(obj, dict):
        raise ItemError("item must be a JSON object")
    for name in obj:
        if not isinstance(name, str):
            raise ItemError(f"attribute name {name!r} is not a string")
    return obj


def from_plain(obj: Any) -> pb.Item:
    """Convert a plain dict to a validated, normalized Item."""
    item = pb.Item()
    for name, value in _item_object(obj).items():
        _fill_plain(item.attributes[name], name, value, 0)
    validate_item(item)
    normalize_item(item)
    return item


def value_to_plain(v: pb.AttributeValue) -> Any:
    """N becomes Decimal, B bytes, sets Python sets, NULL None, L list and M dict."""
    kind = v.WhichOneof("value")
    if kind == "n":
        return number(v.n)
    if kind == "null":
        return None
    if kind == "l":
        return [value_to_plain(element) for element in v.l.values]
    if kind == "m":
        return {name: value_to_plain(member) for name, member in v.m.fields.items()}
    if kind == "ns":
        return {number(m) for m in v.ns.values}
    if kind in ("ss", "bs"):
        return set(getattr(v, kind).values)
    if kind is None:
        raise ValueError("attribute value has no type set")
    return getattr(v, kind)  # s, b, bool


def to_plain(item: pb.Item) -> dict[str, Any]:
    """The item as a plain dict (see value_to_plain)."""
    return {name: value_to_plain(value) for name, value in item.attributes.items()}


# ---------------------------------------------------------------- typed form (DynamoDB JSON)


_DESCRIPTIONS = {str: "a string", bool: "a boolean", list: "a list", dict: "an object"}


def _require(path: str, obj: Any, expected: type, what: str) -> Any:
    if not isinstance(obj, expected):
        raise _error(path, f"{what} must be {_DESCRIPTIONS[expected]}")
    return obj


def _typed_strings(path: str, obj: Any, name: str) -> list[str]:
    members = _require(path, obj, list, name)
    for member in members:
        _require(path, member, str, f"{name} member")
    return members


def _fill_typed(v: pb.AttributeValue, path: str, obj: Any, depth: int) -> None:
    _check_depth(path, depth)
    if not isinstance(obj, dict) or len(obj) != 1 or next(iter(obj)) not in _TYPED_KINDS:
        raise _error(path, f"value must be an object with exactly one of {', '.join(_TYPED_KINDS)}")
    ((name, content),) = obj.items()
    kind = _TYPED_KINDS[name]
    if kind in ("s", "n"):
        setattr(v, kind, _require(path, content, str, name))
    elif kind in ("bool", "null"):
        setattr(v, kind, _require(path, content, bool, name))
    elif kind == "b":
        v.b = _decode_base64(path, content)
    elif kind == "l":
        v.l.SetInParent()
        for i, element in enumerate(_require(path, content, list, name)):
            _fill_typed(v.l.values.add(), f"{path}[{i}]", element, depth + 1)
    elif kind == "m":
        v.m.SetInParent()
        for member_name, member in _require(path, content, dict, name).items():
            _fill_typed(v.m.fields[member_name], f"{path}.{member_name}", member, depth + 1)
    elif kind == "bs":
        v.bs.SetInParent()
        v.bs.values.extend(_decode_base64(path, m) for m in _typed_strings(path, content, name))
    else:  # ss, ns
        getattr(v, kind).SetInParent()
        getattr(v, kind).values.extend(_typed_strings(path, content, name))


def value_from_typed(path: str, obj: Any) -> pb.AttributeValue:
    """Convert a DynamoDB JSON value to a validated, normalized AttributeValue."""
    v = pb.AttributeValue()
    _fill_typed(v, path, obj, 0)
    validate_value(path, v)
    _normalize_value(v)
    return v


def from_typed(obj: Any) -> pb.Item:
    """Convert a DynamoDB JSON item to a validated, normalized Item."""
    item = pb.Item()
    for name, value in _item_object(obj).items():
        _fill_typed(item.attributes[name], name, value, 0)
    check_item(item)
    return item


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def value_to_typed(v: pb.AttributeValue) -> dict[str, Any]:
    """The value as DynamoDB JSON."""
    kind = v.WhichOneof("value")
    content: Any
    if kind is None:
        raise ValueError("attribute value has no type set")
    if kind == "b":
        content = _b64(v.b)
    elif kind == "l":
        content = [value_to_typed(element) for element in v.l.values]
    elif kind == "m":
        content = {name: value_to_typed(member) for name, member in v.m.fields.items()}
    elif kind == "bs":
        content = [_b64(m) for m in v.bs.values]
    elif kind in ("ss", "ns"):
        content = list(getattr(v, kind).values)
    else:  # s, n, bool, null
        content = getattr(v, kind)
    return {_TYPED_NAMES[kind]: content}


def to_typed(item: pb.Item) -> dict[str, Any]:
    """The item as DynamoDB JSON."""
    return {name: value_to_typed(value) for name, value in item.attributes.items()}


# ---------------------------------------------------------------- JSON text


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def loads(text: str) -> Any:
    """Parse JSON with exact numbers: integers as int, everything else as Decimal."""
    return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)


def dumps(obj: Any, **kw: Any) -> str:
    """json.dumps that also writes Decimal, bytes and sets, without losing digits.

    Decimals are written as bare JSON numbers in canonical spelling, bytes as
    ``{"$b": "<base64>"}`` and sets as ``{"$set": [sorted members]}``. The json module can
    only write numbers from int or float, so each Decimal first goes in as a string holding
    an unguessable token, and the token strings are then replaced by the digits.
    """
    token = secrets.token_hex(16)
    numbers: list[str] = []

    def prepare(o: Any) -> Any:
        if isinstance(o, Decimal):
            if not o.is_finite():
                raise ValueError(f"{o} is not valid JSON")
            numbers.append(_format(_reduce(o)))
            return f"{token}:{len(numbers) - 1}"
        if isinstance(o, bytes | bytearray):
            return {"$b": _b64(bytes(o))}
        if isinstance(o, set | frozenset):
            return {"$set": [prepare(m) for m in sorted(o)]}
        if isinstance(o, dict):
            return {k: prepare(m) for k, m in o.items()}
        if isinstance(o, list | tuple):
            return [prepare(m) for m in o]
        return o

    kw.setdefault("allow_nan", False)
    text = json.dumps(prepare(obj), **kw)
    return re.sub(f'"{token}:([0-9]+)"', lambda m: numbers[int(m[1])], text)
