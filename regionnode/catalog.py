"""The node's copy of the group-wide table catalog, and its local tables made to match it.

Every change (CreateTable, DeleteTable, settings, tags, or entries merged from a peer) is
stored first (synced), then the local table follows (`meridian.model.catalog.action`); the
node reconciles every table again at startup, so a crash between the two only delays the
second. Changes are serialized by one lock: a table is never dropped and created at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable

from meridian.model import catalog as model
from meridian.model import schema
from meridian.model.items import ItemError
from meridian.pb import node_pb2 as pb
from meridian.wire import errors
from regionnode.catalog_ops import AsideOp, DropOp
from regionnode.store import Store, Table
from regionnode.stream import Streams
from regionnode.writer import Writer

log = logging.getLogger(__name__)


def normalized(spec: pb.TableSpec) -> pb.TableSpec:
    """A copy with the defaults filled in, validated (ItemError names the field)."""
    out = pb.TableSpec()
    out.CopyFrom(spec)
    out.view_type = out.view_type or pb.NEW_AND_OLD_IMAGES
    out.retention_seconds = out.retention_seconds or schema.DEFAULT_RETENTION_S
    schema.validate_spec(out)
    return out


class Catalog:
    def __init__(
        self, store: Store, writer: Writer, streams: Streams, region: str, members: Iterable[str]
    ) -> None:
        self.store = store
        self.writer = writer
        self.streams = streams
        self.region = region
        self.members = sorted(members)
        self.entries = store.catalog_entries()
        self.set_aside = store.set_aside_tables()
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------ startup

    def seed(self, declared: Iterable[pb.TableSpec]) -> None:
        """Put each table of the group file in the catalog when absent (model.Mismatch when
        the catalog holds it with another key schema), and adopt local tables that predate
        the catalog."""
        for spec in declared:
            spec = normalized(spec)
            entry = self.entries.get(spec.name)
            model.check_declared(spec, entry)
            if entry is None:
                self._put(model.first_entry(spec))
            elif entry.state == model.DELETED:
                log.warning(
                    "table %s is declared in the group file but was deleted (DeleteTable); "
                    "it stays deleted: create it again, or remove it from the file",
                    spec.name,
                )
            elif (changed := model.declared_change(spec, entry)) is not None:
                changed.version.CopyFrom(self._version())
                self._put(changed)
        for name, table in self.store.tables.items():
            if name not in self.entries:
                self._put(model.first_entry(table.description.spec))

    async def reconcile_all(self) -> None:
        async with self._lock:
            for name in sorted(set(self.entries) | set(self.store.tables)):
                await self._reconcile(name)

    # ------------------------------------------------------------ reads

    def entry(self, name: str) -> pb.TableDescription:
        """The live entry of a table; NotFound when there is none."""
        entry = self.entries.get(name)
        if entry is None or entry.state == model.DELETED:
            raise errors.NotFound(f"table {name!r} does not exist")
        return entry

    def snapshot(self) -> pb.Catalog:
        return pb.Catalog(entries=[self.entries[n] for n in sorted(self.entries)])

    # ------------------------------------------------------------ changes

    async def create(
        self, spec: pb.TableSpec, tags: dict[str, str] | None = None, stream: bool = True
    ) -> pb.TableDescription:
        """CreateTable, group-wide: AlreadyExists when the table exists."""
        return await asyncio.shield(self._create(normalized(spec), tags or {}, stream))

    async def _create(
        self, spec: pb.TableSpec, tags: dict[str, str], stream: bool
    ) -> pb.TableDescription:
        async with self._lock:
            current = self.entries.get(spec.name)
            if current is not None and current.state == model.ACTIVE:
                raise errors.AlreadyExists(f"table {spec.name!r} already exists")
            version = self._version()
            entry = pb.TableDescription(
                spec=spec,
                schema_fingerprint=schema.fingerprint(spec),
                version=version,
                created=version,
                generation=0 if current is None else current.generation + 1,
                tags=tags,
                stream_disabled=not stream,
            )
            self._put(entry)
            await self._reconcile(spec.name)
            return entry

    async def delete(self, name: str) -> pb.TableDescription:
        """DeleteTable, group-wide: NotFound when there is no such table."""
        return await asyncio.shield(self._delete(name))

    async def _delete(self, name: str) -> pb.TableDescription:
        async with self._lock:
            entry = pb.TableDescription()
            entry.CopyFrom(self.entry(name))
            entry.state = model.DELETED
            entry.version.CopyFrom(self._version())
            entry.ClearField("tags")
            self._put(entry)
            await self._reconcile(name)
            return entry

    async def update(
        self, name: str, change: Callable[[pb.TableDescription], None]
    ) -> pb.TableDescription:
        """Change a live table's entry (settings, tags, stream) group-wide; the key schema
        and the catalog's own fields cannot change (ItemError)."""
        async with self._lock:
            return self._update(name, change)

    def update_spec(self, name: str, change: Callable[[pb.TableSpec], None]) -> pb.TableDescription:
        """Change a live table's settings (TableSpec) in every region of the group. Not a
        coroutine: settings change in place, nothing waits; Unavailable in the rare moment
        a table is being dropped or replaced here (retry)."""
        if self._lock.locked():
            raise errors.Unavailable("the table catalog is replacing a table here; retry")
        return self._update(name, lambda entry: change(entry.spec))

    def _update(
        self, name: str, change: Callable[[pb.TableDescription], None]
    ) -> pb.TableDescription:
        current = self.entry(name)
        entry = pb.TableDescription()
        entry.CopyFrom(current)
        change(entry)
        entry.spec.CopyFrom(normalized(entry.spec))
        if schema.fingerprint(entry.spec) != current.schema_fingerprint:
            raise ItemError(
                f"table {name!r}: the key schema and merge mode of a table cannot change"
            )
        entry.version.CopyFrom(self._version())
        self._put(entry)
        local = self.store.tables.get(name)
        if local is None:  # only after a crash between entry and table: created at once
            self._create_local(entry)
        elif model.action(entry, local.description) is model.Action.UPDATE:
            self._update_local(local, entry)
        return entry

    async def merge(self, entries: Iterable[pb.TableDescription]) -> list[str]:
        """Merge a peer's entries; returns the tables whose entry changed here. Shielded:
        a caller that gives up (deadline) does not cut a table change in half."""
        return await asyncio.shield(self._merge(list(entries)))

    async def _merge(self, entries: list[pb.TableDescription]) -> list[str]:
        changed = []
        async with self._lock:
            for theirs in entries:
                name = theirs.spec.name
                mine = self.entries.get(name)
                keep = mine is not None and (
                    model.merge(mine, theirs) is mine
                    or mine == theirs
                    or model.contested(mine, theirs)  # links report it (excluded_tables)
                )
                if not keep and schema.TABLE_NAME.fullmatch(name):
                    self._put(theirs)
                    changed.append(name)
                elif not keep:
                    log.warning("catalog entry with a malformed table name %r ignored", name)
                    continue
                await self._reconcile(name)  # also repairs a table left behind its entry
        return changed

    # ------------------------------------------------------------ the local tables

    def _version(self) -> pb.Version:
        return pb.Version(hlc=self.writer.clock.now(), region=self.region)

    def _put(self, entry: pb.TableDescription) -> None:
        self.store.put_catalog_entry(entry)
        self.entries[entry.spec.name] = entry

    async def _reconcile(self, name: str) -> None:
        entry = self.entries.get(name)
        local = self.store.tables.get(name)
        action = model.action(entry, None if local is None else local.description)
        if action is model.Action.KEEP:
            return
        log.info("table %s: %s (catalog)", name, action.value)
        if action is model.Action.UPDATE:
            assert local is not None and entry is not None
            self._update_local(local, entry)
            return
        if action is model.Action.SET_ASIDE:
            assert local is not None
            await self._set_aside(local, entry)
        elif action in (model.Action.DROP, model.Action.REPLACE):
            self._forget(name)
            await self.writer.submit(DropOp(name, self.members))
        if entry is not None and entry.state == model.ACTIVE:
            self._create_local(entry)

    def _forget(self, name: str) -> None:
        """Take the table out of service at once: new calls find no table, and its
        stream readers wake and see that it is gone."""
        self.store.tables.pop(name, None)
        self.streams.notify({name})

    def _create_local(self, entry: pb.TableDescription) -> None:
        desc = pb.TableDescription()
        desc.CopyFrom(entry)
        desc.stream_id = uuid.uuid4().hex
        desc.created_ms = int(time.time() * 1000)
        desc.schema_fingerprint = schema.fingerprint(entry.spec)
        self.store.put_table(Table(schema.Schema(desc.spec), desc))

    def _update_local(self, local: Table, entry: pb.TableDescription) -> None:
        """Same incarnation: take the entry's settings, keep the stream's identity."""
        desc = local.description
        stream_id, created_ms = desc.stream_id, desc.created_ms
        desc.CopyFrom(entry)
        desc.stream_id, desc.created_ms = stream_id, created_ms
        self.store.put_table(local)

    async def _set_aside(self, local: Table, winner: pb.TableDescription | None) -> None:
        """Another CreateTable of this name won: keep this incarnation's data under a name
        of its own (a table of the catalog, so it exists in every region)."""
        name = local.description.spec.name
        kept_as = model.set_aside_name(name, local.description)
        entry = pb.TableDescription()
        entry.CopyFrom(local.description)
        entry.spec.name = kept_as
        entry.schema_fingerprint = schema.fingerprint(entry.spec)
        entry.ClearField("stream_id")
        entry.ClearField("created_ms")
        entry.ClearField("tags")
        entry.version.CopyFrom(entry.created)
        reason = (
            f"another CreateTable of {name!r} with "
            f"{schema.describe(winner.spec) if winner else 'another key schema'} "
            f"came first; this region's data of the table with "
            f"{schema.describe(local.description.spec)} is kept in {kept_as!r}"
        )
        aside = pb.SetAsideTable(table=name, kept_as=kept_as, reason=reason, at_ms=_now_ms())
        if kept_as not in self.entries:
            self._put(entry)
        self._forget(name)
        await self.writer.submit(AsideOp(name, aside, self.members))
        self.set_aside.append(aside)
        if kept_as not in self.store.tables:
            self._create_local(self.entries[kept_as])
        log.warning("table %s set aside: %s", name, reason)


def _now_ms() -> int:
    return int(time.time() * 1000)
