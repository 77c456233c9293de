"""The secure setup a new user gets from `make run`: `meridian certs`, `meridian keys init`
and `meridian run` on a group with TLS on every door and access keys required, used as the
banner says: write in one region, read in another, status and verify, and the refusals."""

from __future__ import annotations

import json
import pathlib
import urllib.request
from collections.abc import Iterator

import pytest

from meridian.cli.supervisor import status_url
from meridian.config import load
from tests.e2e.helpers import MeridianRun, json_of, run_cli, secure_group

pytestmark = pytest.mark.e2e


@pytest.fixture
def secure(tmp_path: pathlib.Path) -> Iterator[tuple[pathlib.Path, dict[str, str]]]:
    made = secure_group(tmp_path, ("us-east", "eu-west"))
    config = made.config
    env = {"MERIDIAN_ACCESS_KEY_ID": made.key_id, "MERIDIAN_SECRET_ACCESS_KEY": made.secret}
    run = MeridianRun(config, tmp_path / "run.out", tmp_path / "logs").start()
    try:
        banner = run.wait_banner()
        assert "security: TLS on every door" in banner, banner
        assert f"export MERIDIAN_ACCESS_KEY_ID={made.key_id}" in banner
        yield config, env
    finally:
        run.stop()


def test_write_in_one_region_read_in_another_over_tls_with_an_access_key(
    secure: tuple[pathlib.Path, dict[str, str]],
) -> None:
    config, env = secure
    item = '{"pk": "secure", "sk": "1", "n": 7}'
    put = run_cli("put", "--config", config, "--region", "us-east", item, env=env)
    assert put.returncode == 0, put.stderr
    got = None
    for _ in range(100):
        read = run_cli(
            "get", "--config", config, "--region", "eu-west", '{"pk":"secure","sk":"1"}', env=env
        )
        assert read.returncode == 0, read.stderr
        got = json_of(read.stdout)
        if got is not None:
            break
    assert got == {"pk": "secure", "sk": "1", "n": 7}
    status = run_cli("status", "--config", config, "--json")  # the operator's certificate
    assert status.returncode == 0, status.stdout + status.stderr
    verify = run_cli("verify", "--config", config, env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # us-east's status page reaches eu-west's replicator over mutual TLS, as its region
    group = load(config)
    url = status_url(group, group.region("us-east")) + "?format=json"
    with urllib.request.urlopen(url, timeout=10) as response:
        page = json.loads(response.read())
    assert [(r["region"], r["state"]) for r in page["regions"]] == [
        ("us-east", "ACTIVE"),
        ("eu-west", "ACTIVE"),
    ]
    assert {(x["source"], x["target"], x["state"]) for x in page["links"]} == {
        ("us-east", "eu-west", "STREAMING"),
        ("eu-west", "us-east", "STREAMING"),
    }


def test_clients_without_a_valid_key_or_the_ca_are_refused(
    secure: tuple[pathlib.Path, dict[str, str]],
) -> None:
    config, env = secure
    doc_endpoint = _endpoint(config)
    ca = str(config.parent / "certs" / "ca.pem")
    base = ["put", "--endpoint", doc_endpoint, "--table", "orders", '{"pk": "x", "sk": "1"}']
    no_key = run_cli(*base, "--ca", ca)
    assert no_key.returncode == 1 and "refused the call" in no_key.stderr, no_key.stderr
    plaintext = run_cli(*base, env=env)  # plaintext to the TLS port
    assert plaintext.returncode == 1 and "cannot reach node" in plaintext.stderr
    read_only = run_cli("keys", "create", "--config", config, "--permission", "read-only", "--json")
    ro = json_of(read_only.stdout)
    ro_env = {
        "MERIDIAN_ACCESS_KEY_ID": ro["access_key_id"],
        "MERIDIAN_SECRET_ACCESS_KEY": ro["secret_access_key"],
    }
    refused = None
    for _ in range(50):  # the node re-reads its credentials file within a second or so
        refused = run_cli(*base, "--ca", ca, env=ro_env)
        if "read-only" in refused.stderr:
            break
    assert refused is not None and refused.returncode == 1, refused
    assert "read-only" in refused.stderr
    scan = run_cli("scan", "--config", config, "--region", "us-east", env=env)
    assert scan.returncode == 0 and scan.stdout.strip() == "", scan.stdout  # nothing written
    # a key limited to a table created at runtime (not in the group file)
    where = ("--config", config, "--region", "us-east")
    made = run_cli("table", "create", "carts", *where, "--partition-key", "id:S", env=env)
    assert made.returncode == 0, made.stderr
    limited = run_cli("keys", "create", "--config", config, "--table", "carts", "--json")
    assert limited.returncode == 0 and "not in the group file" in limited.stderr, limited
    carts_key = json_of(limited.stdout)
    carts_env = {
        "MERIDIAN_ACCESS_KEY_ID": carts_key["access_key_id"],
        "MERIDIAN_SECRET_ACCESS_KEY": carts_key["secret_access_key"],
    }
    cart = ("put", *where, "--table", "carts", '{"id": "c1"}')
    written = None
    for _ in range(50):  # until the node has re-read its credentials file
        written = run_cli(*cart, env=carts_env)
        if written.returncode == 0:
            break
    assert written is not None and written.returncode == 0, written
    other = run_cli("put", *where, '{"pk": "x", "sk": "1"}', env=carts_env)
    assert other.returncode == 1 and "orders" in other.stderr, other.stderr


def _endpoint(config: pathlib.Path) -> str:
    return str(load(config).region("us-east").node_listen)
