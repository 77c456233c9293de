"""UpdateTimeToLive and DescribeTimeToLive, shaped as DynamoDB's. They are served here,
before the control plane (which serves the other table operations): the change itself is
`regionnode.time_to_live.set_time_to_live`."""

from __future__ import annotations

from typing import Any

from meridian.model.items import ItemError
from meridian.security.access import Operation
from regionnode.dynamodb import params as p
from regionnode.dynamodb.auth import READ, Caller
from regionnode.dynamodb.errors import validation
from regionnode.dynamodb.tables import Body, ControlPlane
from regionnode.rpc import Core
from regionnode.time_to_live import set_time_to_live


class TimeToLiveDoor:
    """A ControlPlane that serves the two TTL operations and hands the others to `rest`."""

    def __init__(self, core: Core, rest: ControlPlane) -> None:
        self.core = core
        self.rest = rest

    async def call(self, operation: str, body: Body, caller: Caller) -> Body:
        if operation == "DescribeTimeToLive":
            return self.describe(body, caller)
        if operation == "UpdateTimeToLive":
            return self.update(body, caller)
        return await self.rest.call(operation, body, caller)

    def describe(self, body: Body, caller: Caller) -> Body:
        name = p.table_name(body)
        caller.may(READ, name)
        attribute = self.core.table(name).description.spec.ttl_attribute
        description: dict[str, Any] = {"TimeToLiveStatus": "ENABLED" if attribute else "DISABLED"}
        if attribute:
            description["AttributeName"] = attribute
        return {"TimeToLiveDescription": description}

    def update(self, body: Body, caller: Caller) -> Body:
        name = p.table_name(body)
        spec = p.mapping(body, "TimeToLiveSpecification", must=True)
        assert spec is not None
        enabled = p.required("TimeToLiveSpecification.Enabled", p.boolean(spec, "Enabled"))
        attribute = p.string(spec, "AttributeName", must=True)
        assert attribute is not None
        caller.may(Operation.ADMIN, name)
        self.core.table(name)  # ResourceNotFoundException before any validation of the change
        try:
            set_time_to_live(self.core, name, attribute, enabled)
        except ItemError as exc:
            raise validation(str(exc)) from None
        return {"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attribute}}
