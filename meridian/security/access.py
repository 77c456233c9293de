"""Access keys: who may use the client API, and what each key may do.

An access key is an id and a secret (the same pair serves gRPC calls and, signed with SigV4,
the DynamoDB-compatible HTTP API), a permission and optionally the tables it is limited to.
A credentials document, in the group file or a file of its own, reads::

    credentials:
      - access_key_id: MKEXAMPLE7Q2ZL4RN5TB
        secret_access_key: <40 letters and digits>
        permission: read-write          # or read-only
        tables: [orders, customers]     # optional: every table when absent

Parsing takes already-loaded YAML data and raises ``CredentialsError`` with the path of the
first bad value; secrets never appear in messages. ``authorize`` is the one decision.
"""

from __future__ import annotations

import enum
import re
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KEY_ID_PREFIX = "MK"
KEY_ID_LENGTH = 20
SECRET_LENGTH = 40

_KEY_ID_RE = re.compile(r"[A-Za-z0-9]{16,128}")
_SECRET_RE = re.compile(r"[!-~]{16,128}")  # printable ASCII, no spaces
_TABLE_RE = re.compile(r"[A-Za-z0-9_.-]{3,255}")
_FIELDS = ("access_key_id", "secret_access_key", "permission", "tables")


class Permission(enum.StrEnum):
    READ_ONLY = "read-only"
    READ_WRITE = "read-write"


class Operation(enum.StrEnum):
    """What a call does: read items or streams, write items, or change tables."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class DenialReason(enum.StrEnum):
    """Machine-readable reasons for PermissionDenied."""

    READ_ONLY = "READ_ONLY"
    TABLE_NOT_ALLOWED = "TABLE_NOT_ALLOWED"
    NEEDS_ALL_TABLES = "NEEDS_ALL_TABLES"


class CredentialsError(ValueError):
    """A credentials document that cannot be used; the message starts with the bad path."""


class PermissionDenied(Exception):
    """An authenticated key that may not do this; ``reason`` is for machines."""

    def __init__(self, reason: DenialReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class AccessKey:
    """One client's credentials; ``tables`` None means every table."""

    key_id: str
    secret: str = field(repr=False)
    permission: Permission
    tables: frozenset[str] | None = None

    def covers(self, table: str) -> bool:
        return self.tables is None or table in self.tables


def authorize(key: AccessKey, operation: Operation, table: str | None) -> None:
    """Allow ``operation`` on ``table`` for ``key``, or raise PermissionDenied.

    Reads without a table (listing tables) are open to every key; the caller lists only the
    tables the key covers. A write without a table, and any table administration, needs a
    read-write key for every table.
    """
    if operation is not Operation.READ and key.permission is Permission.READ_ONLY:
        raise PermissionDenied(
            DenialReason.READ_ONLY,
            f"access key {key.key_id} is read-only: {operation} {_on(table)}refused",
        )
    if operation is Operation.ADMIN or (operation is Operation.WRITE and table is None):
        if key.tables is not None:
            raise PermissionDenied(
                DenialReason.NEEDS_ALL_TABLES,
                f"access key {key.key_id} is limited to some tables: {operation} "
                f"{_on(table)}needs a key for every table",
            )
    elif table is not None and not key.covers(table):
        raise PermissionDenied(
            DenialReason.TABLE_NOT_ALLOWED,
            f"access key {key.key_id} may not use table {table!r}: it is limited to "
            f"{', '.join(sorted(key.tables or ()))}",
        )


def _on(table: str | None) -> str:
    return f"on table {table!r} " if table is not None else ""


def generate(permission: Permission, tables: Iterable[str] | None = None) -> AccessKey:
    """A new key: a 20-character id starting with MK and a 40-character random secret."""
    upper = string.ascii_uppercase + string.digits
    key_id = KEY_ID_PREFIX + "".join(
        secrets.choice(upper) for _ in range(KEY_ID_LENGTH - len(KEY_ID_PREFIX))
    )
    alphabet = string.ascii_letters + string.digits
    secret = "".join(secrets.choice(alphabet) for _ in range(SECRET_LENGTH))
    return AccessKey(key_id, secret, permission, None if tables is None else frozenset(tables))


def to_document(keys: Iterable[AccessKey]) -> dict[str, Any]:
    """The credentials document ``parse_document`` reads back."""
    items = []
    for key in keys:
        item: dict[str, Any] = {
            "access_key_id": key.key_id,
            "secret_access_key": key.secret,
            "permission": str(key.permission),
        }
        if key.tables is not None:
            item["tables"] = sorted(key.tables)
        items.append(item)
    return {"credentials": items}


def parse_document(data: Any) -> dict[str, AccessKey]:
    """Keys by id from a whole credentials document (a mapping with ``credentials``)."""
    if not isinstance(data, Mapping):
        raise CredentialsError(f"expected a mapping with a credentials list, got {_kind(data)}")
    unknown = sorted(str(k) for k in data if k != "credentials")
    if unknown:
        raise CredentialsError(f"{unknown[0]}: unknown key; expected only credentials")
    if "credentials" not in data:
        raise CredentialsError("credentials: missing")
    return parse_credentials(data["credentials"])


def parse_credentials(items: Any, path: str = "credentials") -> dict[str, AccessKey]:
    """Keys by id from a list of credentials (also a section of the group file)."""
    if not isinstance(items, list) or not items:
        raise CredentialsError(f"{path}: expected a list of at least one access key")
    keys: dict[str, AccessKey] = {}
    where: dict[str, int] = {}
    for index, item in enumerate(items):
        key = _parse_key(item, f"{path}[{index}]")
        if key.key_id in where:
            raise CredentialsError(
                f"{path}[{index}].access_key_id: {key.key_id} is also {path}[{where[key.key_id]}]'s"
            )
        keys[key.key_id] = key
        where[key.key_id] = index
    return keys


def _parse_key(item: Any, path: str) -> AccessKey:
    if not isinstance(item, Mapping):
        raise CredentialsError(f"{path}: expected a mapping, got {_kind(item)}")
    for name in item:
        if name not in _FIELDS:
            raise CredentialsError(f"{path}.{name}: unknown key; expected {', '.join(_FIELDS)}")
    for name in _FIELDS[:3]:
        if name not in item:
            raise CredentialsError(f"{path}.{name}: missing")
    key_id = item["access_key_id"]
    if not isinstance(key_id, str) or not _KEY_ID_RE.fullmatch(key_id):
        raise CredentialsError(
            f"{path}.access_key_id: expected 16 to 128 letters and digits, got {_kind(key_id)}"
        )
    secret = item["secret_access_key"]
    if not isinstance(secret, str) or not _SECRET_RE.fullmatch(secret):
        raise CredentialsError(  # the value is never shown: it may be a real secret
            f"{path}.secret_access_key: expected 16 to 128 printable characters without spaces"
        )
    permission = item["permission"]
    if permission not in tuple(Permission):
        raise CredentialsError(
            f"{path}.permission: expected read-only or read-write, got {_kind(permission)}"
        )
    tables = _parse_tables(item["tables"], f"{path}.tables") if "tables" in item else None
    return AccessKey(key_id, secret, Permission(permission), tables)


def _parse_tables(value: Any, path: str) -> frozenset[str]:
    if not isinstance(value, list) or not value:
        raise CredentialsError(f"{path}: expected a list of at least one table name")
    for index, table in enumerate(value):
        if not isinstance(table, str) or not _TABLE_RE.fullmatch(table):
            raise CredentialsError(
                f'{path}[{index}]: expected a table name (3 to 255 letters, digits, "_", '
                f'"." or "-"), got {_kind(table)}'
            )
        if table in value[:index]:
            raise CredentialsError(f"{path}[{index}]: {table!r} is listed twice")
    return frozenset(value)


def _kind(value: Any) -> str:
    """A short rendering of a bad value: scalars as YAML writes them, others by type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "...")
    if isinstance(value, int | float):
        return repr(value)
    return f"a {type(value).__name__}"
