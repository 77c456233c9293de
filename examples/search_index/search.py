"""``python -m examples.search_index.search QUERY``: search the index the trigger keeps.

QUERY is FTS5 syntax (words, "a phrase", prefix*, AND / OR / NOT). The index file comes
from ``--db`` or ``$SEARCH_INDEX_DB``. Prints the best matches, one per line (``--json``:
JSON lines with id, title, snippet and rank).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from collections.abc import Sequence
from typing import Any

from examples.search_index.index import open_index, path


def search(db: sqlite3.Connection, query: str, limit: int = 10) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT id, title, snippet(docs, 2, '[', ']', '...', 8), bm25(docs) AS rank "
        "FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT ?",
        (query, limit),
    ).fetchall()
    return [{"id": r[0], "title": r[1], "snippet": r[2], "rank": round(r[3], 4)} for r in rows]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.search_index.search")
    parser.add_argument("query", help='FTS5 query, e.g. "replication lag" or repl*')
    parser.add_argument("--db", help="index file (default: $SEARCH_INDEX_DB)")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="JSON lines")
    args = parser.parse_args(argv)
    file = path(args.db)
    if not os.path.exists(file):
        print(f"error: no index at {file} (is the trigger running?)", file=sys.stderr)
        return 1
    try:
        hits = search(open_index(file), args.query, args.limit)
    except sqlite3.OperationalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for hit in hits:
        print(json.dumps(hit) if args.json else f"{hit['id']}\t{hit['title']}\t{hit['snippet']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
