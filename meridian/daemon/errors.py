"""The error that stops a process before it serves."""


class StartupError(Exception):
    """A process cannot start; the message says what to fix (exit code 3)."""
