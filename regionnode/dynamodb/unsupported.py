"""DynamoDB operations this door does not serve, each refused with a ValidationException
that says why (rather than as an unknown operation), and the legacy global tables API
(version 2017.11.29) answered as DynamoDB answers it for tables that are not such."""

from __future__ import annotations

from typing import Any

from regionnode.dynamodb.auth import Caller
from regionnode.dynamodb.errors import DynamoError, validation

Body = dict[str, Any]

_PARTIQL = "PartiQL is not served: use the item operations (GetItem, Query, ...)"
_BACKUPS = (
    "backups, exports and imports are not served: every region of the group holds a copy, "
    "and a new region copies the data from a peer (meridian bootstrap)"
)
_NOT_SERVED = "not served by Meridian"
REASONS = {
    "ExecuteStatement": _PARTIQL,
    "BatchExecuteStatement": _PARTIQL,
    "ExecuteTransaction": _PARTIQL,
    **dict.fromkeys(
        (
            "CreateBackup",
            "DeleteBackup",
            "DescribeBackup",
            "ListBackups",
            "RestoreTableFromBackup",
            "RestoreTableToPointInTime",
            "DescribeContinuousBackups",
            "UpdateContinuousBackups",
            "ExportTableToPointInTime",
            "DescribeExport",
            "ListExports",
            "ImportTable",
            "DescribeImport",
            "ListImports",
        ),
        _BACKUPS,
    ),
    **dict.fromkeys(
        (
            "DescribeContributorInsights",
            "ListContributorInsights",
            "UpdateContributorInsights",
            "DescribeKinesisStreamingDestination",
            "EnableKinesisStreamingDestination",
            "DisableKinesisStreamingDestination",
            "UpdateKinesisStreamingDestination",
            "GetResourcePolicy",
            "PutResourcePolicy",
            "DeleteResourcePolicy",
            "DescribeTableReplicaAutoScaling",
            "UpdateTableReplicaAutoScaling",
            "DescribeLimits",
            "DescribeEndpoints",
        ),
        _NOT_SERVED,
    ),
}
_GLOBAL_TABLE_LOOKUPS = (
    "DescribeGlobalTable",
    "DescribeGlobalTableSettings",
    "UpdateGlobalTable",
    "UpdateGlobalTableSettings",
)


def handlers() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for operation, reason in REASONS.items():
        out[operation] = _refuse(operation, reason)
    for operation in _GLOBAL_TABLE_LOOKUPS:
        out[operation] = _no_global_table
    out["CreateGlobalTable"] = _refuse(
        "CreateGlobalTable",
        "DynamoDB global tables version 2017.11.29 is not supported: every table of a "
        "Meridian group is global already (in every region of the group file)",
    )
    out["ListGlobalTables"] = _list_global_tables
    return out


def _refuse(operation: str, reason: str) -> Any:
    async def handler(body: Body, caller: Caller) -> Body:
        raise validation(f"{operation}: {reason}")

    return handler


async def _no_global_table(body: Body, caller: Caller) -> Body:
    name = body.get("GlobalTableName")
    raise DynamoError(
        "GlobalTableNotFoundException", f"Global table with name '{name}' does not exist."
    )


async def _list_global_tables(body: Body, caller: Caller) -> Body:
    return {"GlobalTables": []}
