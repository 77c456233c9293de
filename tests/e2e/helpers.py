"""Real `meridian` processes for end-to-end tests: group files, nodes and the CLI.

Every wait has a deadline and raises with the process's log when it passes; nothing here
returns a boolean for the caller to forget to check.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import json
import os
import pathlib
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from meridian.cli.supervisor import Child, children, stop_all
from meridian.config import load
from meridian.daemon.grpc_server import READINESS as READINESS
from meridian.pb import node_pb2 as pb
from meridian.pb import replication_pb2_grpc
from meridian.wire import peer_token
from tests import harness
from tests.harness.process import LOG_TAIL_LINES, STOP_TIMEOUT_S, Process

MERIDIAN = [sys.executable, "-m", "meridian.cli"]
READY_TIMEOUT_S = 20.0
CLI_TIMEOUT_S = 30.0

ORDERS = {
    "name": "orders",
    "partition_key": {"name": "pk", "type": "S"},
    "sort_key": {"name": "sk", "type": "S"},
    "stream": {"view_type": "NEW_AND_OLD_IMAGES", "retention": "24h"},
}


def e2e_group(
    base: pathlib.Path,
    regions: tuple[str, ...] = ("us-east",),
    *,
    durability: str = "fsync",
    tables: list[dict[str, Any]] | None = None,
    api: bool = False,
) -> dict[str, Any]:
    """The end-to-end tests' group file content: every region's data under base/data
    (with `api`, each region serves the DynamoDB API too)."""
    return harness.group_doc(
        base / "data",
        regions,
        tables=tables if tables is not None else [ORDERS],
        group="e2e",
        durability=durability,
        api=api,
    )


@dataclasses.dataclass(frozen=True)
class SecureGroup:
    """A group file with TLS on every door and access keys required, its certificates made
    by `meridian certs` and its first key by `meridian keys init`, as `make run` does."""

    config: pathlib.Path
    ca: pathlib.Path
    key_id: str
    secret: str


def secure_group(base: pathlib.Path, regions: tuple[str, ...], *, api: bool = False) -> SecureGroup:
    doc = e2e_group(base, regions, durability="buffered", api=api)
    certs = base / "certs"
    doc["tls"] = {
        "ca": str(certs / "ca.pem"),
        "operator": {"cert": str(certs / "operator.pem"), "key": str(certs / "operator-key.pem")},
    }
    for region in doc["regions"]:
        name = region["name"]
        region["tls"] = {"cert": str(certs / f"{name}.pem"), "key": str(certs / f"{name}-key.pem")}
    doc["auth"] = {"credentials": str(base / "credentials.yaml")}
    config = harness.write_group(base / "group.yaml", doc)
    made = run_cli("certs", "--config", config)
    assert made.returncode == 0, made.stderr
    assert "wrote" in made.stdout and "note:" not in made.stderr
    key = run_cli("keys", "init", "--config", config, "--json")
    assert key.returncode == 0, key.stderr
    created = json_of(key.stdout)
    return SecureGroup(
        config, certs / "ca.pem", created["access_key_id"], created["secret_access_key"]
    )


def run_cli(
    *args: object,
    input: str | None = None,
    timeout: float = CLI_TIMEOUT_S,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `meridian ARGS...` to completion and capture its output (text)."""
    command = [*MERIDIAN, *(str(a) for a in args)]
    try:
        return subprocess.run(
            command,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"meridian {' '.join(command[3:])[:200]} did not finish within {timeout}s\n"
            f"stdout:\n{exc.stdout!r}\nstderr:\n{exc.stderr!r}"
        ) from None


def json_of(text: str) -> Any:
    """JSON printed by the CLI, with exact numbers."""
    return json.loads(text, parse_float=Decimal)


def json_lines(text: str) -> list[Any]:
    return [json_of(line) for line in text.splitlines() if line.strip()]


class NodeProcess(Process):
    """One `meridian node` process; its stdout and stderr go to a log file."""

    def __init__(self, config: pathlib.Path, region: str, log_path: pathlib.Path) -> None:
        argv = [*MERIDIAN, "node", "--config", str(config), "--region", region]
        super().__init__(f"node {region}", argv, log_path)
        self.config = config
        self.region = region
        doc = yaml.safe_load(config.read_text())
        (entry,) = [r for r in doc["regions"] if r["name"] == region]
        self.endpoint: str = entry["node"]["listen"]
        self.metrics_endpoint: str = entry["metrics"]["listen"]

    def wait_healthy(self, timeout: float = READY_TIMEOUT_S) -> NodeProcess:
        """Until the node's gRPC health service reports SERVING."""
        self.wait_serving(self.endpoint, timeout)
        return self

    def stop(
        self, timeout: float = STOP_TIMEOUT_S, sig: int = signal.SIGTERM, *, check: bool = True
    ) -> int | None:
        """SIGTERM, then wait; kill -9 and raise when it does not exit in time."""
        return super().stop(timeout, sig, check=check)

    # ------------------------------------------------------------ talking to it

    @property
    def target(self) -> list[str]:
        return ["--config", str(self.config), "--region", self.region]

    def cli(
        self, command: str, *args: object, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`meridian COMMAND --config ... --region ... ARGS...` against this node."""
        return run_cli(*command.split(), *self.target, *args, input=input)

    def cli_many(self, *calls: tuple[object, ...]) -> list[subprocess.CompletedProcess[str]]:
        """Several independent cli() calls at once (each a tuple: command, args...)."""
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(self.cli, str(call[0]), *call[1:]) for call in calls]
            return [future.result() for future in futures]

    def ok_many(self, *calls: tuple[object, ...]) -> list[str]:
        """Like cli_many(), but every command must succeed; their stdouts, in order."""
        outputs = []
        for call, result in zip(calls, self.cli_many(*calls), strict=True):
            if result.returncode != 0:
                raise self.failure(
                    f"meridian {call[0]} exited with {result.returncode}\n"
                    f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
                )
            outputs.append(result.stdout)
        return outputs

    def ok(self, command: str, *args: object, input: str | None = None) -> str:
        """Like cli(), but the command must succeed; its stdout."""
        result = self.cli(command, *args, input=input)
        if result.returncode != 0:
            raise self.failure(
                f"meridian {command} exited with {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result.stdout


class MeridianRun(Process):
    """`meridian run CONFIG` in the background: its output in a file, its children's logs in
    a directory."""

    def __init__(self, config: pathlib.Path, out_path: pathlib.Path, log_dir: pathlib.Path) -> None:
        argv = [*MERIDIAN, "run", str(config), "--log-dir", str(log_dir)]
        super().__init__(f"meridian run {config.name}", argv, out_path, mark_starts=False)
        self.config = config
        self.log_dir = log_dir

    def output(self) -> str:
        """What it printed, then every child's whole log."""
        logs = [f"--- {p.name}\n{p.read_text(errors='replace')}" for p in self.log_dir.glob("*")]
        return "\n".join([self.log(), *logs])

    def log_section(self, lines: int = LOG_TAIL_LINES) -> str:
        tails = [
            f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-lines:])
            for p in sorted(self.log_dir.glob("*.log"))
        ]
        return "\n".join([super().log_section(lines), *tails])

    def wait_banner(self, timeout: float = 30.0) -> str:
        """Until it says the group is running; what it printed."""
        self.wait_ready(lambda: "is running" in self.log(), timeout, "the banner")
        return self.log()

    def stop(
        self, timeout: float = 30.0, sig: int = signal.SIGINT, *, check: bool = True
    ) -> int | None:
        """Ctrl-C (SIGINT) by default; the whole session killed if it does not exit in time."""
        return super().stop(timeout, sig, check=check)


@contextlib.contextmanager
def supervised(config: pathlib.Path) -> Iterator[dict[str, Child]]:
    """The children `meridian run` would start for the group file ("REGION.COMPONENT":
    child, none started yet, logs beside the file); all stopped on the way out."""
    group = children(load(config), str(config), config.parent / "logs")
    try:
        yield {f"{c.region}.{c.component}": c for c in group}
    finally:
        stop_all(group, grace=5)


def child_logs(procs: Mapping[str, Child]) -> Callable[[], str]:
    """The log tails of the children `meridian run` starts, for a wait's failure message."""
    return lambda: "\n".join(f"--- {n}\n{c.tail()}" for n, c in procs.items() if c.proc)


def metric(node: NodeProcess, name: str, **labels: str) -> float:
    """A sample from the node's /metrics page (0 when absent)."""
    url = f"http://{node.metrics_endpoint}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        return sample_value(response.read().decode(), name, **labels)


def sample_value(page: str, name: str, **labels: str) -> float:
    """The sample of a /metrics page with this name and these labels (0 when absent)."""
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def health(address: str, service: str = "") -> str:
    """The health status name at `address`, or the gRPC code's name when the call fails."""
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=5
            )
        except grpc.RpcError as exc:
            return exc.code().name  # type: ignore[attr-defined, no-any-return]
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def node_info(config: pathlib.Path, region: str) -> pb.NodeInfoResponse:
    """The node's info through its peer door, with the region's token (the test runs on the
    node's machine, as the replicator does)."""
    where = load(config).region(region)
    token = peer_token.read(where.data_dir)
    assert token is not None, f"node {region} has not written its token"
    with grpc.insecure_channel(str(where.node_peer_listen)) as channel:
        stub = replication_pb2_grpc.ReplicationStub(channel)
        reply: pb.NodeInfoResponse = stub.NodeInfo(
            pb.NodeInfoRequest(), timeout=10, metadata=[(peer_token.METADATA_KEY, token)]
        )
        return reply
