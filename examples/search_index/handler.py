"""A full-text search index of a table, kept in SQLite FTS5 by a trigger.

Every item of the table is indexed with its ``title`` attribute and the text of its other
string attributes; a REMOVE takes it out. The index remembers the version of the last
change applied to each key (a removal too), so a duplicate or an older record arriving
late changes nothing: replaying any part of the stream leaves the same index.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from examples.search_index.index import open_index, path

_db: sqlite3.Connection | None = None


def db() -> sqlite3.Connection:
    global _db
    if _db is None:
        _db = open_index(path())
    return _db


def key_text(keys: dict[str, Any]) -> str:
    """The item's key as stable text: the value alone for a single string key."""
    if len(keys) == 1:
        (value,) = keys.values()
        if "S" in value:
            return str(value["S"])
    return json.dumps(keys, sort_keys=True)


def texts(image: dict[str, Any], keys: dict[str, Any]) -> tuple[str, str]:
    title = image.get("title", {}).get("S", "")
    body = [
        value["S"]
        for name, value in sorted(image.items())
        if name != "title" and name not in keys and "S" in value
    ]
    return title, "\n".join(body)


def apply(connection: sqlite3.Connection, record: dict[str, Any]) -> None:
    stream = record["dynamodb"]
    doc_id = key_text(stream["Keys"])
    version = record["meridian"]["version"]
    incoming = (int(version["hlc"]), str(version["region"]))
    row = connection.execute("SELECT hlc, region FROM versions WHERE id = ?", (doc_id,)).fetchone()
    if row is not None and (int(row[0]), str(row[1])) >= incoming:
        return  # already applied, or older than what the index holds
    connection.execute("DELETE FROM docs WHERE id = ?", (doc_id,))
    removed = record["eventName"] == "REMOVE"
    if not removed:
        title, body = texts(stream.get("NewImage", {}), stream["Keys"])
        connection.execute(
            "INSERT INTO docs (id, title, body) VALUES (?, ?, ?)", (doc_id, title, body)
        )
    connection.execute(
        "INSERT INTO versions (id, hlc, region, deleted) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET hlc = excluded.hlc, region = excluded.region, "
        "deleted = excluded.deleted",
        (doc_id, incoming[0], incoming[1], int(removed)),
    )


def handle(event: dict[str, Any], context: Any = None) -> None:
    connection = db()
    connection.execute("BEGIN IMMEDIATE")
    try:
        for record in event["Records"]:
            apply(connection, record)
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
