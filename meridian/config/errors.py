"""The error of a group file that cannot be used."""

from __future__ import annotations


class ConfigError(Exception):
    """A group file that cannot be used; the message starts with the YAML path (or file)."""
