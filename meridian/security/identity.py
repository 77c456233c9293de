"""Who a certificate speaks for, and whether that matches what a peer claims.

A Meridian certificate names its holder in one URI subject alternative name::

    meridian://<group>/region/<region>      a region (its node and replicator)
    meridian://<group>/operator/<name>      an operator's admin tools

TLS verification proves the certificate was issued by a trusted CA; this module reads the
identity out of it and checks it against the claim a peer makes (its group and region in a
handshake). A certificate of a trusted CA issued for region A never passes as region B.

Region certificates also carry a synthetic DNS name, ``<region>.<group>.meridian``
(``server_name``): a client that connects to region B with that name as the TLS target name
makes gRPC's own host name check refuse any server certificate that is not region B's.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509

SCHEME = "meridian"
SERVER_NAME_SUFFIX = "meridian"

# The group file's name rule; every such name is also safe in a URI path and a DNS label.
_NAME_RE = re.compile(r"[A-Za-z0-9_.-]+")
_URI_RE = re.compile(r"meridian://([^/]+)/(region|operator)/([^/]+)")

Kind = Literal["region", "operator"]


class RefusalReason(enum.StrEnum):
    """Machine-readable reasons a peer's certificate does not back its claim."""

    NO_IDENTITY = "NO_IDENTITY"
    OTHER_GROUP = "OTHER_GROUP"
    NOT_A_REGION = "NOT_A_REGION"
    OTHER_REGION = "OTHER_REGION"
    NOT_AN_OPERATOR = "NOT_AN_OPERATOR"


class IdentityRefused(Exception):
    """A peer whose certificate does not back its claim; ``reason`` is for machines."""

    def __init__(self, reason: RefusalReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class PeerIdentity:
    """The holder of a certificate: a region or an operator of one group."""

    group: str
    kind: Kind
    name: str

    def __post_init__(self) -> None:
        check_name(self.group, "group")
        check_name(self.name, self.kind)

    @property
    def uri(self) -> str:
        return f"{SCHEME}://{self.group}/{self.kind}/{self.name}"

    def __str__(self) -> str:
        return f"{self.kind} {self.name} of group {self.group}"


def check_name(value: str, what: str) -> str:
    """A group, region or operator name that fits a URI path and a DNS label."""
    if not _NAME_RE.fullmatch(value) or value in (".", ".."):
        raise ValueError(f"{what} name {value!r}: expected letters, digits, '_', '.' or '-'")
    return value


def region_identity(group: str, region: str) -> PeerIdentity:
    return PeerIdentity(group, "region", region)


def operator_identity(group: str, name: str) -> PeerIdentity:
    return PeerIdentity(group, "operator", name)


def server_name(group: str, region: str) -> str:
    """The synthetic DNS name every certificate of ``region`` carries (a TLS target name)."""
    return f"{check_name(region, 'region')}.{check_name(group, 'group')}.{SERVER_NAME_SUFFIX}"


def parse_uri(uri: str) -> PeerIdentity | None:
    """The identity a ``meridian://`` URI names, or None for any other string."""
    match = _URI_RE.fullmatch(uri)
    if match is None:
        return None
    group, kind, name = match.groups()
    try:
        return PeerIdentity(group, "region" if kind == "region" else "operator", name)
    except ValueError:
        return None


def from_certificate(cert: x509.Certificate) -> PeerIdentity | None:
    """The one identity in a certificate's URI SANs; None if it has none, or several."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    uris = [u for u in san.get_values_for_type(x509.UniformResourceIdentifier)]
    found = {i for i in map(parse_uri, uris) if i is not None}
    return found.pop() if len(found) == 1 else None


def from_auth_context(auth_context: Mapping[str, Sequence[bytes]]) -> PeerIdentity | None:
    """The identity of a gRPC peer, from ``ServicerContext.auth_context()``.

    gRPC puts the verified peer certificate under ``x509_pem_cert`` when the peer presented
    one (mutual TLS); plaintext and one-sided TLS connections have none.
    """
    pems = auth_context.get("x509_pem_cert") or []
    if len(pems) != 1:
        return None
    try:
        cert = x509.load_pem_x509_certificate(pems[0])
    except ValueError:
        return None
    return from_certificate(cert)


def check_region_claim(identity: PeerIdentity | None, group: str, claimed_region: str) -> None:
    """Refuse a peer claiming region ``claimed_region`` of ``group`` unless its certificate
    says so; raises IdentityRefused with the reason."""
    if identity is None:
        raise IdentityRefused(
            RefusalReason.NO_IDENTITY,
            f"the peer claiming region {claimed_region!r} presented no certificate with a "
            f"meridian:// identity",
        )
    if identity.group != group:
        raise IdentityRefused(
            RefusalReason.OTHER_GROUP,
            f"certificate of another group: it is for {identity}, not of group {group!r}",
        )
    if identity.kind != "region":
        raise IdentityRefused(
            RefusalReason.NOT_A_REGION,
            f"certificate is for {identity}, not for a region (claimed {claimed_region!r})",
        )
    if identity.name != claimed_region:
        raise IdentityRefused(
            RefusalReason.OTHER_REGION,
            f"certificate is for region {identity.name!r}, not {claimed_region!r}",
        )


def check_operator(identity: PeerIdentity | None, group: str) -> None:
    """Refuse a caller of an operator's command unless its certificate is an operator's of
    ``group``; raises IdentityRefused with the reason."""
    if identity is None:
        raise IdentityRefused(
            RefusalReason.NO_IDENTITY, "an operator's command needs an operator's certificate"
        )
    if identity.group != group:
        raise IdentityRefused(
            RefusalReason.OTHER_GROUP,
            f"certificate of another group: it is for {identity}, not of group {group!r}",
        )
    if identity.kind != "operator":
        raise IdentityRefused(
            RefusalReason.NOT_AN_OPERATOR,
            f"certificate is for {identity}: this command needs an operator's certificate",
        )
