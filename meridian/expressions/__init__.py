"""DynamoDB's expression language over Meridian's items: one implementation for every door.

The pipeline, per request:

1. ``compile_request`` (or ``compile_legacy`` for Expected, AttributeUpdates,
   KeyConditions, QueryFilter / ScanFilter and AttributesToGet) checks the placeholder
   maps and values, then compiles each expression: ``grammar`` parses it (lark, LALR),
   ``build`` turns the tree into the immutable nodes of ``nodes`` while checking what
   DynamoDB checks before reading any item (reserved words, functions, placeholders,
   operand types, overlapping paths), and ``evaluate`` turns conditions into closures.
   Compiled templates are cached by text, names, value types and key schema, so a repeated
   expression costs a dictionary lookup; the request's values are bound to the template.
2. The node evaluates the resulting ``Expressions`` as often as it needs, on stored items:
   ``condition_holds`` / ``filter_matches`` (a bool: a failed condition is no error),
   ``apply_update`` (``update``: the new item and what UPDATED_OLD / UPDATED_NEW return),
   ``project`` (``project``) and ``key_condition`` (``keys``: partition value and sort-key
   condition for a storage-key range).

Every refusal is an ``ExpressionError`` carrying DynamoDB's error code and message.
"""

from meridian.expressions.errors import ExpressionError
from meridian.expressions.keys import KeyCondition, KeySchema, SortCondition
from meridian.expressions.legacy import check_not_mixed, compile_legacy
from meridian.expressions.request import Expressions, UpdateResult, compile_request

__all__ = [
    "ExpressionError",
    "Expressions",
    "KeyCondition",
    "KeySchema",
    "SortCondition",
    "UpdateResult",
    "check_not_mixed",
    "compile_legacy",
    "compile_request",
]
