"""gRPC TLS credentials from PEM files: servers that reload them, clients that notice changes.

Server side, ``ReloadingServerCredentials`` builds grpcio's dynamic SSL credentials. gRPC
calls its fetcher before every new TLS handshake; the fetcher stats the files (a cheap
syscall per connection) and re-reads them only when one changed. A new pair is used only
if it parses and the key belongs to the certificate, so a rotation caught halfway (key
written, certificate not yet) keeps the current pair until the files agree. Connections
already open keep the certificate they were established with.

Client side, ``ClientCredentialsSource`` loads a CA bundle and an optional client pair into
channel credentials and tells when the files changed since; the caller then re-creates its
channels (gRPC channels cannot swap credentials).

A client connecting to a region sets the TLS target name to the region's synthetic DNS
name (``peer_channel_options``), so gRPC's host name check accepts only that region's
certificate, whatever address it dialled (an IP, a load balancer, a renamed host).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from meridian.security.identity import server_name

log = logging.getLogger(__name__)

TARGET_NAME_OVERRIDE = "grpc.ssl_target_name_override"

# What identifies a file's version without reading it: a rename changes the inode, an
# in-place rewrite the mtime, size or ctime.
Stamp = tuple[tuple[int, int, int, int], ...]


@dataclass(frozen=True)
class ServerTlsFiles:
    """A server's certificate (chain) and key, and the CAs its clients may come from."""

    cert: Path
    key: Path
    client_cas: tuple[Path, ...] = ()
    require_client_auth: bool = False

    def __post_init__(self) -> None:
        if self.require_client_auth and not self.client_cas:
            raise ValueError("requiring client certificates needs a client CA file")

    def paths(self) -> tuple[Path, ...]:
        return (self.cert, self.key, *self.client_cas)


@dataclass(frozen=True)
class ClientTlsFiles:
    """The CA a client trusts, and its own certificate and key for mutual TLS."""

    ca: Path
    cert: Path | None = None
    key: Path | None = None

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ValueError("a client certificate needs its key, and a key its certificate")

    def paths(self) -> tuple[Path, ...]:
        pair = (self.cert, self.key) if self.cert and self.key else ()
        return (self.ca, *pair)


def stamp(paths: Sequence[Path]) -> Stamp:
    """The versions of ``paths`` (OSError when one is missing)."""
    found = []
    for path in paths:
        st = os.stat(path)
        found.append((st.st_ino, st.st_mtime_ns, st.st_size, st.st_ctime_ns))
    return tuple(found)


def read_pair(cert_path: Path, key_path: Path) -> tuple[bytes, bytes, x509.Certificate]:
    """A PEM certificate chain and its unencrypted key; ValueError naming the file if not."""
    cert_pem = cert_path.read_bytes()
    key_pem = key_path.read_bytes()
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError as exc:
        raise ValueError(f"{cert_path}: not a PEM certificate ({exc})") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{key_path}: not an unencrypted PEM private key ({exc})") from None
    if key.public_key() != chain[0].public_key():
        raise ValueError(f"{key_path} is not the key of the certificate in {cert_path}")
    return cert_pem, key_pem, chain[0]


def read_ca(path: Path) -> bytes:
    """A PEM bundle of one or more CA certificates."""
    pem = path.read_bytes()
    try:
        x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise ValueError(f"{path}: not a PEM certificate bundle ({exc})") from None
    return pem


class ReloadingServerCredentials:
    """Server credentials whose certificate, key and client CA follow the files on disk.

    ``version`` counts the pairs loaded (1 after construction); ``last_error`` says why the
    files on disk are not in use, or is None when they are.
    """

    def __init__(self, files: ServerTlsFiles) -> None:
        self.files = files
        self._lock = threading.Lock()
        self._stamp = stamp(files.paths())
        self._config, self.serial = self._load()  # raises: a server must start with a pair
        self.version = 1
        self.last_error: str | None = None

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.dynamic_ssl_server_credentials(
            self._config, self._fetch, self.files.require_client_auth
        )

    def _load(self) -> tuple[grpc.ServerCertificateConfiguration, int]:
        cert_pem, key_pem, cert = read_pair(self.files.cert, self.files.key)
        roots = b"".join(read_ca(path) for path in self.files.client_cas) or None
        config = grpc.ssl_server_certificate_configuration([(key_pem, cert_pem)], roots)
        return config, cert.serial_number

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """Called by gRPC before each handshake: a new configuration, or None for no change."""
        try:
            with self._lock:
                return self._reload_if_changed()
        except Exception:  # raising here would fail the handshake
            log.exception("TLS certificate reload failed; keeping the current certificate")
            return None

    def _reload_if_changed(self) -> grpc.ServerCertificateConfiguration | None:
        try:
            current = stamp(self.files.paths())
        except OSError as exc:
            self._refuse(current=None, error=f"cannot read TLS files: {exc}")
            return None
        if current == self._stamp:
            return None
        try:
            config, serial = self._load()
        except (OSError, ValueError) as exc:
            self._refuse(current, str(exc))
            return None
        self._stamp, self._config, self.serial = current, config, serial
        self.version += 1
        self.last_error = None
        log.info("TLS certificate %s reloaded (serial %x)", self.files.cert, serial)
        return config

    def _refuse(self, current: Stamp | None, error: str) -> None:
        if error != self.last_error:
            log.warning("TLS files not used, keeping the current certificate: %s", error)
        self.last_error = error
        if current is not None:
            self._stamp = current  # read again only when the files change again


class ClientCredentialsSource:
    """Channel credentials from files, and whether the files changed since they were read."""

    def __init__(self, files: ClientTlsFiles) -> None:
        self.files = files
        self._stamp: Stamp | None = None

    def load(self) -> grpc.ChannelCredentials:
        """Fresh credentials from the files (ValueError or OSError naming a bad file)."""
        before = stamp(self.files.paths())
        ca = read_ca(self.files.ca)
        if self.files.cert is None or self.files.key is None:
            credentials = grpc.ssl_channel_credentials(root_certificates=ca)
        else:
            cert_pem, key_pem, _ = read_pair(self.files.cert, self.files.key)
            credentials = grpc.ssl_channel_credentials(ca, key_pem, cert_pem)
        self._stamp = before
        return credentials

    def changed(self) -> bool:
        """True when a file changed (or vanished) since the last ``load``."""
        try:
            return stamp(self.files.paths()) != self._stamp
        except OSError:
            return True


def peer_channel_options(group: str, region: str) -> list[tuple[str, str]]:
    """Channel options that make TLS accept only ``region``'s certificate as the server's."""
    return [(TARGET_NAME_OVERRIDE, server_name(group, region))]
