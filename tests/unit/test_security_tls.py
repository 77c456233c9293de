"""Real TLS on loopback: mutual TLS, refusals, region names, certificate reload from disk."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from meridian.security import certs, identity, tls
from meridian.security.tls import (
    ClientCredentialsSource,
    ClientTlsFiles,
    ReloadingServerCredentials,
    ServerTlsFiles,
)
from tests.unit.security_support import (
    Seen,
    echo_server,
    run,
    server_certificate,
    tls_channel,
    unary,
    write_pair,
)

CA = certs.new_ca("g1")
OTHER_CA = certs.new_ca("g1")  # same group name, another key: trusted by no one here
R1 = certs.issue_region(CA, "g1", "r1", loopback=True)
R2 = certs.issue_region(CA, "g1", "r2", loopback=True)
Code = grpc.StatusCode


def server_files(tmp_path: Path, pair: certs.Issued = R1, mutual: bool = True) -> ServerTlsFiles:
    cert, key = write_pair(tmp_path, "server", pair)
    ca = tmp_path / "ca.pem"
    certs.write_atomic(ca, CA.cert_pem(), 0o644, force=True)
    return ServerTlsFiles(cert, key, (ca,), require_client_auth=mutual)


async def refused(channel: grpc.aio.Channel) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await unary(channel)
    return failed.value.code()


def test_mutual_tls_works_and_the_server_sees_the_region(tmp_path: Path) -> None:
    seen = Seen()
    source = ReloadingServerCredentials(server_files(tmp_path))

    async def scenario() -> None:
        async with echo_server(source.credentials(), seen) as port:
            async with tls_channel(port, CA, R2) as channel:
                assert await unary(channel) == b"ping"
            async with tls_channel(port, CA, R2, host="localhost") as channel:
                assert await unary(channel) == b"ping"

    run(scenario)
    assert [identity.from_auth_context(a) for a in seen.auth] == [
        identity.region_identity("g1", "r2")
    ] * 2


def test_the_target_name_admits_only_the_named_region(tmp_path: Path) -> None:
    """Dialling region r2 reaches r1's server: the TLS host name check refuses it."""
    source = ReloadingServerCredentials(server_files(tmp_path))

    async def scenario() -> None:
        async with echo_server(source.credentials()) as port:
            options = tls.peer_channel_options("g1", "r1")
            async with tls_channel(port, CA, R2, options) as channel:
                assert await unary(channel) == b"ping"
            for group, region in [("g1", "r2"), ("g2", "r1")]:
                options = tls.peer_channel_options(group, region)
                async with tls_channel(port, CA, R2, options) as channel:
                    assert await refused(channel) == Code.UNAVAILABLE

    run(scenario)


def test_plaintext_and_missing_or_foreign_certificates_are_refused(tmp_path: Path) -> None:
    source = ReloadingServerCredentials(server_files(tmp_path))
    foreign_client = certs.issue_region(OTHER_CA, "g1", "r2", loopback=True)

    async def scenario() -> None:
        async with echo_server(source.credentials()) as port:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                assert await refused(channel) == Code.UNAVAILABLE
            async with tls_channel(port, CA) as channel:  # no client certificate
                assert await refused(channel) == Code.UNAVAILABLE
            async with tls_channel(port, CA, foreign_client) as channel:
                assert await refused(channel) == Code.UNAVAILABLE
            async with tls_channel(port, OTHER_CA, R2) as channel:  # server not trusted
                assert await refused(channel) == Code.UNAVAILABLE
            async with tls_channel(port, CA, R2) as channel:  # and the door still works
                assert await unary(channel) == b"ping"

    run(scenario)


def test_a_door_without_mutual_tls_takes_clients_without_certificates(tmp_path: Path) -> None:
    seen = Seen()
    source = ReloadingServerCredentials(server_files(tmp_path, mutual=False))

    async def scenario() -> None:
        async with echo_server(source.credentials(), seen) as port:
            async with tls_channel(port, CA) as channel:
                assert await unary(channel) == b"ping"
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                assert await refused(channel) == Code.UNAVAILABLE

    run(scenario)
    assert [identity.from_auth_context(a) for a in seen.auth] == [None]


def test_server_certificate_rotation_on_disk_needs_no_restart(tmp_path: Path) -> None:
    files = server_files(tmp_path)
    source = ReloadingServerCredentials(files)
    client_cert, client_key = write_pair(tmp_path, "client", R2)
    probe_files = (files.client_cas[0], client_cert, client_key)
    renewed = certs.issue_region(CA, "g1", "r1", loopback=True)
    stray = certs.issue_region(CA, "g1", "r9", loopback=True)

    async def probe(port: int) -> int:
        found = await asyncio.to_thread(server_certificate, port, *probe_files)
        return found.serial_number

    async def scenario() -> None:
        async with (
            echo_server(source.credentials()) as port,
            tls_channel(port, CA, R2) as old_channel,
        ):
            assert await unary(old_channel) == b"ping"
            assert await probe(port) == R1.cert.serial_number

            # Half a rotation: a new key without its certificate is not used.
            certs.write_atomic(files.key, stray.key_pem(), 0o600, force=True)
            assert await probe(port) == R1.cert.serial_number
            assert source.last_error is not None and "is not the key" in source.last_error
            assert source.version == 1

            certs.write_issued(files.cert, files.key, renewed, force=True)
            assert await probe(port) == renewed.cert.serial_number
            assert (source.version, source.last_error) == (2, None)
            async with tls_channel(port, CA, R2) as new_channel:
                assert await unary(new_channel) == b"ping"
            assert await unary(old_channel) == b"ping"  # open connections carry on
            assert await probe(port) == renewed.cert.serial_number
            assert source.version == 2

    run(scenario)
    assert source.serial == renewed.cert.serial_number


def test_client_ca_bundle_rotation(tmp_path: Path) -> None:
    """Trusting old and new CA at once lets clients move to the new CA one by one."""
    files = server_files(tmp_path)
    source = ReloadingServerCredentials(files)
    new_ca = certs.new_ca("g1")
    moved_client = certs.issue_region(new_ca, "g1", "r2")
    client_ca = files.client_cas[0]

    async def scenario() -> None:
        async with echo_server(source.credentials()) as port:
            async with tls_channel(port, CA, moved_client) as channel:
                assert await refused(channel) == Code.UNAVAILABLE
            bundle = CA.cert_pem() + new_ca.cert_pem()
            certs.write_atomic(client_ca, bundle, 0o644, force=True)
            for client in (moved_client, R2):
                async with tls_channel(port, CA, client) as channel:
                    assert await unary(channel) == b"ping"

    run(scenario)


def test_server_files_must_be_a_pair_from_the_start(tmp_path: Path) -> None:
    files = server_files(tmp_path)
    certs.write_atomic(files.key, R2.key_pem(), 0o600, force=True)
    with pytest.raises(ValueError, match=r"server-key\.pem is not the key of the certificate"):
        ReloadingServerCredentials(files)
    certs.write_atomic(files.cert, b"garbage", 0o644, force=True)
    with pytest.raises(ValueError, match=r"server\.pem: not a PEM certificate"):
        ReloadingServerCredentials(files)
    with pytest.raises(ValueError, match="needs a client CA"):
        ServerTlsFiles(files.cert, files.key, (), require_client_auth=True)


def test_client_credentials_tell_when_their_files_changed(tmp_path: Path) -> None:
    cert, key = write_pair(tmp_path, "client", R2)
    ca = tmp_path / "ca.pem"
    certs.write_atomic(ca, CA.cert_pem(), 0o644)
    source = ClientCredentialsSource(ClientTlsFiles(ca, cert, key))
    assert source.changed()  # never loaded
    source.load()
    assert not source.changed()
    certs.write_issued(cert, key, certs.issue_region(CA, "g1", "r2"), force=True)
    assert source.changed()
    source.load()
    assert not source.changed()
    key.unlink()
    assert source.changed()
    with pytest.raises(FileNotFoundError):
        source.load()
    certs.write_atomic(key, R1.key_pem(), 0o600)
    with pytest.raises(ValueError, match="is not the key of the certificate"):
        source.load()
    with pytest.raises(ValueError, match="needs its key"):
        ClientTlsFiles(ca, cert, None)


def test_client_credentials_connect(tmp_path: Path) -> None:
    source = ReloadingServerCredentials(server_files(tmp_path))
    cert, key = write_pair(tmp_path, "client", R2)
    client = ClientCredentialsSource(ClientTlsFiles(source.files.client_cas[0], cert, key))

    async def scenario() -> None:
        async with echo_server(source.credentials()) as port:
            options = tls.peer_channel_options("g1", "r1")
            target = f"127.0.0.1:{port}"
            async with grpc.aio.secure_channel(target, client.load(), options) as channel:
                assert await unary(channel) == b"ping"

    run(scenario)
