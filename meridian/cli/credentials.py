"""An access key for the CLI's calls, found the way users expect: the flags, then the
environment (MERIDIAN_ACCESS_KEY_ID and MERIDIAN_SECRET_ACCESS_KEY), then a profile
(--profile or MERIDIAN_PROFILE, default `default`) of ~/.meridian/credentials, an INI file
like ~/.aws/credentials:

    [default]
    access_key_id = MK...
    secret_access_key = ...
"""

from __future__ import annotations

import argparse
import configparser
import os
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from meridian.cli.errors import UsageError

PROFILE_FILE = pathlib.Path("~/.meridian/credentials")


@dataclass(frozen=True)
class Credentials:
    key_id: str
    secret: str = field(repr=False)
    source: str  # where they came from, for messages


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("credentials (when the group requires access keys)")
    group.add_argument("--access-key-id", metavar="ID", help="access key id")
    group.add_argument("--secret-access-key", metavar="SECRET", help="its secret")
    group.add_argument("--profile", metavar="NAME", help=f"a profile of {PROFILE_FILE}")


def resolve(
    args: argparse.Namespace,
    environ: Mapping[str, str] = os.environ,
    profiles: pathlib.Path = PROFILE_FILE,
) -> Credentials | None:
    """The access key to sign calls with, or None when none is given anywhere."""
    flags = (getattr(args, "access_key_id", None), getattr(args, "secret_access_key", None))
    if any(flags):
        return _pair(flags, "--access-key-id and --secret-access-key")
    env = (environ.get("MERIDIAN_ACCESS_KEY_ID"), environ.get("MERIDIAN_SECRET_ACCESS_KEY"))
    if any(env):
        return _pair(env, "MERIDIAN_ACCESS_KEY_ID and MERIDIAN_SECRET_ACCESS_KEY")
    name = getattr(args, "profile", None) or environ.get("MERIDIAN_PROFILE")
    return _profile(profiles.expanduser(), name)


def _pair(values: tuple[str | None, str | None], names: str) -> Credentials:
    key_id, secret = values
    if not key_id or not secret:
        raise UsageError(f"{names}: give both, or neither")
    return Credentials(key_id, secret, names)


def _profile(path: pathlib.Path, name: str | None) -> Credentials | None:
    parser = configparser.ConfigParser()
    try:
        parser.read_string(path.read_text())
    except FileNotFoundError:
        if name:
            raise UsageError(f"--profile {name}: {path} does not exist") from None
        return None
    except (OSError, configparser.Error) as exc:
        raise UsageError(f"{path}: {exc}") from None
    section = name or "default"
    if not parser.has_section(section):
        if name:
            raise UsageError(f"--profile {name}: no [{name}] section in {path}")
        return None
    values = parser[section]
    where = f"[{section}] of {path}"
    return _pair((values.get("access_key_id"), values.get("secret_access_key")), where)
