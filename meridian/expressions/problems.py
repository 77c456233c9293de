"""Collect what is wrong with an expression and report the problem DynamoDB reports first.

DynamoDB checks an expression in passes (syntax, function names, reserved words,
placeholders, operand types ...), so when an expression has several problems the one it
names depends on the kind of problem, not on where it stands in the text. The builder
records the first problem of each category; ``raise_first`` picks by category order.
"""

from __future__ import annotations

from meridian.expressions.errors import invalid

# Category names, in the order DynamoDB reports them (from observation of its messages).
CONDITION_ORDER = (
    "parens",
    "function_name",
    "misused",
    "reserved",
    "placeholder",
    "operands",
    "distinct",
    "type",
    "depth",
)
UPDATE_ORDER = (
    "reserved",
    "function_name",
    "misused",
    "section",
    "placeholder",
    "overlap",
    "conflict",
    "operands",
    "type",
    "depth",
)
PROJECTION_ORDER = ("reserved", "placeholder", "overlap", "conflict", "depth")


class Problems:
    def __init__(self, kind: str, order: tuple[str, ...]) -> None:
        self.kind = kind
        self._order = order
        self._found: dict[str, str] = {}

    def add(self, category: str, message: str) -> None:
        """Record `message` unless a problem of this category was recorded already."""
        assert category in self._order, category
        self._found.setdefault(category, message)

    def raise_first(self) -> None:
        """Raise ExpressionError for the most important recorded problem, if any."""
        for category in self._order:
            if category in self._found:
                raise invalid(self.kind, self._found[category])
