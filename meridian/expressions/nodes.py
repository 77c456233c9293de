"""The abstract syntax of expressions: small immutable nodes.

Document paths hold resolved attribute names (``#name`` placeholders already replaced) and
list indexes; ``:value`` placeholders stay symbolic (:class:`Value`) and are looked up at
evaluation, so one compiled expression serves every request that repeats its text.
"""

from __future__ import annotations

from dataclasses import dataclass

PathElement = str | int


@dataclass(frozen=True, slots=True)
class Path:
    """A document path: attribute names (str) and list indexes (int), at least one name."""

    elements: tuple[PathElement, ...]

    def __str__(self) -> str:
        """DynamoDB's spelling in messages: ``[a, b, [2]]``."""
        parts = (f"[{e}]" if isinstance(e, int) else e for e in self.elements)
        return f"[{', '.join(parts)}]"


@dataclass(frozen=True, slots=True)
class Value:
    """An ExpressionAttributeValues placeholder such as ``:v``."""

    name: str


@dataclass(frozen=True, slots=True)
class Call:
    """A function call: ``size(a)``, ``begins_with(a, :p)``, ``if_not_exists(a, :v)`` ..."""

    name: str
    args: tuple[Operand, ...]


Operand = Path | Value | Call


# ---------------------------------------------------------------- conditions


@dataclass(frozen=True, slots=True)
class Compare:
    """``left <op> right`` with op one of = <> < <= > >=."""

    op: str
    left: Operand
    right: Operand


@dataclass(frozen=True, slots=True)
class Between:
    subject: Operand
    low: Operand
    high: Operand


@dataclass(frozen=True, slots=True)
class In:
    subject: Operand
    choices: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class And:
    left: Condition
    right: Condition


@dataclass(frozen=True, slots=True)
class Or:
    left: Condition
    right: Condition


@dataclass(frozen=True, slots=True)
class Not:
    operand: Condition


Condition = Compare | Between | In | And | Or | Not | Call


# ---------------------------------------------------------------- updates


@dataclass(frozen=True, slots=True)
class Arith:
    """``left + right`` or ``left - right`` on numbers (the value of a SET action)."""

    op: str
    left: Operand
    right: Operand


@dataclass(frozen=True, slots=True)
class SetAction:
    path: Path
    value: Operand | Arith


@dataclass(frozen=True, slots=True)
class RemoveAction:
    path: Path


@dataclass(frozen=True, slots=True)
class AddAction:
    path: Path
    value: Value


@dataclass(frozen=True, slots=True)
class DeleteAction:
    path: Path
    value: Value


Action = SetAction | RemoveAction | AddAction | DeleteAction


@dataclass(frozen=True, slots=True)
class Update:
    """The actions of an UpdateExpression, in the order written."""

    actions: tuple[Action, ...]
    # The message for an operand of the wrong type at run time (AttributeUpdates words it
    # differently from UpdateExpression).
    type_error: str = "An operand in the update expression has an incorrect data type"

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(action.path for action in self.actions)
