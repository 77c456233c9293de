"""A group's certificate authority and the certificates it issues, in memory and on disk.

Keys are ECDSA P-256 and signatures ECDSA-SHA256: every TLS stack accepts them, gRPC's
BoringSSL included, for TLS 1.2 and 1.3, as server and as client certificates. (Ed25519
certificates fail grpcio's handshake with NO_COMMON_SIGNATURE_ALGORITHMS.)

- The group CA (10 years by default) signs region and operator certificates; an optional
  client CA is for the certificates of applications, when the client door asks for them.
- A region certificate (1 year by default) serves and connects: its SANs are the URI
  ``meridian://<group>/region/<region>``, the synthetic DNS name
  ``<region>.<group>.meridian`` and the host names and IPs the caller gives (the region's
  listen and advertise hosts; ``localhost``, 127.0.0.1 and ::1 with ``loopback``).
- An operator certificate only connects: URI ``meridian://<group>/operator/<name>``.

Validity starts an hour before ``now`` (clocks of other machines may lag) unless given.

Files: a certificate and its key are PEM files, keys PKCS#8 with mode 0600. Every file is
written whole to a temporary name, synced and renamed; an existing file is never replaced
unless ``force`` is given. ``write_group_layout`` writes a whole group's directory::

    ca.pem  ca-key.pem                 the group CA
    client-ca.pem  client-ca-key.pem   the client CA (only with client_ca=True)
    <region>.pem  <region>-key.pem     one pair per region
    operator.pem  operator-key.pem     the operator's admin tools
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from meridian.security.identity import (
    PeerIdentity,
    check_name,
    from_certificate,
    operator_identity,
    region_identity,
    server_name,
)

CA_LIFETIME = timedelta(days=3650)
LEAF_LIFETIME = timedelta(days=365)
BACKDATE = timedelta(hours=1)
ORGANIZATION = "meridian"
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME_RE = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")

PrivateKey = ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key."""

    cert: x509.Certificate
    key: PrivateKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


@dataclass(frozen=True)
class Validity:
    """When a certificate is valid: defaults relative to ``now``, or explicit bounds."""

    now: datetime | None = None
    lifetime: timedelta | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None

    def window(self, default_lifetime: timedelta) -> tuple[datetime, datetime]:
        now = self.now or datetime.now(UTC)
        start = self.not_before or now - BACKDATE
        end = self.not_after or now + (self.lifetime or default_lifetime)
        for moment in (start, end):
            if moment.tzinfo is None:
                raise ValueError(f"validity bound {moment} has no time zone; use UTC")
        if start >= end:
            raise ValueError(f"certificate validity is empty: {start} is not before {end}")
        return start, end


# --------------------------------------------------------------------------- issuing


def new_ca(
    group: str,
    purpose: Literal["group", "client"] = "group",
    validity: Validity = Validity(),
) -> Issued:
    """A self-signed CA for ``group`` (``purpose`` "client" for a separate client CA)."""
    check_name(group, "group")
    start, end = validity.window(CA_LIFETIME)
    key = ec.generate_private_key(ec.SECP256R1())
    label = "CA" if purpose == "group" else "client CA"
    name = _subject(f"meridian {group} {label}"[:64], group)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def issue_region(
    ca: Issued,
    group: str,
    region: str,
    hosts: Iterable[str] = (),
    loopback: bool = False,
    validity: Validity = Validity(),
) -> Issued:
    """A certificate for ``region``: serves its doors and connects to its peers."""
    identity = region_identity(group, region)
    names: list[x509.GeneralName] = [
        x509.UniformResourceIdentifier(identity.uri),
        x509.DNSName(server_name(group, region)),
    ]
    names += host_names([*hosts, *(LOOPBACK_HOSTS if loopback else ())])
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    return _issue_leaf(ca, identity, names, usages, validity)


def issue_operator(
    ca: Issued, group: str, name: str = "operator", validity: Validity = Validity()
) -> Issued:
    """A client certificate for an operator's admin tools."""
    identity = operator_identity(group, name)
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(identity.uri)]
    return _issue_leaf(ca, identity, names, [ExtendedKeyUsageOID.CLIENT_AUTH], validity)


def host_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    """DNS and IP SANs for host names and addresses, without duplicates.

    ``[IPv6]`` brackets are accepted; unspecified addresses (0.0.0.0, ::) name no host and
    are skipped, so listen addresses can be passed as they are.
    """
    found: list[x509.GeneralName] = []
    for host in hosts:
        text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        entry: x509.GeneralName
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            if len(text) > 253 or not _HOSTNAME_RE.fullmatch(text.rstrip(".")):
                raise ValueError(f"host {host!r}: expected a host name or an IP address") from None
            entry = x509.DNSName(text.rstrip(".").lower())
        else:
            if address.is_unspecified:
                continue
            entry = x509.IPAddress(address)
        if entry not in found:
            found.append(entry)
    return found


def _issue_leaf(
    ca: Issued,
    identity: PeerIdentity,
    names: Sequence[x509.GeneralName],
    usages: Sequence[x509.ObjectIdentifier],
    validity: Validity,
) -> Issued:
    start, end = validity.window(LEAF_LIFETIME)
    start = max(start, ca.cert.not_valid_before_utc)
    if end > ca.cert.not_valid_after_utc:
        raise ValueError(
            f"the certificate for {identity} would outlive its CA, which expires "
            f"{ca.cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC: renew the CA first"
        )
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    ca_ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(_subject(identity.name[:64], identity.group))
        .issuer_name(ca.cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
        .add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )
    return Issued(cert, key)


def _subject(common_name: str, group: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, group[:64]),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def ca_group(cert: x509.Certificate) -> str | None:
    """The group a CA made by ``new_ca`` belongs to (None for other certificates)."""
    units = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    orgs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    if len(units) != 1 or [o.value for o in orgs] != [ORGANIZATION]:
        return None
    value = units[0].value
    return value if isinstance(value, str) else None


def is_issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


# --------------------------------------------------------------------------- files


def load_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError as exc:
        raise ValueError(f"{path}: not a PEM certificate ({exc})") from None


def load_issued(cert_path: Path, key_path: Path) -> Issued:
    """A certificate and its key from PEM files; refuses a key of another certificate."""
    cert = load_certificate(cert_path)
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{key_path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{key_path}: expected an EC private key, got {type(key).__name__}")
    if key.public_key() != cert.public_key():
        raise ValueError(f"{key_path} is not the key of the certificate in {cert_path}")
    return Issued(cert, key)


def write_atomic(path: Path, data: bytes, mode: int, force: bool = False) -> None:
    """Write ``path`` whole or not at all, with ``mode``; an existing file stays unless ``force``.

    Raises FileExistsError when ``path`` exists and ``force`` is false.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if force:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if path exists, even when it appeared just now
    finally:
        tmp.unlink(missing_ok=True)
    _sync_directory(path.parent)


def write_issued(cert_path: Path, key_path: Path, issued: Issued, force: bool = False) -> None:
    """Write a key (mode 0600) then its certificate (mode 0644)."""
    if not force:
        for path in (cert_path, key_path):
            if path.exists():
                raise FileExistsError(f"{path} exists already; pass force to replace it")
    write_atomic(key_path, issued.key_pem(), 0o600, force)
    write_atomic(cert_path, issued.cert_pem(), 0o644, force)


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- a group's layout


@dataclass(frozen=True)
class Layout:
    """Where a group's certificates and keys live in one directory."""

    directory: Path

    def pair(self, stem: str) -> tuple[Path, Path]:
        return self.directory / f"{stem}.pem", self.directory / f"{stem}-key.pem"

    @property
    def ca(self) -> tuple[Path, Path]:
        return self.pair("ca")

    @property
    def client_ca(self) -> tuple[Path, Path]:
        return self.pair("client-ca")

    def region(self, name: str) -> tuple[Path, Path]:
        return self.pair(check_name(name, "region"))

    @property
    def operator(self) -> tuple[Path, Path]:
        return self.pair("operator")


@dataclass(frozen=True)
class LayoutReport:
    written: tuple[Path, ...]
    kept: tuple[Path, ...]


def write_group_layout(
    directory: Path,
    group: str,
    regions: Mapping[str, Sequence[str]],
    operator: str = "operator",
    loopback: bool = True,
    client_ca: bool = False,
    force: bool = False,
    ca_validity: Validity = Validity(),
    leaf_validity: Validity = Validity(),
) -> LayoutReport:
    """Create what is missing of a group's certificates (``regions``: name -> its hosts).

    Existing pairs are kept after checking that they belong together, to this group and its
    CA, and cover the hosts asked for; ``force`` replaces everything, the CAs included.
    Everything is issued and checked before the first file is written.
    """
    check_name(group, "group")
    check_name(operator, "operator")
    layout = Layout(directory)
    pairs = _layout_pairs(layout, regions, client_ca)
    found = {} if force else _load_present(pairs)
    new: dict[str, Issued] = {}

    def get(stem: str, make: Callable[[], Issued]) -> Issued:
        if stem not in found:
            new[stem] = make()
        return found.get(stem) or new[stem]

    ca = get("ca", lambda: new_ca(group, "group", ca_validity))
    _check_ca(found, "ca", group, pairs)
    if client_ca:
        get("client-ca", lambda: new_ca(group, "client", ca_validity))
        _check_ca(found, "client-ca", group, pairs)
    for region, hosts in regions.items():
        wanted = region_identity(group, region)
        if region in found:
            _check_leaf(found[region], wanted, ca, pairs[region][0])
            _check_hosts(found[region], hosts, loopback, pairs[region][0])
        else:
            new[region] = issue_region(ca, group, region, hosts, loopback, leaf_validity)
    if "operator" in found:
        wanted = operator_identity(group, operator)
        _check_leaf(found["operator"], wanted, ca, pairs["operator"][0])
    else:
        new["operator"] = issue_operator(ca, group, operator, leaf_validity)
    directory.mkdir(parents=True, exist_ok=True)
    for stem, issued in new.items():
        write_issued(*pairs[stem], issued, force)
    written = tuple(p for stem in new for p in pairs[stem])
    kept = tuple(p for stem in found for p in pairs[stem])
    return LayoutReport(written, kept)


def _layout_pairs(
    layout: Layout, regions: Iterable[str], client_ca: bool
) -> dict[str, tuple[Path, Path]]:
    """Stem -> (cert, key) paths; refuses regions whose files would be another's."""
    pairs = {"ca": layout.ca}
    if client_ca:
        pairs["client-ca"] = layout.client_ca
    pairs["operator"] = layout.operator
    for region in regions:
        cert, key = layout.region(region)
        taken = {p.name: stem for stem, pair in pairs.items() for p in pair}
        for path in (cert, key):
            if path.name in taken:
                raise ValueError(
                    f"region {region!r} cannot be stored in {layout.directory}: its file "
                    f"{path.name} is the {taken[path.name]} file; rename the region"
                )
        pairs[region] = (cert, key)
    return pairs


def _load_present(pairs: Mapping[str, tuple[Path, Path]]) -> dict[str, Issued]:
    found = {}
    for stem, (cert, key) in pairs.items():
        if cert.exists() and key.exists():
            found[stem] = load_issued(cert, key)
        elif cert.exists() or key.exists():
            present, missing = (cert, key) if cert.exists() else (key, cert)
            raise ValueError(
                f"{present} exists but {missing} does not: restore it, remove {present}, "
                f"or pass force to re-create everything"
            )
    return found


def _check_ca(
    found: Mapping[str, Issued], stem: str, group: str, pairs: Mapping[str, tuple[Path, Path]]
) -> None:
    if stem not in found:
        return
    cert = found[stem].cert
    if ca_group(cert) != group or not _is_ca(cert):
        raise ValueError(f"{pairs[stem][0]} is not a CA of group {group!r}")


def _check_leaf(issued: Issued, wanted: PeerIdentity, ca: Issued, path: Path) -> None:
    if from_certificate(issued.cert) != wanted:
        raise ValueError(f"{path} is not a certificate for {wanted}")
    if not is_issued_by(issued.cert, ca.cert):
        raise ValueError(
            f"{path} was not issued by the CA in this directory; remove it to re-issue it, "
            f"or pass force to re-create everything"
        )


def _check_hosts(issued: Issued, hosts: Iterable[str], loopback: bool, path: Path) -> None:
    san = issued.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    missing = [
        n for n in host_names([*hosts, *(LOOPBACK_HOSTS if loopback else ())]) if n not in san
    ]
    if missing:
        shown = ", ".join(str(n.value) for n in missing)
        raise ValueError(f"{path} does not name {shown}; remove it to re-issue it")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False
