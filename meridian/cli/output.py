"""What the `meridian` command prints: JSON documents and lines, and aligned text tables.

Everything here but `emit` is pure: values in, text or JSON-ready objects out. Items are
shown in plain JSON (numbers exact, binary as ``{"$b": base64}``, sets as ``{"$set": [...]}``)
or in DynamoDB JSON (``typed``); their attributes are sorted by name so output is stable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from meridian.model.render import item_json, version_json
from meridian.pb import node_pb2 as pb
from meridian.wire.oneline import one_line

# ---------------------------------------------------------------- JSON


def write_result_json(
    result: pb.WriteResult, typed: bool = False, with_attributes: bool = False
) -> dict[str, Any]:
    """A PutItem/DeleteItem/UpdateItem result; ``attributes`` only when values were asked for."""
    out: dict[str, Any] = {"version": version_json(result.version), "changed": result.changed}
    if with_attributes:
        out["attributes"] = (
            item_json(result.attributes, typed) if result.HasField("attributes") else None
        )
    return out


# ---------------------------------------------------------------- tables


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return one_line(str(value))


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def render_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Columns aligned with two spaces between them; numbers right-aligned, the rest left.

    ``None`` shows as ``-``; a cell's text is one line (see `one_line`). Every row must have
    one cell per header. The result ends
    without a newline and has no trailing spaces.
    """
    body = [list(row) for row in rows]
    for index, row in enumerate(body):
        if len(row) != len(headers):
            raise ValueError(f"row {index} has {len(row)} cells, expected {len(headers)}")
    texts = [[_cell(value) for value in row] for row in body]
    widths = [len(header) for header in headers]
    for row_text in texts:
        widths = [max(width, len(text)) for width, text in zip(widths, row_text, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row, row_text in zip(body, texts, strict=True):
        cells = [
            text.rjust(width) if _numeric(value) else text.ljust(width)
            for value, text, width in zip(row, row_text, widths, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# ---------------------------------------------------------------- printing


def emit(text: str) -> None:
    """Print on stdout at once, so a reader of a pipe sees each line as it is made."""
    print(text, flush=True)
