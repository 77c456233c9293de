"""A writer's context over a real store with one table, for the tests that compare staging
paths (test_local_stage, test_replicated_stage)."""

from __future__ import annotations

import pathlib
from collections.abc import Callable

from meridian.model import hlc, schema
from meridian.pb import node_pb2 as pb
from regionnode.stage import Context
from regionnode.store import Store, Table


def spec(view_type: int, ttl_attribute: str) -> pb.TableSpec:
    """Table `orders` (pk S, sk N) with the given stream view and TTL attribute."""
    return pb.TableSpec(
        name="orders",
        partition_key=pb.KeyAttribute(name="pk", type=pb.KEY_TYPE_S),
        sort_key=pb.KeyAttribute(name="sk", type=pb.KEY_TYPE_N),
        view_type=view_type,
        ttl_attribute=ttl_attribute,
    )


def context(
    path: pathlib.Path, table_spec: pb.TableSpec, region: str, wall: Callable[[], int]
) -> Context:
    """A context over a new store at `path` holding the table, its clock reading `wall`."""
    store = Store(path, sync=False)
    desc = pb.TableDescription(spec=table_spec, schema_fingerprint=schema.fingerprint(table_spec))
    store.put_table(Table(schema.Schema(table_spec), desc))
    return Context(store, hlc.HybridClock(0, wall), region, "node1")
