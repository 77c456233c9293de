"""Access keys: the credentials document, key generation, and the authorization decision."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from meridian.security import access
from meridian.security.access import (
    AccessKey,
    CredentialsError,
    DenialReason,
    Operation,
    Permission,
    PermissionDenied,
    authorize,
)

SECRET = "s3cr3t/with+punct" + "x" * 23
RW = AccessKey("MKREADWRITE000000001", SECRET, Permission.READ_WRITE)
RO = AccessKey("MKREADONLY0000000001", SECRET, Permission.READ_ONLY)
RW_ORDERS = AccessKey("MKORDERS000000000001", SECRET, Permission.READ_WRITE, frozenset({"orders"}))
RO_ORDERS = AccessKey("MKORDERSRO0000000001", SECRET, Permission.READ_ONLY, frozenset({"orders"}))

R, W, A = Operation.READ, Operation.WRITE, Operation.ADMIN


@pytest.mark.parametrize(
    ("key", "operation", "table", "reason"),
    [
        (RW, R, "orders", None),
        (RW, W, "orders", None),
        (RW, A, "orders", None),
        (RW, A, None, None),
        (RW, W, None, None),
        (RW, R, None, None),
        (RO, R, "orders", None),
        (RO, R, None, None),
        (RO, W, "orders", DenialReason.READ_ONLY),
        (RO, A, "orders", DenialReason.READ_ONLY),
        (RO, A, None, DenialReason.READ_ONLY),
        (RW_ORDERS, R, "orders", None),
        (RW_ORDERS, W, "orders", None),
        (RW_ORDERS, R, None, None),
        (RW_ORDERS, R, "users", DenialReason.TABLE_NOT_ALLOWED),
        (RW_ORDERS, W, "users", DenialReason.TABLE_NOT_ALLOWED),
        (RW_ORDERS, W, None, DenialReason.NEEDS_ALL_TABLES),
        (RW_ORDERS, A, "orders", DenialReason.NEEDS_ALL_TABLES),
        (RW_ORDERS, A, None, DenialReason.NEEDS_ALL_TABLES),
        (RO_ORDERS, R, "orders", None),
        (RO_ORDERS, R, "users", DenialReason.TABLE_NOT_ALLOWED),
        (RO_ORDERS, W, "orders", DenialReason.READ_ONLY),
    ],
)
def test_authorize(
    key: AccessKey, operation: Operation, table: str | None, reason: DenialReason | None
) -> None:
    if reason is None:
        authorize(key, operation, table)
        return
    with pytest.raises(PermissionDenied) as denied:
        authorize(key, operation, table)
    assert denied.value.reason is reason
    assert key.key_id in str(denied.value)


def test_denial_messages() -> None:
    with pytest.raises(PermissionDenied, match="MKREADONLY0000000001 is read-only: write on table"):
        authorize(RO, W, "orders")
    with pytest.raises(
        PermissionDenied, match="may not use table 'users': it is limited to orders"
    ):
        authorize(RW_ORDERS, R, "users")


def test_generated_keys() -> None:
    keys = [access.generate(Permission.READ_WRITE) for _ in range(50)]
    for key in keys:
        assert re.fullmatch(r"MK[A-Z0-9]{18}", key.key_id)
        assert re.fullmatch(r"[A-Za-z0-9]{40}", key.secret)
        assert key.tables is None
    assert len({k.key_id for k in keys}) == len({k.secret for k in keys}) == 50
    limited = access.generate(Permission.READ_ONLY, ["orders"])
    assert (limited.permission, limited.tables) == (Permission.READ_ONLY, frozenset({"orders"}))
    assert limited.secret not in repr(limited)


def test_document_round_trip_through_yaml() -> None:
    keys = [RW, RO_ORDERS, access.generate(Permission.READ_ONLY, ["a.b", "c_d"])]
    text = yaml.safe_dump(access.to_document(keys))
    assert access.parse_document(yaml.safe_load(text)) == {k.key_id: k for k in keys}


def doc(*items: dict[str, Any]) -> dict[str, Any]:
    return {"credentials": list(items)}


GOOD = {"access_key_id": RW.key_id, "secret_access_key": SECRET, "permission": "read-write"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "expected a mapping with a credentials list, got null"),
        ([GOOD], "expected a mapping with a credentials list, got a list"),
        ({}, "credentials: missing"),
        ({"credentials": [GOOD], "keys": []}, "keys: unknown key; expected only credentials"),
        ({"credentials": []}, "credentials: expected a list of at least one access key"),
        ({"credentials": GOOD}, "credentials: expected a list of at least one access key"),
        ({"credentials": [GOOD, "x"]}, r"credentials\[1\]: expected a mapping, got 'x'"),
        (doc({**GOOD, "role": 1}), r"credentials\[0\].role: unknown key; expected access_key_id"),
        (doc({"access_key_id": RW.key_id}), r"credentials\[0\].secret_access_key: missing"),
        (doc({**GOOD, "access_key_id": "MK/SHORT"}), r"access_key_id: expected 16 to 128 .*"),
        (doc({**GOOD, "access_key_id": 12345}), r"\[0\].access_key_id: expected .*got 12345"),
        (doc({**GOOD, "secret_access_key": "short"}), r"secret_access_key: expected 16 to 128"),
        (doc({**GOOD, "secret_access_key": "with space" * 3}), "printable characters without"),
        (
            doc(GOOD, GOOD, {**GOOD, "permission": "admin"}),
            r"credentials\[1\].access_key_id: MKREADWRITE000000001 is also credentials\[0\]'s",
        ),
        (
            doc(GOOD, {**GOOD, "access_key_id": RO.key_id}, {**GOOD, "permission": "admin"}),
            r"credentials\[2\].permission: expected read-only or read-write, got 'admin'",
        ),
        (doc({**GOOD, "permission": True}), r"permission: expected .* got true"),
        (doc({**GOOD, "tables": []}), r"\[0\].tables: expected a list of at least one table"),
        (doc({**GOOD, "tables": "orders"}), r"\[0\].tables: expected a list"),
        (doc({**GOOD, "tables": ["orders", "x"]}), r"\[0\].tables\[1\]: expected a table name"),
        (doc({**GOOD, "tables": ["orders", "orders"]}), r"tables\[1\]: 'orders' is listed twice"),
        (doc({**GOOD, "tables": [None]}), r"tables\[0\]: expected a table name .*got null"),
    ],
)
def test_bad_documents_are_refused_with_their_path(data: Any, message: str) -> None:
    with pytest.raises(CredentialsError, match=message) as refused:
        access.parse_document(data)
    assert SECRET not in str(refused.value)


def test_secrets_never_appear_in_errors() -> None:
    leaked = "this secret has spaces in it!"
    with pytest.raises(CredentialsError) as refused:
        access.parse_credentials([{**GOOD, "secret_access_key": leaked}], "group.credentials")
    assert str(refused.value).startswith("group.credentials[0].secret_access_key:")
    assert leaked not in str(refused.value)
