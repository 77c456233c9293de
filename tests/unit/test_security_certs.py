"""Certificates: what the CA and the leaves contain, files on disk, a group's layout."""

from __future__ import annotations

import ipaddress
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from meridian.security import certs
from meridian.security.certs import Validity
from meridian.security.identity import from_certificate as identity_of
from meridian.security.identity import operator_identity, region_identity

NOW = datetime.now(UTC).replace(microsecond=0)
CA = certs.new_ca("g1", validity=Validity(now=NOW))


def sans(cert: x509.Certificate) -> list[object]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [name.value for name in san]


def usages(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_ca_is_self_signed_for_its_group_and_lives_ten_years() -> None:
    assert certs.is_issued_by(CA.cert, CA.cert)
    assert certs.ca_group(CA.cert) == "g1"
    assert CA.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert CA.cert.not_valid_before_utc == NOW - certs.BACKDATE
    assert CA.cert.not_valid_after_utc == NOW + timedelta(days=3650)
    client_ca = certs.new_ca("g1", "client", Validity(now=NOW))
    assert "client CA" in client_ca.cert.subject.rfc4514_string()
    assert client_ca.cert.serial_number != CA.cert.serial_number


def test_region_certificate_names_its_identity_and_hosts() -> None:
    hosts = ["Node1.Example.com", "10.0.0.7", "[2001:db8::1]", "0.0.0.0", "10.0.0.7", "::"]
    leaf = certs.issue_region(CA, "g1", "r1", hosts, loopback=True, validity=Validity(now=NOW))
    assert sans(leaf.cert) == [
        "meridian://g1/region/r1",
        "r1.g1.meridian",
        "node1.example.com",
        ipaddress.ip_address("10.0.0.7"),
        ipaddress.ip_address("2001:db8::1"),
        "localhost",
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    assert identity_of(leaf.cert) == region_identity("g1", "r1")
    assert usages(leaf.cert) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    assert certs.is_issued_by(leaf.cert, CA.cert)
    assert not certs.is_issued_by(leaf.cert, certs.new_ca("g1").cert)
    assert leaf.cert.not_valid_after_utc == NOW + timedelta(days=365)
    assert not leaf.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_operator_certificate_only_connects() -> None:
    leaf = certs.issue_operator(CA, "g1", "alice")
    assert sans(leaf.cert) == ["meridian://g1/operator/alice"]
    assert identity_of(leaf.cert) == operator_identity("g1", "alice")
    assert usages(leaf.cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_explicit_validity() -> None:
    start = NOW + timedelta(days=1)
    end = NOW + timedelta(days=2)
    leaf = certs.issue_region(CA, "g1", "r1", validity=Validity(not_before=start, not_after=end))
    assert (leaf.cert.not_valid_before_utc, leaf.cert.not_valid_after_utc) == (start, end)
    short = certs.issue_operator(CA, "g1", validity=Validity(now=NOW, lifetime=timedelta(hours=2)))
    assert short.cert.not_valid_after_utc == NOW + timedelta(hours=2)


@pytest.mark.parametrize(
    ("validity", "message"),
    [
        (Validity(now=NOW, lifetime=timedelta(days=4000)), "would outlive its CA"),
        (Validity(not_before=NOW, not_after=NOW), "validity is empty"),
        (Validity(not_after=NOW.replace(tzinfo=None) + timedelta(days=1)), "has no time zone"),
    ],
)
def test_bad_validity_is_refused(validity: Validity, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        certs.issue_region(CA, "g1", "r1", validity=validity)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: certs.issue_region(CA, "g1", "r1", ["bad host!"]), "host 'bad host!'"),
        (lambda: certs.issue_region(CA, "g1", "r1", ["-x.com"]), "host '-x.com'"),
        (lambda: certs.issue_region(CA, "g/1", "r1"), "group name 'g/1'"),
        (lambda: certs.issue_region(CA, "g1", "r 1"), "region name 'r 1'"),
        (lambda: certs.issue_operator(CA, "g1", ""), "operator name ''"),
        (lambda: certs.new_ca("a b"), "group name 'a b'"),
    ],
)
def test_bad_names_are_refused(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_pairs_round_trip_through_files(tmp_path: Path) -> None:
    leaf = certs.issue_region(CA, "g1", "r1")
    cert, key = tmp_path / "r1.pem", tmp_path / "r1-key.pem"
    certs.write_issued(cert, key, leaf)
    assert (mode(cert), mode(key)) == (0o644, 0o600)
    loaded = certs.load_issued(cert, key)
    assert loaded.cert == leaf.cert
    assert loaded.key_pem() == leaf.key_pem()
    other = certs.issue_region(CA, "g1", "r2")
    (tmp_path / "r2-key.pem").write_bytes(other.key_pem())
    with pytest.raises(ValueError, match=r"r2-key\.pem is not the key of the certificate in"):
        certs.load_issued(cert, tmp_path / "r2-key.pem")
    with pytest.raises(ValueError, match="not a PEM certificate"):
        certs.load_issued(key, key)


def test_write_atomic_never_replaces_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "secret.pem"
    certs.write_atomic(path, b"one", 0o600)
    with pytest.raises(FileExistsError):
        certs.write_atomic(path, b"two", 0o600)
    assert path.read_bytes() == b"one"
    certs.write_atomic(path, b"three", 0o640, force=True)
    assert (path.read_bytes(), mode(path)) == (b"three", 0o640)
    assert [p.name for p in tmp_path.iterdir()] == ["secret.pem"]  # no temporary files left
    with pytest.raises(FileExistsError, match="pass force"):
        certs.write_issued(path, tmp_path / "new-key.pem", CA)
    assert not (tmp_path / "new-key.pem").exists()


REGIONS = {"r1": ["node1.example.com", "10.0.0.1"], "r2": ["10.0.0.2"]}


def layout_names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_group_layout_is_written_once_and_then_kept(tmp_path: Path) -> None:
    directory = tmp_path / "tls"
    report = certs.write_group_layout(directory, "g1", REGIONS)
    expected = ["ca-key.pem", "ca.pem", "operator-key.pem", "operator.pem"]
    expected += ["r1-key.pem", "r1.pem", "r2-key.pem", "r2.pem"]
    assert layout_names(directory) == expected
    assert sorted(p.name for p in report.written) == expected and report.kept == ()
    assert {p.name for p in directory.iterdir() if mode(p) == 0o600} == {
        n for n in expected if n.endswith("-key.pem")
    }
    layout = certs.Layout(directory)
    ca = certs.load_issued(*layout.ca)
    r1 = certs.load_issued(*layout.region("r1"))
    operator = certs.load_issued(*layout.operator)
    assert certs.is_issued_by(r1.cert, ca.cert) and certs.is_issued_by(operator.cert, ca.cert)
    assert identity_of(r1.cert) == region_identity("g1", "r1")
    assert "10.0.0.1" in [str(v) for v in sans(r1.cert)] and "localhost" in sans(r1.cert)
    before = {p.name: p.read_bytes() for p in directory.iterdir()}

    again = certs.write_group_layout(directory, "g1", REGIONS)
    assert again.written == () and sorted(p.name for p in again.kept) == expected
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before

    grown = certs.write_group_layout(directory, "g1", {**REGIONS, "r3": []})
    assert sorted(p.name for p in grown.written) == ["r3-key.pem", "r3.pem"]
    r3 = certs.load_issued(*layout.region("r3"))
    assert certs.is_issued_by(r3.cert, ca.cert)

    forced = certs.write_group_layout(directory, "g1", REGIONS, force=True)
    assert len(forced.written) == 8
    assert certs.load_certificate(layout.ca[0]).serial_number != ca.cert.serial_number


def test_group_layout_with_a_client_ca(tmp_path: Path) -> None:
    certs.write_group_layout(tmp_path, "g1", REGIONS, operator="alice", client_ca=True)
    layout = certs.Layout(tmp_path)
    client_ca = certs.load_issued(*layout.client_ca)
    operator = certs.load_issued(*layout.operator)
    assert certs.is_issued_by(operator.cert, certs.load_certificate(layout.ca[0]))
    assert not certs.is_issued_by(operator.cert, client_ca.cert)  # the client CA is for apps
    assert identity_of(operator.cert) == operator_identity("g1", "alice")


def _break(directory: Path, how: str) -> None:
    layout = certs.Layout(directory)
    if how == "half pair":
        layout.region("r1")[1].unlink()
    elif how == "other CA":
        other = certs.issue_region(certs.new_ca("g1"), "g1", "r1", REGIONS["r1"], loopback=True)
        certs.write_issued(*layout.region("r1"), other, force=True)
    elif how == "swapped":
        certs.write_issued(*layout.region("r1"), certs.load_issued(*layout.region("r2")), True)
    elif how == "no CA":
        for path in layout.ca:
            path.unlink()


@pytest.mark.parametrize(
    ("how", "group", "regions", "message"),
    [
        ("half pair", "g1", REGIONS, "r1.pem exists but .*r1-key.pem does not"),
        ("other CA", "g1", REGIONS, "r1.pem was not issued by the CA in this directory"),
        ("swapped", "g1", REGIONS, "r1.pem is not a certificate for region r1 of group g1"),
        ("no CA", "g1", REGIONS, "r1.pem was not issued by the CA in this directory"),
        ("", "g2", REGIONS, "ca.pem is not a CA of group 'g2'"),
        ("", "g1", {"r1": ["new.example.com"]}, "r1.pem does not name new.example.com"),
        ("", "g1", {"ca": []}, "region 'ca' cannot be stored .*: its file ca.pem is the ca file"),
        ("", "g1", {"ca-key": []}, "its file ca-key.pem is the ca file"),
        ("", "g1", {"operator": []}, "its file operator.pem is the operator file"),
        ("", "g1", {"r/1": []}, "region name 'r/1'"),
    ],
)
def test_group_layout_refuses_what_does_not_fit(
    tmp_path: Path, how: str, group: str, regions: dict[str, list[str]], message: str
) -> None:
    certs.write_group_layout(tmp_path, "g1", REGIONS)
    _break(tmp_path, how)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(ValueError, match=message):
        certs.write_group_layout(tmp_path, group, regions)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing written
