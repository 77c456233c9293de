"""Real `meridian` processes for end-to-end tests: free ports, group files, nodes and the CLI.

Every wait has a deadline and raises with the process's log when it passes; nothing here
returns a boolean for the caller to forget to check.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from tests.ports import free_ports

MERIDIAN = [sys.executable, "-m", "meridian.cli"]
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0
CLI_TIMEOUT_S = 30.0


def free_port() -> int:
    return free_ports(1)[0]


ORDERS = {
    "name": "orders",
    "partition_key": {"name": "pk", "type": "S"},
    "sort_key": {"name": "sk", "type": "S"},
    "stream": {"view_type": "NEW_AND_OLD_IMAGES", "retention": "24h"},
}


def region_doc(name: str, data_dir: pathlib.Path) -> dict[str, Any]:
    """One region entry on fresh loopback ports (node, replicator, both metrics)."""
    node, replicator, metrics, replicator_metrics = free_ports(4)
    return {
        "name": name,
        "node": {"listen": f"127.0.0.1:{node}", "data_dir": str(data_dir)},
        "replicator": {
            "listen": f"127.0.0.1:{replicator}",
            "metrics": f"127.0.0.1:{replicator_metrics}",
        },
        "metrics": {"listen": f"127.0.0.1:{metrics}"},
    }


def group_doc(
    base: pathlib.Path,
    regions: tuple[str, ...] = ("us-east",),
    *,
    durability: str = "fsync",
    tables: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A group file's content with every region's data under ``base``."""
    return {
        "group": "e2e",
        "durability": durability,
        "tables": copy.deepcopy(tables if tables is not None else [ORDERS]),
        "regions": [region_doc(name, base / "data" / name) for name in regions],
    }


def write_group(path: pathlib.Path, doc: dict[str, Any]) -> pathlib.Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(
    *args: object, input: str | None = None, timeout: float = CLI_TIMEOUT_S
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
            env=_env(),
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


class NodeProcess:
    """One `meridian node` process; its stdout and stderr go to a log file."""

    def __init__(self, config: pathlib.Path, region: str, log_path: pathlib.Path) -> None:
        self.config = config
        self.region = region
        self.log_path = log_path
        doc = yaml.safe_load(config.read_text())
        (entry,) = [r for r in doc["regions"] if r["name"] == region]
        self.endpoint: str = entry["node"]["listen"]
        self.metrics_endpoint: str = entry["metrics"]["listen"]
        self.process: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> NodeProcess:
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            log.write(f"--- starting node {self.region} ---\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [*MERIDIAN, "node", "--config", str(self.config), "--region", self.region],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=_env(),
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"

    def fail(self, message: str) -> AssertionError:
        return AssertionError(f"{message}\n--- log of node {self.region} ---\n{self.log()}")

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> NodeProcess:
        """Poll the gRPC health service until the node reports SERVING."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        with grpc.insecure_channel(self.endpoint) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if not self.running:
                    code = self.process.returncode if self.process else None
                    raise self.fail(f"node {self.region} exited with {code} while starting")
                try:
                    reply = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return self
                    last = f"status {reply.status}"
                except grpc.RpcError as exc:
                    last = f"{exc.code().name}: {exc.details()}"
                time.sleep(0.05)
        raise self.fail(
            f"node {self.region} at {self.endpoint} not ready within {timeout}s ({last})"
        )

    def wait_exit(self, timeout: float = READY_TIMEOUT_S) -> int:
        """Wait for the process to exit on its own; its exit code."""
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise self.fail(f"node {self.region} still running after {timeout}s") from None

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, then wait; kill -9 and raise when it does not exit in time."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)
            raise self.fail(f"node {self.region} ignored SIGTERM for {timeout}s") from None

    def kill9(self) -> None:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(STOP_TIMEOUT_S)

    def cleanup(self) -> None:
        """Make sure the process is gone (fixture finalizers): kill what is left."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            if self.process.poll() is None:
                self.process.kill()
        self.process.wait(STOP_TIMEOUT_S)

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
                raise self.fail(
                    f"meridian {call[0]} exited with {result.returncode}\n"
                    f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
                )
            outputs.append(result.stdout)
        return outputs

    def ok(self, command: str, *args: object, input: str | None = None) -> str:
        """Like cli(), but the command must succeed; its stdout."""
        result = self.cli(command, *args, input=input)
        if result.returncode != 0:
            raise self.fail(
                f"meridian {command} exited with {result.returncode}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result.stdout


def wait_until(
    condition: Callable[[], bool], what: str, node: NodeProcess, timeout: float = 15.0
) -> None:
    """Poll ``condition`` until it holds; raise with the node's log at the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise node.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def metric(node: NodeProcess, name: str, **labels: str) -> float:
    """A sample from the node's /metrics page (0 when absent)."""
    url = f"http://{node.metrics_endpoint}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0
