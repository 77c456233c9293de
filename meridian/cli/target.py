"""The node a command talks to: its address (``--endpoint``, or ``--config`` and
``--region``), a blocking connection to it, and gRPC failures mapped to CLI errors."""

from __future__ import annotations

import argparse
import pathlib
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import grpc

from meridian.cli import credentials
from meridian.cli.credentials import Credentials
from meridian.cli.errors import CliError, UsageError
from meridian.config import ConfigError, GroupConfig
from meridian.config import load as load_config
from meridian.daemon.exit_codes import EXIT_CONFIG, EXIT_USAGE
from meridian.pb import client_pb2_grpc
from meridian.pb import node_pb2 as pb
from meridian.security import grpc_auth
from meridian.security.dial import Dialer
from meridian.wire import peer_token
from meridian.wire.call_metadata import Adder, with_metadata
from meridian.wire.channels import GRPC_OPTIONS
from meridian.wire.oneline import one_line

RPC_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Target:
    endpoint: str
    region: str | None = None
    table: str = ""
    config: GroupConfig | None = None  # with --config: TLS and the region's token from it
    credentials: Credentials | None = None
    ca: str | None = None  # with --endpoint: TLS, trusting this CA file

    @classmethod
    def of_region(
        cls, config: GroupConfig, region: str, credentials: Credentials | None = None
    ) -> Target:
        return cls(str(config.region(region).node_address), region, "", config, credentials)

    @property
    def label(self) -> str:
        if self.region:
            return f"{self.region} at {self.endpoint}"
        return f"at {self.endpoint}"


def load_group(path: str) -> GroupConfig:
    """The group file, or CliError with the configuration exit code."""
    try:
        return load_config(path)
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None


def _default_table(config: GroupConfig | None) -> str:
    if config is None:
        raise UsageError("--table is required with --endpoint")
    if len(config.tables) != 1:
        names = ", ".join(t.name for t in config.tables)
        raise UsageError(f"--table is required: the group has tables {names}")
    return config.tables[0].name


def target_of(args: argparse.Namespace, *, table: bool = True) -> Target:
    """The node (and table) an item command addresses: --endpoint, or --config and --region."""
    if (args.endpoint is None) == (args.config is None):
        raise UsageError("give either --endpoint HOST:PORT or --config FILE --region NAME")
    config = None
    if args.endpoint is not None:
        if args.region is not None:
            raise UsageError("--region goes with --config, not with --endpoint")
        endpoint, region = args.endpoint, None
    else:
        if args.region is None:
            raise UsageError("--config needs --region NAME")
        config = load_group(args.config)
        try:
            region_config = config.region(args.region)
        except ConfigError as exc:
            raise UsageError(f"--region: {exc}") from None
        endpoint, region = str(region_config.node_address), region_config.name
    name = ""
    if table:
        name = args.table or _default_table(config)
    ca = getattr(args, "ca", None)
    if ca is not None and config is not None:
        raise UsageError("--ca goes with --endpoint; with --config the group file's tls.ca is used")
    return Target(endpoint, region, name, config, credentials.resolve(args), ca)


def open_channel(target: Target) -> grpc.Channel:
    """A blocking channel to the target's client door: TLS as the group file (or --ca)
    says, calls signed with the access key if one was given, else carrying the region's
    token when this machine can read it (the node's own machine and user)."""
    adder = _call_credentials(target)
    if target.config is not None and target.region is not None:
        dialer = Dialer.for_operator(target.config, adder)
        return dialer.sync_channel(target.endpoint, target.region)
    if target.ca is None:
        channel = grpc.insecure_channel(target.endpoint, options=GRPC_OPTIONS)
    else:
        try:
            ca = pathlib.Path(target.ca).read_bytes()
        except OSError as exc:
            raise UsageError(f"--ca: {exc}") from None
        tls = grpc.ssl_channel_credentials(ca)
        channel = grpc.secure_channel(target.endpoint, tls, options=GRPC_OPTIONS)
    return with_metadata(channel, adder) if adder else channel


def _call_credentials(target: Target) -> Adder | None:
    creds = target.credentials
    if creds is not None:
        return lambda method: [grpc_auth.signed_header(creds.key_id, creds.secret, method)]
    if target.config is None or target.region is None:
        return None
    try:
        token = peer_token.read(target.config.region(target.region).data_dir)
    except OSError:  # another user's data directory
        return None
    if token is None:
        return None
    return lambda method: [(peer_token.METADATA_KEY, token)]


def rpc_error(exc: grpc.RpcError, target: Target) -> CliError:
    """The CLI error for a failed call: the node's message and a status-appropriate code."""
    code = exc.code()
    details = one_line(exc.details() or code.name)
    if code == grpc.StatusCode.UNAVAILABLE:
        return CliError(f"cannot reach node {target.label}: {details}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return CliError(f"node {target.label} did not answer in time: {details}")
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return CliError(details, EXIT_USAGE)
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return CliError(
            f"node {target.label} refused the call: {details} (give an access key: "
            "--access-key-id/--secret-access-key, MERIDIAN_ACCESS_KEY_ID/"
            "MERIDIAN_SECRET_ACCESS_KEY or --profile)"
        )
    return CliError(details)


class NodeConnection:
    """A blocking channel to one node; every call maps gRPC errors to CliError."""

    def __init__(self, target: Target, timeout: float = RPC_TIMEOUT_S) -> None:
        self.target = target
        self.timeout = timeout
        self.channel = open_channel(target)
        self.stub = client_pb2_grpc.ClientStub(self.channel)

    def __enter__(self) -> NodeConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.channel.close()

    def call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self.stub, method)(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise rpc_error(exc, self.target) from None

    def subscribe(self, request: pb.SubscribeRequest) -> Generator[pb.StreamRecord, None, None]:
        """Records of a live subscription as they arrive; closing the generator ends the call."""
        call = self.stub.Subscribe(request)
        try:
            for batch in call:
                yield from batch.records
        except grpc.RpcError as exc:
            raise rpc_error(exc, self.target) from None
        finally:
            call.cancel()
        raise CliError(f"node {self.target.label} ended the stream")
