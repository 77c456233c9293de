"""The SQLite FTS5 index shared by the trigger (writes) and the search command (reads)."""

from __future__ import annotations

import os
import sqlite3

SCHEMA = """
CREATE VIRTUAL TABLE IF NOT EXISTS docs USING fts5(id UNINDEXED, title, body);
CREATE TABLE IF NOT EXISTS versions (
    id TEXT PRIMARY KEY,   -- the item's key
    hlc INTEGER NOT NULL,  -- version of the last change applied (clock, then region)
    region TEXT NOT NULL,
    deleted INTEGER NOT NULL
);
"""


def path(explicit: str | None = None) -> str:
    return explicit or os.environ.get("SEARCH_INDEX_DB", "search.db")


def open_index(file: str) -> sqlite3.Connection:
    directory = os.path.dirname(os.path.abspath(file))
    os.makedirs(directory, exist_ok=True)
    db = sqlite3.connect(file, timeout=30, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    return db
