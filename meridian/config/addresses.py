"""HOST:PORT addresses: parsing, and listen addresses that would clash on one machine."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from meridian.config.errors import ConfigError
from meridian.config.values import show_value

_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"


_HOSTNAME_RE = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?")


@dataclass(frozen=True, slots=True)
class Address:
    host: str  # IPv6 addresses are kept without brackets
    port: int

    def __str__(self) -> str:
        if ":" in self.host:
            return f"[{self.host}]:{self.port}"
        return f"{self.host}:{self.port}"


def parse_address(value: Any, path: str) -> Address:
    """``HOST:PORT`` where HOST is an IPv4 address, a host name or ``[IPv6]``."""
    if not isinstance(value, str) or ":" not in value:
        raise ConfigError(f"{path}: expected HOST:PORT, got {show_value(value)}")
    host, _, port_text = value.rpartition(":")
    if not port_text.isascii() or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigError(f"{path}: expected a port from 1 to 65535, got {show_value(value)}")
    parsed = host_value(host)
    if parsed is None:
        raise ConfigError(
            f"{path}: expected HOST:PORT with HOST an IPv4 address, a host name or [IPv6], "
            f"got {show_value(value)}"
        )
    return Address(parsed, int(port_text))


def host_value(text: str) -> str | None:
    """Canonical host (IPv6 without brackets, names lower-cased) or None when malformed."""
    if text.startswith("[") and text.endswith("]"):
        try:
            return str(ipaddress.IPv6Address(text[1:-1]))
        except ValueError:
            return None
    if re.fullmatch(r"[0-9.]+", text):
        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            return None
    if len(text) <= 253 and _HOSTNAME_RE.fullmatch(text):
        return text.lower()
    return None


def refuse_clashes(addresses: Iterable[tuple[str, Address, str]]) -> None:
    """Refuse two listen addresses with the same host and port.

    Each address comes with its YAML path and a note explaining a defaulted value ("" if none).
    """
    seen: list[tuple[str, Address, str]] = []
    for label, address, note in addresses:
        for other, other_address, other_note in seen:
            if other_address.port == address.port and same_machine(
                address.host, other_address.host
            ):
                raise ConfigError(
                    f"{label}: port {address.port} already used by {other}{note or other_note}"
                )
        seen.append((label, address, note))


WILDCARD_HOSTS = frozenset(("0.0.0.0", "::"))


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def same_machine(a: str, b: str) -> bool:
    """Whether two canonical listen hosts certainly bind on one machine: the same host,
    localhost and 127.0.0.1 (or ::1), or a wildcard and a loopback address (a group file
    that names a loopback address runs on one machine)."""
    if a == b:
        return True
    if {a, b} <= {"localhost", "127.0.0.1", "::1"}:
        return True
    return (a in WILDCARD_HOSTS and is_loopback_host(b)) or (
        b in WILDCARD_HOSTS and is_loopback_host(a)
    )
