"""The security sections: `tls` (a group CA, an optional CA for clients, the operator's pair),
each region's own certificate and key, `auth` (the access keys' file), and `insecure`.

Without a `tls` section every listen address must be a loopback address, where plaintext
cannot leave the machine, unless the file says `insecure: true` (each daemon then logs a
warning at startup). Paths are resolved like data directories: against the working
directory. Whether the files exist is checked when a process starts, so that
`meridian certs` can create them from the same file.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from meridian.config.addresses import Address, is_loopback_host
from meridian.config.errors import ConfigError
from meridian.config.values import directory_value, mapping_fields, name_value, show_value


@dataclass(frozen=True, slots=True)
class CertPair:
    cert: pathlib.Path
    key: pathlib.Path


@dataclass(frozen=True, slots=True)
class TlsConfig:
    ca: pathlib.Path  # the group's CA: region certificates, operators
    client_ca: pathlib.Path | None = None  # clients of the client door must present one of its
    operator: CertPair | None = None  # what the CLI presents to replicators


@dataclass(frozen=True, slots=True)
class AuthConfig:
    credentials: pathlib.Path  # the access keys (meridian keys create)


@dataclass(frozen=True, slots=True)
class BasicAuth:
    username: str
    password_file: pathlib.Path


def file_value(value: Any, path: str) -> pathlib.Path:
    """A file path, resolved against the working directory."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path}: expected a file path, got {show_value(value)}")
    return directory_value(value, path)


def cert_pair(value: Any, path: str) -> CertPair:
    fields = mapping_fields(value, path, ("cert", "key"))
    return CertPair(
        file_value(fields["cert"], f"{path}.cert"), file_value(fields["key"], f"{path}.key")
    )


def tls_section(value: Any) -> TlsConfig | None:
    if value is None:
        return None
    fields = mapping_fields(value, "tls", ("ca",), ("client_ca", "operator"))
    client_ca = fields.get("client_ca")
    operator = fields.get("operator")
    return TlsConfig(
        ca=file_value(fields["ca"], "tls.ca"),
        client_ca=None if client_ca is None else file_value(client_ca, "tls.client_ca"),
        operator=None if operator is None else cert_pair(operator, "tls.operator"),
    )


def auth_section(value: Any) -> AuthConfig | None:
    if value is None:
        return None
    fields = mapping_fields(value, "auth", ("credentials",))
    return AuthConfig(file_value(fields["credentials"], "auth.credentials"))


def basic_auth(value: Any, path: str) -> BasicAuth:
    fields = mapping_fields(value, path, ("username", "password_file"))
    return BasicAuth(
        name_value(fields["username"], f"{path}.username", 1, 64),
        file_value(fields["password_file"], f"{path}.password_file"),
    )


def check_transport(
    tls: TlsConfig | None,
    insecure: bool,
    region_tls: Iterable[tuple[int, CertPair | None]],
    listens: Iterable[tuple[str, Address, str]],
) -> None:
    """Every region has a certificate when the group has a `tls` section, none without; and
    without one, plaintext only on loopback addresses unless `insecure: true`."""
    for index, pair in region_tls:
        if tls is not None and pair is None:
            raise ConfigError(
                f"regions[{index}].tls: required (cert and key) because the group has a tls section"
            )
        if tls is None and pair is not None:
            raise ConfigError(f"regions[{index}].tls: needs the group's tls section (its ca)")
    if tls is not None or insecure:
        return
    for label, address, _ in listens:
        if not is_loopback_host(address.host):
            raise ConfigError(
                f"{label}: {address} is not a loopback address, and without a tls section "
                f"traffic would be plaintext; add a tls section (`meridian certs` makes the "
                f"certificates), or set insecure: true to allow plaintext"
            )
