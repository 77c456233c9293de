"""The one error type of the expression engine, with DynamoDB's code and message."""

from __future__ import annotations

VALIDATION = "ValidationException"


class ExpressionError(Exception):
    """A request that DynamoDB refuses.

    ``code`` is DynamoDB's error code (machine-readable; callers branch on it, never on the
    message) and ``message`` its text, as close to DynamoDB's own as known. A condition that
    does not hold is not an error: evaluation returns False.
    """

    def __init__(self, message: str, code: str = VALIDATION) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# The name each expression parameter has in DynamoDB's messages ("Invalid <kind>: ...").
CONDITION = "ConditionExpression"
FILTER = "FilterExpression"
KEY_CONDITION = "KeyConditionExpression"
UPDATE = "UpdateExpression"
PROJECTION = "ProjectionExpression"


def invalid(kind: str, detail: str) -> ExpressionError:
    """The error DynamoDB gives for a bad expression: ``Invalid <kind>: <detail>``."""
    return ExpressionError(f"Invalid {kind}: {detail}")
