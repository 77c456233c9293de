"""`meridian certs` (the group's CA, region and operator certificates) and `meridian keys`
(access keys for clients)."""

from __future__ import annotations

import argparse
import pathlib
import sys

from meridian.cli.errors import CliError, UsageError
from meridian.cli.output import emit
from meridian.cli.target import load_group
from meridian.config import GroupConfig
from meridian.daemon.exit_codes import EXIT_CONFIG, EXIT_OK
from meridian.model.render import to_json
from meridian.security import access, certs
from meridian.security.keystore import read_keys, write_keys


def add_certs_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="FILE", help="group file")
    parser.add_argument(
        "--dir", metavar="DIR", help="where to write them (default: the directory of tls.ca)"
    )
    parser.add_argument(
        "--force", action="store_true", help="replace every certificate, the CA's included"
    )


def cmd_certs(args: argparse.Namespace) -> int:
    """Create what is missing of the group's certificates; keep what is there and fits."""
    config = load_group(args.config)
    directory = _cert_dir(config, args.dir)
    hosts = {
        r.name: _hosts(
            r.node_listen.host,
            r.replicator_listen.host,
            r.node_address.host,
            r.replicator_address.host,
            *([r.api_listen.host] if r.api_listen else []),
        )
        for r in config.regions
    }
    try:
        report = certs.write_group_layout(directory, config.group, hosts, force=args.force)
    except (OSError, ValueError) as exc:
        raise CliError(f"certs: {exc}") from None
    for path in report.written:
        print(f"wrote {path}")
    for path in report.kept:
        print(f"kept {path}")
    for problem in _layout_mismatches(config, certs.Layout(directory)):
        emit(f"note: {problem}")
    return EXIT_OK


def _cert_dir(config: GroupConfig, given: str | None) -> pathlib.Path:
    if given is not None:
        return pathlib.Path(given)
    if config.tls is None:
        raise UsageError("--dir: required, the group file has no tls section")
    return config.tls.ca.parent


def _hosts(*hosts: str) -> list[str]:
    """The names a region's certificate covers: where it listens and where it is reached
    (a wildcard listen address names no host)."""
    return sorted(set(hosts) - {"0.0.0.0", "::", ""})


def _layout_mismatches(config: GroupConfig, layout: certs.Layout) -> list[str]:
    """Where the group file expects other files than those just written."""
    if config.tls is None:
        return [f"{config.path} has no tls section yet: see deploy/README.md"]
    wanted = [("tls.ca", config.tls.ca, layout.ca[0])]
    if config.tls.operator is not None:
        wanted += [
            ("tls.operator.cert", config.tls.operator.cert, layout.operator[0]),
            ("tls.operator.key", config.tls.operator.key, layout.operator[1]),
        ]
    for i, region in enumerate(config.regions):
        if region.tls is not None:
            cert, key = layout.region(region.name)
            wanted += [(f"regions[{i}].tls.cert", region.tls.cert, cert)]
            wanted += [(f"regions[{i}].tls.key", region.tls.key, key)]
    return [
        f"{key} is {path}, not the {written} written here"
        for key, path, written in wanted
        if path.resolve() != written.resolve()
    ]


def add_keys_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="keys_action", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create",
        help="add an access key to the group's credentials file; prints it once",
        description="Add an access key to the credentials file (auth.credentials).",
    )
    init = actions.add_parser(
        "init",
        help="a credentials file with one read-write key, unless it exists",
        description="Create the credentials file (auth.credentials) with one read-write key "
        "unless it exists; prints the key when it creates it.",
    )
    for sub in (create, init):
        sub.add_argument("--config", required=True, metavar="FILE", help="group file")
        sub.add_argument("--json", action="store_true", help="machine-readable output")
    create.add_argument(
        "--permission",
        choices=[str(p) for p in access.Permission],
        default=str(access.Permission.READ_WRITE),
        help="what the key may do (default: read-write)",
    )
    create.add_argument(
        "--table", action="append", metavar="NAME", help="only this table (repeatable)"
    )
    create.set_defaults(handler=cmd_keys_create)
    init.set_defaults(handler=cmd_keys_init)


def cmd_keys_create(args: argparse.Namespace) -> int:
    config = load_group(args.config)
    path = _credentials_path(config)
    keys = _existing(path) if path.exists() else {}
    known = {t.name for t in config.tables}
    for table in args.table or ():
        if table not in known:
            _not_declared(table)
    key = access.generate(access.Permission(args.permission), args.table)
    write_keys(path, {**keys, key.key_id: key})
    _print_key(key, path, args.json)
    return EXIT_OK


def cmd_keys_init(args: argparse.Namespace) -> int:
    config = load_group(args.config)
    path = _credentials_path(config)
    if path.exists():
        _existing(path)  # refuses a file that would not load
        return EXIT_OK
    key = access.generate(access.Permission.READ_WRITE)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_keys(path, {key.key_id: key})
    _print_key(key, path, args.json)
    return EXIT_OK


def _credentials_path(config: GroupConfig) -> pathlib.Path:
    if config.auth is None:
        raise CliError(
            f"{config.path} has no auth section: add `auth: {{credentials: FILE}}` first",
            EXIT_CONFIG,
        )
    return config.auth.credentials


def _existing(path: pathlib.Path) -> dict[str, access.AccessKey]:
    try:
        return read_keys(path)
    except (OSError, access.CredentialsError) as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None


def _not_declared(table: str) -> None:
    """Tables are also created at runtime (the catalog), which this offline command cannot
    see: a name outside the group file is taken, with a note in case it is a typo."""
    print(
        f"note: table {table!r} is not in the group file; the key covers it if it is "
        "created at runtime (meridian table list shows the group's tables)",
        file=sys.stderr,
    )


def _print_key(key: access.AccessKey, path: pathlib.Path, as_json: bool) -> None:
    tables = sorted(key.tables) if key.tables is not None else None
    if as_json:
        print(
            to_json(
                {
                    "access_key_id": key.key_id,
                    "secret_access_key": key.secret,
                    "permission": str(key.permission),
                    "tables": tables,
                    "file": str(path),
                }
            )
        )
        return
    print(f"access key id:     {key.key_id}")
    print(f"secret access key: {key.secret}")
    print(f"permission:        {key.permission}{' on ' + ', '.join(tables) if tables else ''}")
    print(f"added to {path} (the secret is not shown again)")
