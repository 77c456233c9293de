"""`meridian health`: ask a process's gRPC health service, for container health checks and
scripts. Exit 0 when the service answers SERVING; 1 when it answers anything else, does not
know the service, or cannot be reached in time."""

from __future__ import annotations

import argparse
import os

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from meridian.cli.errors import CliError
from meridian.daemon.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from meridian.daemon.grpc_server import READINESS

ADDRESS_ENV = "MERIDIAN_HEALTH_ADDRESS"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--address",
        metavar="HOST:PORT",
        default=os.environ.get(ADDRESS_ENV),
        help=f"the process's gRPC or health address (default: ${ADDRESS_ENV})",
    )
    parser.add_argument(
        "--service",
        default="",
        metavar="NAME",
        help=f'"" (the default) for liveness, {READINESS} for readiness',
    )
    parser.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS", help="default 5")


def cmd_health(args: argparse.Namespace) -> int:
    if not args.address:
        raise CliError(f"give --address HOST:PORT (or set {ADDRESS_ENV})", EXIT_USAGE)
    shown = args.service or '"" (liveness)'
    with grpc.insecure_channel(args.address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=args.service), timeout=args.timeout
            )
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            what = "unknown service" if code == grpc.StatusCode.NOT_FOUND else "no answer"
            print(f"{args.address} {shown}: {what} ({code.name if code else exc})")
            return EXIT_FAILURE
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    print(f"{args.address} {shown}: {status}")
    return EXIT_OK if reply.status == health_pb2.HealthCheckResponse.SERVING else EXIT_FAILURE
