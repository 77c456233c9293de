"""The node's RocksDB store: the only module that talks to rocksdict.

Layout of the single key space (raw bytes):
  m:hlc                          clock high-water mark (8 bytes, big-endian)
  m:node_id                      this data directory's identity (uuid, text)
  m:table:<name>                 TableDescription (spec, stream id, creation time)
  m:catalog:<name>               TableDescription: the group-wide catalog entry (catalog.py)
  m:aside:<kept as>              SetAsideTable: data kept when another CreateTable won
  m:ckpt:<origin>\\0<table>       Checkpoint: the origin's sequence applied up to
  m:pin:<region>                 PeerPin: the node of a peer region this region links with
  m:peer:<region>                PeerProgress: a peer's checkpoints as it last reported them
  m:horizon:<peer>               RebuildHorizon: the peer fell behind a forced collection
  i<table>\\0<pk><sk>             StoredItem (item or tombstone with its version)
  s<table>\\0<seq:8 bytes BE>     StreamRecord (full images, whatever the view type)
  t<written_ms:8><item key>      index of tombstones by age, for collection (may be stale)
  x<table>\\0<expiry_s:8><item key>  index of items by TTL expiry, for the sweeper (may be stale)
  m:ttlidx:<table>               TTL attribute whose index covers the table's older items
Every write the node makes is one WriteBatch, so a crash keeps all of a write or none of it.
"""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import rocksdict

from meridian.model.schema import Schema
from meridian.pb import node_pb2 as pb

META_HLC = b"m:hlc"
META_NODE_ID = b"m:node_id"
META_TABLE = b"m:table:"
META_CKPT = b"m:ckpt:"
META_BOOTSTRAP = b"m:bootstrap"
META_PIN = b"m:pin:"
META_PEER = b"m:peer:"
META_HORIZON = b"m:horizon:"
META_CATALOG = b"m:catalog:"
META_ASIDE = b"m:aside:"


def stream_prefix(table: str) -> bytes:
    return b"s" + table.encode() + b"\x00"


def stream_key(table: str, seq: int) -> bytes:
    return stream_prefix(table) + seq.to_bytes(8, "big")


TOMBSTONES = b"t"


def tombstone_key(written_ms: int, item_key: bytes) -> bytes:
    return TOMBSTONES + written_ms.to_bytes(8, "big") + item_key


EXPIRIES = b"x"
META_TTL_INDEXED = b"m:ttlidx:"


def expiry_prefix(table: str) -> bytes:
    return EXPIRIES + table.encode() + b"\x00"


def expiry_key(table: str, expiry_s: int, item_key: bytes) -> bytes:
    return expiry_prefix(table) + expiry_s.to_bytes(8, "big") + item_key


def table_of(item_key: bytes) -> str:
    """The table name inside an item key (i<table>\\0...)."""
    return item_key[1 : item_key.index(b"\x00")].decode()


def checkpoint_key(origin: str, table: str) -> bytes:
    return META_CKPT + origin.encode() + b"\x00" + table.encode()


def peer_key(region: str) -> bytes:
    return META_PEER + region.encode()


def horizon_key(peer: str) -> bytes:
    return META_HORIZON + peer.encode()


# Memory of RocksDB (docs/performance.md, "Memory"): up to MEMTABLES memtables of
# MEMTABLE_BYTES each are held at once (the one taking writes, the one being flushed). The
# default, 64 MiB each, let a node's memtables alone reach 128 MiB under a write burst;
# smaller memtables flush more often into smaller files (a little more compaction work).
MEMTABLE_BYTES = 32 << 20
MEMTABLES = 2


def tune(options: rocksdict.Options) -> None:
    """The memory options of a store opened for writing."""
    options.set_write_buffer_size(MEMTABLE_BYTES)
    options.set_max_write_buffer_number(MEMTABLES)


@dataclass
class Table:
    """A table's schema and the in-memory positions of its stream."""

    schema: Schema
    description: pb.TableDescription
    head: int = 0  # newest sequence number written (0: none yet)
    trim: int = 1  # oldest sequence number still readable


class Store:
    def __init__(self, path: pathlib.Path, *, sync: bool, read_only: bool = False) -> None:
        self.path = path
        self.sync = sync
        options = rocksdict.Options(raw_mode=True)
        if read_only:
            access = rocksdict.AccessType.read_only()
            self.db = rocksdict.Rdict(str(path), options, access_type=access)
        else:
            path.mkdir(parents=True, exist_ok=True)
            options.create_if_missing(True)
            options.increase_parallelism(2)
            tune(options)
            self.db = rocksdict.Rdict(str(path), options)
        self._write_options = rocksdict.WriteOptions()
        self._write_options.sync = sync
        self.node_id = self._load_node_id()
        self.tables: dict[str, Table] = {}
        self._load_tables()
        raw = self.db.get(META_BOOTSTRAP)
        self.bootstrap = pb.BootstrapState.FromString(raw) if raw else pb.BootstrapState()
        self.peers: dict[str, pb.PeerProgress] = {}  # peer region -> its last report
        for _, value in self.scan_prefix(META_PEER):
            report = pb.PeerProgress.FromString(value)
            self.peers[report.region] = report
        self.horizons: dict[str, pb.RebuildHorizon] = {}  # peer region -> its horizon
        for _, value in self.scan_prefix(META_HORIZON):
            horizon = pb.RebuildHorizon.FromString(value)
            self.horizons[horizon.peer] = horizon

    def copy_to(self, path: pathlib.Path) -> None:
        """A consistent point-in-time copy (hard links where possible), for snapshots."""
        rocksdict.Checkpoint(self.db).create_checkpoint(str(path))

    def has_data(self) -> bool:
        return any(self.first_key(prefix) is not None for prefix in (b"i", META_CKPT))

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------ meta

    def _load_node_id(self) -> str:
        raw = self.db.get(META_NODE_ID)
        if raw is not None:
            return bytes(raw).decode()
        node_id = uuid.uuid4().hex
        self.db.put(META_NODE_ID, node_id.encode(), self._write_options)
        return node_id

    def clock_high_water(self) -> int:
        raw = self.db.get(META_HLC)
        return int.from_bytes(raw, "big") if raw else 0

    def _load_tables(self) -> None:
        for key, value in self.scan_prefix(META_TABLE):
            desc = pb.TableDescription.FromString(value)
            table = Table(Schema(desc.spec), desc)
            table.head, table.trim = self._stream_bounds(desc.spec.name)
            self.tables[desc.spec.name] = table
            del key

    def _stream_bounds(self, name: str) -> tuple[int, int]:
        prefix = stream_prefix(name)
        first = self.first_key(prefix)
        last = self.last_key(prefix)
        if first is None or last is None:
            return 0, 1
        return int.from_bytes(last[len(prefix) :], "big"), int.from_bytes(
            first[len(prefix) :], "big"
        )

    def checkpoints(self) -> list[pb.Checkpoint]:
        return [pb.Checkpoint.FromString(v) for _, v in self.scan_prefix(META_CKPT)]

    def checkpoint(self, origin: str, table: str) -> pb.Checkpoint | None:
        raw = self.db.get(checkpoint_key(origin, table))
        return pb.Checkpoint.FromString(raw) if raw else None

    def pins(self) -> list[pb.PeerPin]:
        return [pb.PeerPin.FromString(v) for _, v in self.scan_prefix(META_PIN)]

    def pin(self, region: str) -> pb.PeerPin | None:
        raw = self.db.get(META_PIN + region.encode())
        return pb.PeerPin.FromString(raw) if raw else None

    def put_pin(self, pin: pb.PeerPin) -> None:
        """Store a peer's pin, always synced: losing it in a crash would let any node of
        that region link again as if for the first time."""
        options = rocksdict.WriteOptions()
        options.sync = True
        self.db.put(META_PIN + pin.region.encode(), pin.SerializeToString(), options)

    # ------------------------------------------------------------ reads

    def get(self, key: bytes) -> bytes | None:
        raw = self.db.get(key)
        return None if raw is None else bytes(raw)

    def get_many(self, keys: list[bytes]) -> list[bytes | None]:
        return list(self.db.get(keys))  # type: ignore[arg-type]

    def get_item(self, key: bytes) -> pb.StoredItem | None:
        raw = self.db.get(key)
        return None if raw is None else pb.StoredItem.FromString(raw)

    def scan_prefix(
        self, prefix: bytes, start: bytes | None = None
    ) -> Iterator[tuple[bytes, bytes]]:
        """Ascending (key, value) pairs under a prefix, from `start` (inclusive) if given."""
        it = self.db.iter()
        it.seek(start or prefix)
        while it.valid():
            key = it.key()
            if not key.startswith(prefix):
                return
            yield key, it.value()
            it.next()

    def scan_range(
        self, low: bytes, high: bytes, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """(key, value) pairs with low <= key < high, ascending or descending."""
        it = self.db.iter()
        if reverse:
            it.seek_for_prev(high)
            if it.valid() and it.key() >= high:
                it.prev()
            while it.valid() and it.key() >= low:
                yield it.key(), it.value()
                it.prev()
            return
        it.seek(low)
        while it.valid() and it.key() < high:
            yield it.key(), it.value()
            it.next()

    def first_key(self, prefix: bytes) -> bytes | None:
        it = self.db.iter()
        it.seek(prefix)
        return it.key() if it.valid() and it.key().startswith(prefix) else None

    def last_key(self, prefix: bytes) -> bytes | None:
        it = self.db.iter()
        it.seek_for_prev(prefix + b"\xff" * 9)
        return it.key() if it.valid() and it.key().startswith(prefix) else None

    def read_stream(self, table: str, after: int, limit: int) -> list[bytes]:
        """Raw stream records with sequence numbers above `after`, oldest first."""
        out = []
        for _, value in self.scan_prefix(stream_prefix(table), stream_key(table, after + 1)):
            out.append(value)
            if len(out) >= limit:
                break
        return out

    def size_bytes(self) -> int:
        return int(self.db.property_int_value("rocksdb.estimate-live-data-size") or 0) + int(
            self.db.property_int_value("rocksdb.cur-size-all-mem-tables") or 0
        )

    # ------------------------------------------------------------ writes

    def new_batch(self) -> rocksdict.WriteBatch:
        return rocksdict.WriteBatch(raw_mode=True)

    def write(self, batch: rocksdict.WriteBatch) -> None:
        """Commit a batch atomically; with `sync` the call returns after fsync."""
        self.db.write(batch, self._write_options)

    def put_table(self, table: Table) -> None:
        name = table.description.spec.name
        self.db.put(
            META_TABLE + name.encode(), table.description.SerializeToString(), self._write_options
        )
        self.tables[name] = table

    def forget_ttl_index(self, name: str) -> None:
        """The table's items must be indexed again before the sweeper relies on the index
        (time to live was changed): its existing entries stay, checked when visited."""
        self.db.delete(META_TTL_INDEXED + name.encode(), self._write_options)

    def drop_table(self, name: str) -> None:
        """Remove a table with its items, stream and checkpoints."""
        batch = self.new_batch()
        for prefix in (b"i" + name.encode() + b"\x00", stream_prefix(name), expiry_prefix(name)):
            batch.delete_range(prefix, prefix[:-1] + b"\x01")
        batch.delete(META_TABLE + name.encode())
        batch.delete(META_TTL_INDEXED + name.encode())
        for ckpt in self.checkpoints():
            if ckpt.table == name:
                batch.delete(checkpoint_key(ckpt.origin, name))
        self.write(batch)
        del self.tables[name]

    def catalog_entries(self) -> dict[str, pb.TableDescription]:
        entries = (pb.TableDescription.FromString(v) for _, v in self.scan_prefix(META_CATALOG))
        return {entry.spec.name: entry for entry in entries}

    def put_catalog_entry(self, entry: pb.TableDescription) -> None:
        """Store a catalog entry, always synced: it is what the region acknowledged."""
        options = rocksdict.WriteOptions()
        options.sync = True
        key = META_CATALOG + entry.spec.name.encode()
        self.db.put(key, entry.SerializeToString(), options)

    def set_aside_tables(self) -> list[pb.SetAsideTable]:
        return [pb.SetAsideTable.FromString(v) for _, v in self.scan_prefix(META_ASIDE)]

    def trim_stream(self, table: str, below: int) -> None:
        """Delete stream records with sequence numbers below `below`."""
        batch = self.new_batch()
        batch.delete_range(stream_key(table, 0), stream_key(table, below))
        self.write(batch)
