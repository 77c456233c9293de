"""Exit codes of the `meridian` command, and the errors that carry them to `main`."""

from __future__ import annotations

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_CONFIG = 0, 1, 2, 3
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """A failure to report on stderr as ``error: <message>``, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


class UsageError(CliError):
    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)
