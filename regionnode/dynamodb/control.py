"""The DynamoDB door's control plane on the group-wide table catalog: CreateTable,
DeleteTable, UpdateTable and the tag operations change the catalog here, and every other
region follows (`regionnode/catalog.py`). Every region of the group holds every table, so a
table is always a global table (version 2019.11.21) with a replica in each region.

Changing tables needs a read-write key for every table (access.Operation.ADMIN); listing a
table's tags needs read access to it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from meridian.pb import node_pb2 as pb
from meridian.security.access import Operation
from meridian.wire import errors
from regionnode.dynamodb import create_params as cp
from regionnode.dynamodb import params as p
from regionnode.dynamodb.auth import READ, Caller
from regionnode.dynamodb.errors import DynamoError, validation
from regionnode.dynamodb.tables import table_description
from regionnode.rpc import Core

Body = dict[str, Any]
ADMIN = Operation.ADMIN
_ARN = re.compile(r"arn:aws[a-z-]*:dynamodb:([^:]*):[0-9]*:table/([a-zA-Z0-9_.-]{3,255})")
EVERY_REGION = (
    "every region of the group holds every table (regions {}): replicas follow the group "
    "file, not ReplicaUpdates"
)


class CatalogControl:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.handlers: dict[str, Callable[[Body, Caller], Awaitable[Body]]] = {
            "CreateTable": self.create_table,
            "DeleteTable": self.delete_table,
            "UpdateTable": self.update_table,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsOfResource": self.list_tags,
        }

    async def call(self, operation: str, body: Body, caller: Caller) -> Body:
        handler = self.handlers.get(operation)
        if handler is None:
            raise validation(f"{operation} is not available yet")
        return await handler(body, caller)

    async def create_table(self, body: Body, caller: Caller) -> Body:
        new = cp.create_table(body)
        caller.may(ADMIN, new.spec.name)
        try:
            await self.core.catalog.create(new.spec, new.tags, new.stream_enabled)
        except errors.AlreadyExists:
            raise DynamoError(
                "ResourceInUseException", f"Table already exists: {new.spec.name}"
            ) from None
        return {"TableDescription": self._describe(new.spec.name)}

    async def delete_table(self, body: Body, caller: Caller) -> Body:
        name = p.table_name(body)
        caller.may(ADMIN, name)
        local = self.core.store.tables.get(name)
        entry = await self.core.catalog.delete(name)
        desc = entry if local is None else local.description
        return {"TableDescription": table_description(self.core, desc, 0, 0, "DELETING")}

    async def update_table(self, body: Body, caller: Caller) -> Body:
        name = p.table_name(body)
        caller.may(ADMIN, name)
        for member in ("GlobalSecondaryIndexUpdates", "LocalSecondaryIndexes"):
            p.refuse(body, member, "secondary indexes are not supported yet")
        cp.no_deletion_protection(body)
        self._replica_updates(body)
        enabled, view = cp.stream_specification(body)
        current = self.core.catalog.entry(name)
        if enabled is not None:
            _check_stream_change(current, enabled)

            def change(entry: pb.TableDescription) -> None:
                entry.stream_disabled = not enabled
                if view:
                    entry.spec.view_type = view

            await self.core.catalog.update(name, change)
        return {"TableDescription": self._describe(name)}

    def _replica_updates(self, body: Body) -> None:
        """ReplicaUpdates: Create or Update of a region of the group is already so; any
        other region, or a Delete, cannot be."""
        members = sorted(self.core.members)
        for update in p.array(body, "ReplicaUpdates") or []:
            if not isinstance(update, dict) or len(update) != 1:
                raise validation("ReplicaUpdates: each update holds one of Create, Update, Delete")
            ((action, detail),) = update.items()
            region = detail.get("RegionName") if isinstance(detail, dict) else None
            if action not in ("Create", "Update") or region not in members:
                raise validation(
                    f"ReplicaUpdates {action} of region {region!r}: "
                    + EVERY_REGION.format(", ".join(members))
                )

    async def tag_resource(self, body: Body, caller: Caller) -> Body:
        name = self._resource(body)
        caller.may(ADMIN, name)
        tags = cp.tags(body, "Tags")
        await self.core.catalog.update(name, lambda entry: entry.tags.update(tags))
        return {}

    async def untag_resource(self, body: Body, caller: Caller) -> Body:
        name = self._resource(body)
        caller.may(ADMIN, name)
        keys = p.required("TagKeys", p.strings(body, "TagKeys"))

        def change(entry: pb.TableDescription) -> None:
            for key in keys:
                entry.tags.pop(key, None)

        await self.core.catalog.update(name, change)
        return {}

    async def list_tags(self, body: Body, caller: Caller) -> Body:
        name = self._resource(body)
        caller.may(READ, name)
        tags = self.core.catalog.entry(name).tags
        return {"Tags": [{"Key": k, "Value": tags[k]} for k in sorted(tags)]}

    def _resource(self, body: Body) -> str:
        """The table a ResourceArn names (a table ARN of any region of the group)."""
        arn = p.string(body, "ResourceArn", must=True)
        assert arn is not None
        match = _ARN.fullmatch(arn)
        if match is None or match[1] not in self.core.members:
            raise validation(f"Invalid TableArn: Invalid ResourceArn provided as input {arn}")
        if match[2] not in self.core.store.tables:
            raise DynamoError(
                "ResourceNotFoundException",
                f"Requested resource not found: ResourcArn: {arn} not found",
            )
        return match[2]

    def _describe(self, name: str) -> Body:
        return table_description(self.core, self.core.table(name).description, 0, 0)


def _check_stream_change(entry: pb.TableDescription, enabled: bool) -> None:
    name = entry.spec.name
    if enabled and not entry.stream_disabled:
        raise validation(f"Table already has an enabled stream: TableName: {name}")
    if not enabled and entry.stream_disabled:
        raise validation(f"Table {name} does not have a stream enabled")
