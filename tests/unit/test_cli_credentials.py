"""Where the CLI finds an access key: flags, then the environment, then a profile."""

from __future__ import annotations

import argparse
import pathlib

import pytest

from meridian.cli.credentials import Credentials, resolve
from meridian.cli.errors import UsageError

PROFILES = """
[default]
access_key_id = MKDEFAULT0000000001
secret_access_key = default-secret-0123456789

[ops]
access_key_id = MKOPS00000000000001
secret_access_key = ops-secret-0123456789
"""


def args(**given: str | None) -> argparse.Namespace:
    base = {"access_key_id": None, "secret_access_key": None, "profile": None}
    return argparse.Namespace(**{**base, **given})


@pytest.fixture
def profiles(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "credentials"
    path.write_text(PROFILES)
    return path


ENV = {"MERIDIAN_ACCESS_KEY_ID": "MKENV00000000000001", "MERIDIAN_SECRET_ACCESS_KEY": "env-s"}


@pytest.mark.parametrize(
    ("given", "environ", "expected"),
    [
        ({"access_key_id": "MKFLAG", "secret_access_key": "flag-s"}, ENV, "MKFLAG"),
        ({}, ENV, "MKENV00000000000001"),
        ({}, {}, "MKDEFAULT0000000001"),
        ({"profile": "ops"}, {}, "MKOPS00000000000001"),
        ({}, {"MERIDIAN_PROFILE": "ops"}, "MKOPS00000000000001"),
    ],
)
def test_the_first_source_given_wins(
    profiles: pathlib.Path, given: dict[str, str], environ: dict[str, str], expected: str
) -> None:
    found = resolve(args(**given), environ, profiles)
    assert isinstance(found, Credentials) and found.key_id == expected


def test_nothing_anywhere_is_no_credentials(tmp_path: pathlib.Path) -> None:
    assert resolve(args(), {}, tmp_path / "absent") is None


@pytest.mark.parametrize(
    ("given", "environ", "message"),
    [
        ({"access_key_id": "MKFLAG"}, {}, "--access-key-id and --secret-access-key: give both"),
        ({}, {"MERIDIAN_ACCESS_KEY_ID": "x"}, "MERIDIAN_ACCESS_KEY_ID and"),
        ({"profile": "nope"}, {}, "--profile nope: no [nope] section"),
    ],
)
def test_half_given_credentials_are_usage_errors(
    profiles: pathlib.Path, given: dict[str, str], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError) as info:
        resolve(args(**given), environ, profiles)
    assert message in str(info.value)


def test_a_named_profile_needs_the_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        resolve(args(profile="ops"), {}, tmp_path / "absent")
