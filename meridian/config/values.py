"""Checks of single values shared by every section: fields of a mapping, names, choices,
integers and durations. Each raises ConfigError with the YAML path of the value."""

from __future__ import annotations

import json
import os
import pathlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from meridian.config.errors import ConfigError

_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


_DURATION_RE = re.compile(r"(\d+)(ms|s|m|h|d)")


_NAME_RE = re.compile(r"[A-Za-z0-9_.-]+")


_SHOW_MAX = 80  # longest string value quoted in full in an error message


_DURATION_HINT = "a duration like 500ms, 5s, 10m, 24h, 7d or whole seconds"


def show_value(value: Any) -> str:
    """Render a YAML value in a message: strings quoted, null/true/false as YAML writes them."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if len(value) > _SHOW_MAX:
            return json.dumps(value[:_SHOW_MAX], ensure_ascii=False)[:-1] + '..." (truncated)'
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


def key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def mapping_fields(
    value: Any, path: str, required: Iterable[str], optional: Iterable[str] = ()
) -> dict[str, Any]:
    """Check that ``value`` is a mapping with exactly the allowed keys; return it."""
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: expected a mapping, got {show_value(value)}")
    required = tuple(required)
    refuse_unknown_keys(value, path, {*required, *optional})
    for key in required:
        if key not in value:
            raise ConfigError(f"{key_path(path, key)}: required")
    return value


def refuse_unknown_keys(value: dict[Any, Any], where: str, allowed: Iterable[str]) -> None:
    expected = sorted(allowed)
    for key in value:
        if key not in expected:
            raise ConfigError(
                f"{where}: unknown key {show_value(key)} (expected one of: {', '.join(expected)})"
            )


def list_value(value: Any, path: str, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{path}: expected a list of {what}s, got {show_value(value)}")
    if not value:
        raise ConfigError(f"{path}: expected at least one {what}")
    return value


def name_value(value: Any, path: str, low: int, high: int) -> str:
    if isinstance(value, str) and low <= len(value) <= high and _NAME_RE.fullmatch(value):
        return value
    raise ConfigError(
        f'{path}: expected {low} to {high} letters, digits, "_", "." or "-", '
        f"got {show_value(value)}"
    )


def choice_value(value: Any, path: str, choices: Mapping[str, Any] | Iterable[str]) -> str:
    options = list(choices)
    if isinstance(value, str) and value in options:
        return value
    raise ConfigError(f"{path}: expected one of {', '.join(options)}, got {show_value(value)}")


def int_value(value: Any, path: str, low: int, high: int) -> int:
    # bool is a subclass of int in Python; YAML `true` must not pass as 1.
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    raise ConfigError(f"{path}: expected an integer from {low} to {high}, got {show_value(value)}")


def parse_duration_ms(value: Any) -> int | None:
    """``500ms``/``5s``/``10m``/``24h``/``7d`` or a bare integer of seconds -> milliseconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value * 1000 if value >= 0 else None
    if isinstance(value, str):
        match = _DURATION_RE.fullmatch(value)
        if match:
            return int(match.group(1)) * _MS[match.group(2)]
    return None


def format_duration(ms: int) -> str:
    if ms == 0:
        return "0s"
    for unit in ("d", "h", "m", "s"):
        if ms % _MS[unit] == 0:
            return f"{ms // _MS[unit]}{unit}"
    return f"{ms}ms"


def duration_ms_value(value: Any, path: str, low_ms: int, high_ms: int) -> int:
    ms = parse_duration_ms(value)
    if ms is None:
        raise ConfigError(f"{path}: expected {_DURATION_HINT}, got {show_value(value)}")
    if not low_ms <= ms <= high_ms:
        raise ConfigError(
            f"{path}: expected a duration from {format_duration(low_ms)} "
            f"to {format_duration(high_ms)}, got {show_value(value)}"
        )
    return ms


def duration_s_value(value: Any, path: str, low_s: int, high_s: int) -> int:
    ms = duration_ms_value(value, path, low_s * 1000, high_s * 1000)
    if ms % 1000:
        raise ConfigError(f"{path}: expected whole seconds, got {show_value(value)}")
    return ms // 1000


def bool_value(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(f"{path}: expected true or false, got {show_value(value)}")


def directory_value(value: Any, path: str) -> pathlib.Path:
    """A directory path; a relative one is resolved against the current working directory."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path}: expected a directory path, got {show_value(value)}")
    return pathlib.Path(os.path.abspath(os.path.expanduser(value)))
