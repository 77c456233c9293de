"""The item semantics of the node, one implementation behind every client door.

A door decodes its request, resolves the table, compiles the request's expressions with
`meridian.expressions` (once, outside the writer: `key_schema` gives the table's key schema
for that), and calls `ItemOps`. `ItemOps` validates items and keys, applies DynamoDB's rules
for ReturnValues, Select, Limit, pages and transactions, hands writes to the single writer
(which evaluates conditions and updates against the current item, atomically) and serves
reads straight from the store.

Meridian's own extras ride along: a write's result carries its version (HLC and region)
and `changed` (False when nothing changed, and then no stream record is written); a write
may name the version it expects the stored item to have (optimistic concurrency).

Refusals: ItemError (a malformed item or key: INVALID_ARGUMENT), ExpressionError (what
DynamoDB calls a ValidationException, with its message), ConditionFailed and
TransactionCanceled (nothing was written).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from meridian.expressions import ExpressionError, Expressions, KeySchema
from meridian.model import schema, ttl
from meridian.model.item_bytes import COMPILED, item_bytes_valid, item_key
from meridian.model.items import ItemError, check_item, normalize_item
from meridian.pb import node_pb2 as pb
from regionnode import query
from regionnode.local_writes import (
    BatchOp,
    CheckOp,
    DeleteOp,
    Guard,
    Planned,
    PutOp,
    Target,
    TransactOp,
    UpdateOp,
)
from regionnode.store import Store, Table
from regionnode.writer import Writer

MAX_BATCH_WRITES = 1000
MAX_BATCH_GETS = 1000
MAX_TRANSACT_ITEMS = 100
MAX_PAGE_BYTES = 1024 * 1024
MAX_TOTAL_SEGMENTS = 1_000_000

_KEY_TYPES = {pb.KEY_TYPE_S: "S", pb.KEY_TYPE_N: "N", pb.KEY_TYPE_B: "B"}
_SELECT_NAMES: dict[int, str] = {pb.ALL_ATTRIBUTES: "ALL_ATTRIBUTES", pb.COUNT: "only the Count"}


def key_schema(table: Table) -> KeySchema:
    """The table's key schema as the expression compiler takes it."""
    sch = table.schema
    if sch.sk_name is None:
        return KeySchema(sch.pk_name, _KEY_TYPES[sch.pk_type])
    return KeySchema(sch.pk_name, _KEY_TYPES[sch.pk_type], sch.sk_name, _KEY_TYPES[sch.sk_type])


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """What a write asks besides its item: compiled expressions (ConditionExpression, and
    UpdateExpression for an update), ReturnValues (a pb.ReturnValues),
    ReturnValuesOnConditionCheckFailure ALL_OLD (`return_old_on_failure`), and the version
    the stored item must have (Meridian's, checked before the condition)."""

    expressions: Expressions | None = None
    return_values: int = pb.RETURN_VALUES_NONE
    return_old_on_failure: bool = False
    expected_version: pb.Version | None = None

    def guard(self) -> Guard:
        return Guard(self.expressions, self.expected_version, self.return_old_on_failure)


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """A Query or Scan page: compiled expressions (KeyConditionExpression for a Query,
    FilterExpression, ProjectionExpression), Limit (0: none), ExclusiveStartKey, the
    direction, Select (a pb.Select) and the parallel-scan segment."""

    expressions: Expressions | None = None
    limit: int = 0
    exclusive_start_key: pb.Item | None = None
    forward: bool = True
    select: int = pb.SELECT_UNSPECIFIED
    segment: int = 0
    total_segments: int = 0


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a Query or Scan: `scanned_count` items read, `count` kept by the filter
    (`items` holds them, projected, unless Select is COUNT); `last_evaluated_key` is set
    when the read stopped on the Limit or the page size."""

    items: list[pb.Item]
    count: int
    scanned_count: int
    last_evaluated_key: pb.Item | None


@dataclass(frozen=True, slots=True)
class TransactWrite:
    """One action of a transaction: `kind` is Put (`item` is the item), Update, Delete or
    ConditionCheck (`item` is the key). Transactions return no values."""

    kind: str
    table: Table
    item: pb.Item
    options: WriteOptions


@dataclass(frozen=True, slots=True)
class TransactGet:
    table: Table
    key: pb.Item
    projection: Expressions | None = None


class ItemOps:
    """Item writes through the node's writer, item reads from its store."""

    def __init__(self, store: Store, writer: Writer) -> None:
        self.store = store
        self.writer = writer

    # ------------------------------------------------------------ writes

    async def put_item(self, table: Table, item: pb.Item, options: WriteOptions) -> pb.WriteResult:
        target, raw = put_target(table, item)
        op = PutOp(target, item, options.guard(), _old_or_none(options), raw)
        return await self.writer.submit_now(op)  # type: ignore[return-value]

    async def delete_item(
        self, table: Table, key: pb.Item, options: WriteOptions
    ) -> pb.WriteResult:
        op = DeleteOp(key_target(table, key), options.guard(), _old_or_none(options))
        return await self.writer.submit_now(op)  # type: ignore[return-value]

    async def update_item(
        self, table: Table, key: pb.Item, options: WriteOptions
    ) -> pb.WriteResult:
        op = UpdateOp(key_target(table, key), options.guard(), options.return_values)
        return await self.writer.submit_now(op)  # type: ignore[return-value]

    async def batch_write(
        self, table: Table, writes: Sequence[tuple[pb.Item | None, pb.Item | None]]
    ) -> pb.BatchWriteItemResponse:
        """Unconditional puts `(item, None)` and deletes `(None, key)`, each key once."""
        if not 1 <= len(writes) <= MAX_BATCH_WRITES:
            raise ItemError(f"writes: expected 1 to {MAX_BATCH_WRITES} requests, got {len(writes)}")
        staged: list[tuple[bytes, pb.Item, pb.Item | None]] = []
        seen: set[bytes] = set()
        for index, (item, key) in enumerate(writes):
            try:
                target = item_target(table, item) if item is not None else key_target(table, key)
            except ItemError as exc:
                raise ItemError(f"writes[{index}]: {exc}") from None
            if target.key in seen:
                raise ItemError(f"writes[{index}]: the batch already writes this key")
            seen.add(target.key)
            staged.append((target.key, target.keys, item))
        return await self.writer.submit(BatchOp(table, staged))  # type: ignore[return-value]

    async def transact_write(self, actions: Sequence[TransactWrite]) -> list[pb.WriteResult]:
        """All actions or none, atomically in this region; TransactionCanceled otherwise."""
        _check_transaction_size(len(actions))
        ops: list[Planned] = []
        seen: set[bytes] = set()
        for action in actions:
            op = _transact_op(action)
            if op.target.key in seen:
                raise ExpressionError(
                    "Transaction request cannot include multiple operations on one item"
                )
            seen.add(op.target.key)
            ops.append(op)
        return await self.writer.submit(TransactOp(ops))  # type: ignore[return-value]

    # ------------------------------------------------------------ reads

    def get_item(
        self, table: Table, key: pb.Item, projection: Expressions | None = None
    ) -> pb.GetItemResponse:
        stored = self.store.get_item(key_of(table, key)[0])
        return _found(self._unexpired(table, stored), projection)

    def batch_get(
        self, table: Table, keys: Sequence[pb.Item], projection: Expressions | None = None
    ) -> list[pb.Item]:
        """The items that exist among `keys` (projected), in no particular order."""
        if len(keys) > MAX_BATCH_GETS:
            raise ItemError(f"keys: at most {MAX_BATCH_GETS}, got {len(keys)}")
        encoded = [key_of(table, key)[0] for key in keys]
        found = []
        for raw in self.store.get_many(encoded):
            if raw is not None:
                stored = pb.StoredItem.FromString(raw)
                if not stored.tombstone and self._unexpired(table, stored) is not None:
                    found.append(_projected(stored.item, projection))
        return found

    def transact_get(self, gets: Sequence[TransactGet]) -> list[pb.GetItemResponse]:
        """Items read at one instant: no write commits between the reads."""
        _check_transaction_size(len(gets))
        encoded = [key_of(get.table, get.key)[0] for get in gets]
        responses = []
        for get, raw in zip(gets, self.store.get_many(encoded), strict=True):
            stored = pb.StoredItem.FromString(raw) if raw is not None else None
            responses.append(_found(self._unexpired(get.table, stored), get.projection))
        return responses

    def query(self, table: Table, options: ReadOptions) -> Page:
        expressions = options.expressions
        key = expressions.key_condition if expressions is not None else None
        if expressions is None or key is None:
            raise ExpressionError(
                "Either the KeyConditions or KeyConditionExpression parameter must be "
                "specified in the request."
            )
        count_only = _count_only(options)
        sch = table.schema
        prefix = sch.partition_prefix(key.partition_value(expressions.values))
        low, high = query.sort_range(sch, prefix, key.sort_condition(expressions.values))
        start = _start_key(table, options.exclusive_start_key)
        low, high = query.resume(low, high, start, not options.forward)
        rows = self.store.scan_range(low, high, reverse=not options.forward)
        return _page(self._hiding_expired(table, rows), sch, options, count_only)

    def scan(self, table: Table, options: ReadOptions) -> Page:
        count_only = _count_only(options)
        total = options.total_segments or 1
        if total > MAX_TOTAL_SEGMENTS:
            raise ExpressionError(
                f"1 validation error detected: Value '{total}' at 'totalSegments' failed to "
                f"satisfy constraint: Member must have value less than or equal to "
                f"{MAX_TOTAL_SEGMENTS}"
            )
        if options.segment >= total:
            raise ExpressionError(
                "The Segment parameter is zero-based and must be less than parameter "
                f"TotalSegments: Segment: {options.segment} is not less than TotalSegments: "
                f"{total}"
            )
        sch = table.schema
        start = _start_key(table, options.exclusive_start_key)
        low, high = query.resume(sch.prefix, query.successor(sch.prefix), start, False)
        rows: Rows = self.store.scan_range(low, high)
        if total > 1:
            rows = _in_segment(rows, sch, options.segment, total)
        return _page(self._hiding_expired(table, rows), sch, options, count_only)

    # ------------------------------------------------------------ time to live

    def _unexpired(self, table: Table, stored: pb.StoredItem | None) -> pb.StoredItem | None:
        """The stored item, or None when the table hides expired items and it has expired
        (not yet swept). By default reads return such items, as DynamoDB's do."""
        spec = table.description.spec
        if stored is None or stored.tombstone or not spec.ttl_hide_expired:
            return stored
        if ttl.is_expired(stored.item, spec.ttl_attribute, self.writer.ctx.ttl_clock()):
            return None
        return stored

    def _hiding_expired(self, table: Table, rows: Rows) -> Rows:
        """Rows of a Query or Scan, expired items left out when the table hides them."""
        if not table.description.spec.ttl_hide_expired:
            return rows
        now = self.writer.ctx.ttl_clock()
        attribute = table.description.spec.ttl_attribute
        return (
            (key, value)
            for key, value in rows
            if not ttl.is_expired(pb.StoredItem.FromString(value).item, attribute, now)
        )


# ---------------------------------------------------------------- items and keys


def item_target(table: Table, item: pb.Item) -> Target:
    """A whole item's target, after validating (and normalising) the item."""
    return put_target(table, item)[0]


def put_target(table: Table, item: pb.Item) -> tuple[Target, bytes | None]:
    """`item_target`, and the item's serialization when the compiled check took it as it
    is (valid and canonical: what the stored item and stream record hold), else None."""
    raw = item.SerializeToString() if COMPILED else None
    if raw is not None and item_bytes_valid(raw):
        found = item_key(raw, table.schema)  # the key read off the bytes
        if found is not None:
            return Target(table, *found), raw
    else:
        check_item(item)
        raw = None  # normalising may have changed the item
    key, keys = table.schema.extract(item)
    return Target(table, key, keys), raw


def key_target(table: Table, key: pb.Item | None) -> Target:
    storage_key, keys = key_of(table, key if key is not None else pb.Item())
    return Target(table, storage_key, keys)


def key_of(table: Table, key: pb.Item) -> tuple[bytes, pb.Item]:
    """A key given on its own: its storage key and its attributes, normalised."""
    storage_key, keys = table.schema.check_key(key)
    normalize_item(keys)  # the storage key encodes numbers in their normal form already
    return storage_key, keys


def _start_key(table: Table, key: pb.Item | None) -> bytes | None:
    return None if key is None else key_of(table, key)[0]


def _old_or_none(options: WriteOptions) -> int:
    """ReturnValues of a put or delete, which DynamoDB limits to these two."""
    if options.return_values not in (pb.RETURN_VALUES_NONE, pb.ALL_OLD):
        raise ExpressionError("ReturnValues can only be ALL_OLD or NONE")
    return options.return_values


def _check_transaction_size(count: int) -> None:
    if not 1 <= count <= MAX_TRANSACT_ITEMS:
        raise ExpressionError(
            f"1 validation error detected: Value at 'transactItems' failed to satisfy "
            f"constraint: Member must have length between 1 and {MAX_TRANSACT_ITEMS} "
            f"(got {count})"
        )


def _transact_op(action: TransactWrite) -> Planned:
    options = action.options
    if options.return_values != pb.RETURN_VALUES_NONE:
        raise ExpressionError("ReturnValues are not supported in transactions: use NONE")
    guard = options.guard()
    if action.kind == "Put":
        return PutOp(item_target(action.table, action.item), action.item, guard)
    target = key_target(action.table, action.item)
    if action.kind == "Update":
        return UpdateOp(target, guard)
    if action.kind == "Delete":
        return DeleteOp(target, guard)
    if action.kind != "ConditionCheck":
        raise ValueError(f"unknown transaction action {action.kind!r}")
    expressions = options.expressions
    if options.expected_version is None and (expressions is None or not expressions.has_condition):
        raise ExpressionError("A ConditionCheck needs a ConditionExpression")
    return CheckOp(target, guard)


# ---------------------------------------------------------------- reads


def _projected(item: pb.Item, projection: Expressions | None) -> pb.Item:
    return item if projection is None else projection.project(item)


def _found(stored: pb.StoredItem | None, projection: Expressions | None) -> pb.GetItemResponse:
    if stored is None or stored.tombstone:
        return pb.GetItemResponse(found=False)
    item = _projected(stored.item, projection)
    return pb.GetItemResponse(found=True, item=item, version=stored.version)


def _count_only(options: ReadOptions) -> bool:
    """Whether Select asks for the count alone; refuse Select values that contradict the
    ProjectionExpression, as DynamoDB does."""
    select = options.select
    projected = options.expressions is not None and options.expressions.has_projection
    if select == pb.SPECIFIC_ATTRIBUTES and not projected:
        raise ExpressionError(
            "1 validation error detected: Must specify the AttributesToGet or "
            "ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES"
        )
    if select in _SELECT_NAMES and projected:
        raise ExpressionError(
            "1 validation error detected: Cannot specify the ProjectionExpression when "
            f"choosing to get {_SELECT_NAMES[select]}"
        )
    return select == pb.COUNT


Rows = Iterable[tuple[bytes, bytes]]


def _in_segment(rows: Rows, sch: schema.Schema, segment: int, total: int) -> Rows:
    """The rows of one parallel-scan segment (a partition belongs to exactly one)."""
    for key, value in rows:
        item = pb.StoredItem.FromString(value).item
        if query.in_segment(sch.partition_prefix(item.attributes[sch.pk_name]), segment, total):
            yield key, value


def _page(rows: Rows, sch: schema.Schema, options: ReadOptions, count_only: bool) -> Page:
    """Read up to Limit items or about 1 MB (tombstones count towards the size, not the
    Limit), then filter and project, as DynamoDB's Query and Scan do."""
    expressions = options.expressions
    limit = options.limit
    items: list[pb.Item] = []
    count = scanned = size = 0
    for _, value in rows:
        stored = pb.StoredItem.FromString(value)
        size += len(value)
        item = stored.item
        if not stored.tombstone:
            scanned += 1
            if expressions is None or expressions.filter_matches(item):
                count += 1
                if not count_only:
                    items.append(item if expressions is None else expressions.project(item))
            if limit and scanned >= limit:
                return Page(items, count, scanned, sch.key_of(item))
        if size >= MAX_PAGE_BYTES:
            return Page(items, count, scanned, sch.key_of(item))
    return Page(items, count, scanned, None)
