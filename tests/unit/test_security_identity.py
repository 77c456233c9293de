"""Peer identities: parsing meridian:// URIs, the region claim check, and what gRPC reports."""

from __future__ import annotations

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from meridian.security import certs, identity
from meridian.security.identity import (
    IdentityRefused,
    PeerIdentity,
    RefusalReason,
    check_region_claim,
    operator_identity,
    region_identity,
)
from tests.unit.security_support import Seen, echo_server, run, tls_channel, unary

CA = certs.new_ca("g1")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("meridian://g1/region/r1", PeerIdentity("g1", "region", "r1")),
        ("meridian://g.x_y-z/operator/alice", PeerIdentity("g.x_y-z", "operator", "alice")),
        ("meridian://g1/region/r1/", None),
        ("meridian://g1/client/r1", None),
        ("meridian://g1/region/", None),
        ("meridian://g1/region/..", None),
        ("meridian://g1/region/r 1", None),
        ("https://g1/region/r1", None),
        ("meridian://g1/region/r1?x=1", None),
        ("", None),
    ],
)
def test_parse_uri(uri: str, expected: PeerIdentity | None) -> None:
    assert identity.parse_uri(uri) == expected


def test_uri_round_trip_and_names() -> None:
    me = region_identity("g1", "r1")
    assert me.uri == "meridian://g1/region/r1"
    assert identity.parse_uri(me.uri) == me
    assert identity.server_name("g1", "r1") == "r1.g1.meridian"
    with pytest.raises(ValueError, match="region name 'r/1'"):
        region_identity("g1", "r/1")
    with pytest.raises(ValueError, match="group name ''"):
        operator_identity("", "alice")


R1 = region_identity("g1", "r1")


@pytest.mark.parametrize(
    ("peer", "claimed", "reason", "message"),
    [
        (R1, "r1", None, None),
        (None, "r1", RefusalReason.NO_IDENTITY, "presented no certificate"),
        (
            region_identity("g2", "r1"),
            "r1",
            RefusalReason.OTHER_GROUP,
            "certificate of another group: it is for region r1 of group g2",
        ),
        (
            operator_identity("g1", "r1"),
            "r1",
            RefusalReason.NOT_A_REGION,
            "certificate is for operator r1 of group g1, not for a region",
        ),
        (R1, "r2", RefusalReason.OTHER_REGION, "certificate is for region 'r1', not 'r2'"),
    ],
)
def test_check_region_claim(
    peer: PeerIdentity | None, claimed: str, reason: RefusalReason | None, message: str | None
) -> None:
    if reason is None:
        check_region_claim(peer, "g1", claimed)
        return
    with pytest.raises(IdentityRefused, match=message) as refused:
        check_region_claim(peer, "g1", claimed)
    assert refused.value.reason is reason


def test_from_certificate() -> None:
    region = certs.issue_region(CA, "g1", "r1", ["example.com"])
    assert identity.from_certificate(region.cert) == R1
    assert identity.from_certificate(certs.issue_operator(CA, "g1", "bob").cert) == (
        operator_identity("g1", "bob")
    )
    assert identity.from_certificate(CA.cert) is None  # no SAN at all


def _with_uris(*uris: str) -> x509.Certificate:
    """A certificate signed by CA whose SANs are exactly ``uris``."""
    leaf = certs.issue_operator(CA, "g1")
    names: list[x509.GeneralName] = [x509.UniformResourceIdentifier(u) for u in uris]
    names = names or [x509.DNSName("x.example")]
    builder = (
        x509.CertificateBuilder()
        .subject_name(leaf.cert.subject)
        .issuer_name(CA.cert.subject)
        .public_key(leaf.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(leaf.cert.not_valid_before_utc)
        .not_valid_after(leaf.cert.not_valid_after_utc)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
    )
    return builder.sign(CA.key, hashes.SHA256())


@pytest.mark.parametrize(
    ("uris", "expected"),
    [
        ((), None),
        (("https://example.com/",), None),
        (("meridian://g1/region/r1", "https://example.com/"), R1),
        (("meridian://g1/region/r1", "meridian://g1/region/r1"), R1),
        (("meridian://g1/region/r1", "meridian://g1/region/r2"), None),  # ambiguous
    ],
)
def test_from_certificate_uris(uris: tuple[str, ...], expected: PeerIdentity | None) -> None:
    assert identity.from_certificate(_with_uris(*uris)) == expected


@pytest.mark.parametrize(
    "context",
    [
        {},
        {"transport_security_type": [b"ssl"]},
        {"x509_pem_cert": [b"not a certificate"]},
        {"x509_pem_cert": []},
    ],
)
def test_from_auth_context_without_identity(context: dict[str, list[bytes]]) -> None:
    assert identity.from_auth_context(context) is None


def test_grpc_reports_the_client_certificate_under_mutual_tls() -> None:
    """A real grpc.aio server sees the client's region identity in its auth context."""
    server_pair = certs.issue_region(CA, "g1", "r1", loopback=True)
    client_pair = certs.issue_region(CA, "g1", "r2")
    seen = Seen()

    async def scenario() -> None:
        config = grpc.ssl_server_certificate_configuration(
            [(server_pair.key_pem(), server_pair.cert_pem())], CA.cert_pem()
        )
        creds = grpc.dynamic_ssl_server_credentials(config, lambda: None, True)
        async with echo_server(creds, seen) as port, tls_channel(port, CA, client_pair) as ch:
            assert await unary(ch) == b"ping"

    run(scenario)
    (auth,) = seen.auth
    assert auth["transport_security_type"] == [b"ssl"]
    assert identity.from_auth_context(auth) == region_identity("g1", "r2")
    check_region_claim(identity.from_auth_context(auth), "g1", "r2")
    with pytest.raises(IdentityRefused, match="not 'r3'"):
        check_region_claim(identity.from_auth_context(auth), "g1", "r3")


def test_grpc_reports_no_identity_without_a_client_certificate() -> None:
    server_pair = certs.issue_region(CA, "g1", "r1", loopback=True)
    seen = Seen()

    async def scenario() -> None:
        creds = grpc.ssl_server_credentials([(server_pair.key_pem(), server_pair.cert_pem())])
        async with echo_server(creds, seen) as port, tls_channel(port, CA) as channel:
            assert await unary(channel) == b"ping"
        async with (
            echo_server(None, seen) as port,
            grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel,
        ):
            assert await unary(channel) == b"ping"

    run(scenario)
    assert [identity.from_auth_context(a) for a in seen.auth] == [None, None]
    with pytest.raises(IdentityRefused) as refused:
        check_region_claim(identity.from_auth_context(seen.auth[0]), "g1", "r2")
    assert refused.value.reason is RefusalReason.NO_IDENTITY
