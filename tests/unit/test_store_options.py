"""The memory options a node's store opens with (regionnode/store.py), as RocksDB recorded
them in the data directory's OPTIONS file."""

from __future__ import annotations

import pathlib

from regionnode.store import MEMTABLE_BYTES, MEMTABLES, Store


def recorded(path: pathlib.Path) -> dict[str, str]:
    newest = max(path.glob("OPTIONS-*"), key=lambda p: int(p.name.split("-")[1]))
    pairs = (line.strip().split("=", 1) for line in newest.read_text().splitlines())
    return {p[0]: p[1] for p in pairs if len(p) == 2}


def test_memtables_are_bounded(tmp_path: pathlib.Path) -> None:
    store = Store(tmp_path / "db", sync=False)
    try:
        options = recorded(tmp_path / "db")
    finally:
        store.close()
    assert int(options["write_buffer_size"]) == MEMTABLE_BYTES
    assert int(options["max_write_buffer_number"]) == MEMTABLES
    assert MEMTABLE_BYTES * MEMTABLES <= 64 << 20
