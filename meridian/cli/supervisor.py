"""`meridian run CONFIG`: every region of a group on this machine, each node, replicator and
trigger runner its own process.

Start: refuse at once, in one line, when a port or data directory of the group is in use
(the group is running already, say); then all nodes, wait until each answers its health
check from its own socket (not another process's on the same port), then all replicators,
then a trigger runner for each region that has triggers (ready when its health check
answers the same way), then print the endpoints and how to try it. A child that exits before it is
ready fails the start (exit 3, one line saying why). A process that exits later is
restarted with capped backoff (its log says why), except one that exits with code 3
(configuration or startup failure); once every child has stopped that way, `run` exits 3.
Stop (Ctrl-C or SIGTERM): trigger runners first, then replicators, then nodes, each asked
to stop gracefully and killed if it has not within the grace period; a second Ctrl-C kills
at once. `run` then exits 128 + the signal's number (130 after Ctrl-C), as shells do.
"""

from __future__ import annotations

import json
import pathlib
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from meridian.cli.occupancy import in_use, listens_on
from meridian.config import ConfigError, GroupConfig, KeyAttr, RegionConfig, TableConfig, load
from meridian.config.addresses import Address
from meridian.daemon import backoff
from meridian.daemon.exit_codes import EXIT_CONFIG, EXIT_FAILURE
from meridian.daemon.serving import metrics_pair
from meridian.pb import node_pb2 as pb
from meridian.security.access import AccessKey, CredentialsError, Permission
from meridian.security.dial import Dialer
from meridian.security.keystore import read_keys
from meridian.wire.oneline import one_line

READY_TIMEOUT_S = 30.0
STOP_GRACE_S = 10.0


class StartFailed(Exception):
    """The group cannot start; the message is one line saying why."""


@dataclass
class Child:
    region: str
    component: str  # "node", "replicator" or "triggers"
    endpoint: str  # gRPC address, where the health check answers
    command: list[str]
    log_path: pathlib.Path
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    given_up: bool = False
    history: list[float] = field(default_factory=list)
    dialer: Dialer | None = None  # how to reach its health service (TLS, certificates)
    other_ports: tuple[int, ...] = ()  # further listeners it must hold to be ready

    @property
    def name(self) -> str:
        return f"{self.component} {self.region}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the file
            self.proc = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def exit_reason(self) -> str:
        """One line: the exit code, why (from the log), and where the log is."""
        assert self.proc is not None
        return (
            f"exit code {self.proc.returncode}: {last_reason(self.tail())} (log: {self.log_path})"
        )


def last_reason(log_tail: str) -> str:
    """The line of a child's last log lines that says why it stopped: the last one starting
    with "meridian " (how node, replicator and trigger runner report a configuration or
    startup failure), else the last line."""
    lines = [line.strip() for line in log_tail.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("meridian "):
            return one_line(line)
    return one_line(lines[-1]) if lines else "no output"


def children(config: GroupConfig, config_path: str, log_dir: pathlib.Path) -> list[Child]:
    out = []
    for component, module in (("node", "regionnode"), ("replicator", "replicator")):
        for region in config.regions:
            endpoint = str(region.node_listen if component == "node" else region.replicator_listen)
            command = [
                sys.executable,
                "-m",
                module,
                "--config",
                config_path,
                "--region",
                region.name,
            ]
            out.append(
                Child(
                    region.name,
                    component,
                    endpoint,
                    command,
                    log_dir / f"{region.name}.{component}.log",
                    dialer=Dialer.for_region(config, region.name),
                    other_ports=(region.api_listen.port,)
                    if component == "node" and region.api_listen is not None
                    else (),
                )
            )
    for region in config.regions:
        if config.triggers_of(region.name):
            command = [sys.executable, "-m", "triggers", "--config", config_path]
            out.append(
                Child(
                    region.name,
                    "triggers",
                    str(region.trigger_listen),
                    [*command, "--region", region.name],
                    log_dir / f"{region.name}.triggers.log",
                    dialer=Dialer.for_region(config, region.name),
                )
            )
    return out


def in_use_message(config_path: str, busy: list[str]) -> str:
    """One line naming what is in use (the first three, and how many more)."""
    shown = ", ".join(busy[:3]) + (f" and {len(busy) - 3} more" if len(busy) > 3 else "")
    return (
        f"ports or data directories of {config_path} are in use: {shown}; "
        "is this group running already?"
    )


def healthy(endpoint: str, dialer: Dialer | None = None, region: str = "") -> bool:
    """The health service at `endpoint` says SERVING (over TLS as `dialer` dials, if given)."""
    channel = (
        grpc.insecure_channel(endpoint) if dialer is None else dialer.sync_channel(endpoint, region)
    )
    with channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=1.0
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def ready(child: Child) -> bool:
    """The child answers, and from its own socket: a process of another group that answers
    on the same port does not make it ready."""
    assert child.proc is not None
    ports = (int(child.endpoint.rsplit(":", 1)[1]), *child.other_ports)
    return healthy(child.endpoint, child.dialer, child.region) and all(
        listens_on(child.proc.pid, port) for port in ports
    )


def wait_ready(group: list[Child], timeout: float = READY_TIMEOUT_S) -> None:
    """Wait until every child is ready; StartFailed (one line) when one exits or time is up."""
    deadline = time.monotonic() + timeout
    waiting = list(group)
    while waiting:
        for child in list(waiting):
            assert child.proc is not None
            if child.proc.poll() is not None:
                raise StartFailed(f"{child.name} did not start: {child.exit_reason()}")
            if ready(child):
                waiting.remove(child)
        if waiting and time.monotonic() > deadline:
            names = ", ".join(c.name for c in waiting)
            raise StartFailed(
                f"not ready after {timeout:.0f}s: {names} (log: {waiting[0].log_path})"
            )
        time.sleep(0.1)


def stop_all(group: list[Child], grace: float = STOP_GRACE_S) -> None:
    """Trigger runners, replicators, then nodes: SIGTERM, wait, then SIGKILL what is left."""
    for component in ("triggers", "replicator", "node"):
        running = [
            c for c in group if c.component == component and c.proc and c.proc.poll() is None
        ]
        for child in running:
            assert child.proc is not None
            child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in running:
            assert child.proc is not None
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"{child.name} did not stop in {grace:.0f}s; killing it", file=sys.stderr)
                child.proc.kill()
                child.proc.wait()


def _example_value(attribute: KeyAttr) -> Any:
    """A value of the key attribute's type, in plain JSON."""
    if attribute.type == pb.KEY_TYPE_N:
        return 1
    if attribute.type == pb.KEY_TYPE_B:
        return {"$b": "AQI="}
    return f"{attribute.name}-1"


def example_item(table: TableConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """(item, key) that fit the table's key schema, for the banner's put and get."""
    key = {table.partition_key.name: _example_value(table.partition_key)}
    if table.sort_key is not None:
        key[table.sort_key.name] = _example_value(table.sort_key)
    note = next(name for name in ("note", "note_", "note__") if name not in key)
    return {**key, note: "hello"}, key


def banner(config: GroupConfig, config_path: str, log_dir: pathlib.Path) -> str:
    first, second = config.regions[0].name, config.regions[-1].name
    table = config.tables[0]
    item, key = example_item(table)
    item_json = shlex.quote(json.dumps(item, ensure_ascii=False))
    key_json = shlex.quote(json.dumps(key, ensure_ascii=False))
    # the CLI needs --table when the group has several tables
    table_flag = f"--table {table.name} " if len(config.tables) > 1 else ""
    lines = [f"group {config.group!r} is running ({len(config.regions)} regions):", ""]
    lines.append(f"  {'region':<12} {'node':<22} {'replicator':<22} {'metrics (node, repl.)'}")
    for r in config.regions:
        lines.append(
            f"  {r.name:<12} {r.node_listen!s:<22} {r.replicator_listen!s:<22} "
            f"{r.metrics_listen}, {r.replicator_metrics_listen}"
        )
    triggers = [t for t in config.triggers if t.enabled]
    trigger_status = []
    if triggers:
        lines += ["", f"  {'trigger':<20} {'table':<16} {'regions'}"]
        for t in triggers:
            lines.append(f"  {t.name:<20} {t.table:<16} {', '.join(t.regions)}")
        trigger_status = [
            "trigger checkpoints, lag and dead letters:",
            f"  meridian triggers status --config {config_path}",
        ]
    lines += [
        "",
        f"logs: {log_dir}/<region>.<node|replicator{'|triggers' if triggers else ''}>.log",
        "",
        *security_lines(config),
        *api_lines(config),
        f"write in {first}:",
        f"  meridian put --config {config_path} --region {first} {table_flag}{item_json}",
        f"read it in {second}:",
        f"  meridian get --config {config_path} --region {second} {table_flag}{key_json}",
        "replication status and a content check of all regions:",
        f"  meridian status --config {config_path}",
        f"  meridian verify --config {config_path}",
        *trigger_status,
        *status_page_lines(config),
        "",
        "Ctrl-C stops every process gracefully.",
    ]
    return "\n".join(lines)


def api_scheme(config: GroupConfig) -> str:
    return "https" if config.tls is not None else "http"


def api_lines(config: GroupConfig) -> list[str]:
    """Each region's DynamoDB endpoint, and boto3 code that uses the first one."""
    served = [r for r in config.regions if r.api_listen is not None]
    if not served:
        return []
    scheme = api_scheme(config)
    lines = ["DynamoDB API (endpoint_url for boto3, aws-cli and SDKs; region_name = region):"]
    lines += [f"  {r.name:<12} {scheme}://{r.api_listen}" for r in served]
    first = served[0]
    endpoint = json.dumps(f"{scheme}://{first.api_listen}")
    extra = f", verify={json.dumps(str(config.tls.ca))}" if config.tls is not None else ""
    if config.auth is None:  # any credentials do, but boto3 signs with some
        extra += ', aws_access_key_id="any", aws_secret_access_key="any"'
        note = "any credentials are accepted"
    else:
        note = "with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY exported as above"
    code = (
        f'import boto3; ddb = boto3.client("dynamodb", endpoint_url={endpoint}, '
        f"region_name={json.dumps(first.name)}{extra}); "
        'print(ddb.list_tables()["TableNames"])'
    )
    return [*lines, f"boto3 ({note}):", f"  python3 -c {shlex.quote(code)}", ""]


def status_url(config: GroupConfig, region: RegionConfig) -> str:
    """The address of a region's status page, served by its replicator's metrics endpoint
    (HTTPS as that endpoint is; an unspecified listen host is reached on the loopback)."""
    listen = region.replicator_metrics_listen
    scheme = "https" if metrics_pair(config, region, listen) is not None else "http"
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(listen.host, listen.host)
    return f"{scheme}://{Address(host, listen.port)}/status"


def status_page_lines(config: GroupConfig) -> list[str]:
    """Each region's status page (the same group seen from each replicator)."""
    auth = {r.metrics_auth.username for r in config.regions if r.metrics_auth is not None}
    login = f" (user {', '.join(sorted(auth))}, basic auth)" if auth else ""
    lines = [f"live status pages, ?format=json for scripts{login}:"]
    return lines + [f"  {r.name:<12} {status_url(config, r)}" for r in config.regions]


def security_lines(config: GroupConfig) -> list[str]:
    """How the group is protected, and the access key to try it with."""
    tls = (
        f"TLS on every door (CA {config.tls.ca}; operator certificate for status, bootstrap)"
        if config.tls
        else "plaintext on loopback addresses (add a tls section: see deploy/README.md)"
    )
    lines = [f"security: {tls}"]
    if config.auth is None:
        return [*lines, "access keys: not required (no auth section)", ""]
    key = _demo_key(config.auth.credentials)
    if key is None:
        return [*lines, f"access keys: {config.auth.credentials} (meridian keys create)", ""]
    return [
        *lines,
        f"access key ({key.permission}, from {config.auth.credentials}):",
        f"  export MERIDIAN_ACCESS_KEY_ID={key.key_id}",
        f"  export MERIDIAN_SECRET_ACCESS_KEY={key.secret}",
        *(
            [
                f"  export AWS_ACCESS_KEY_ID={key.key_id}",
                f"  export AWS_SECRET_ACCESS_KEY={key.secret}",
            ]
            if any(r.api_listen is not None for r in config.regions)
            else []
        ),
        "",
    ]


def _demo_key(path: pathlib.Path) -> AccessKey | None:
    """A key of the credentials file to show: read-write on every table if there is one."""
    try:
        keys = list(read_keys(path).values())
    except (OSError, CredentialsError):
        return None
    keys.sort(key=lambda k: (k.permission != Permission.READ_WRITE, k.tables is not None))
    return keys[0] if keys else None


def supervise(group: list[Child]) -> None:
    """Restart children that exit on their own, with capped backoff, until interrupted;
    return once every child has given up (each exited with code 3)."""
    while not all(child.given_up for child in group):
        tend(group, time.monotonic())
        time.sleep(0.2)


def tend(group: list[Child], now: float) -> None:
    """One look at every child: schedule a restart for one that exited, start it when due.

    A child that exits with code 3 (configuration or startup failure) stays down: starting
    it again would fail the same way, so the message says where to look instead."""
    for child in group:
        assert child.proc is not None
        if child.proc.poll() is None or child.given_up:
            continue
        if child.proc.returncode == EXIT_CONFIG:
            child.given_up = True
            print(
                f"{child.name} stopped with a configuration or startup failure, not restarting "
                f"it: {child.exit_reason()}",
                file=sys.stderr,
            )
        elif child.next_start == 0.0:
            delay = backoff.delay(child.restarts, base=0.5, cap=30.0)
            child.next_start = now + delay
            print(
                f"{child.name} exited with code {child.proc.returncode}; restarting in "
                f"{delay:.1f}s (log: {child.log_path})",
                file=sys.stderr,
            )
        elif now >= child.next_start:
            child.restarts += 1
            child.next_start = 0.0
            child.start()


def run(config_path: str, log_dir: str | None = None) -> int:
    try:
        config = load(config_path)
    except ConfigError as exc:
        print(f"meridian run: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    logs = pathlib.Path(log_dir) if log_dir else config.regions[0].data_dir.parent / "log"
    group = children(config, config_path, logs)
    signals: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        signals.append(signum)
        if len(signals) > 1:
            for child in group:
                if child.proc and child.proc.poll() is None:
                    child.proc.kill()
            raise SystemExit(EXIT_FAILURE)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if busy := in_use(config):
            raise StartFailed(in_use_message(config_path, busy))
        for component in ("node", "replicator", "triggers"):
            batch = [c for c in group if c.component == component]
            for child in batch:
                child.start()
            wait_ready(batch)
        print(banner(config, config_path, logs), flush=True)
        supervise(group)
        print("meridian run: every process stopped with a failure (see above)", file=sys.stderr)
        return_code = EXIT_CONFIG
    except KeyboardInterrupt:
        print("\nstopping...", file=sys.stderr)
        return_code = 128 + (signals[0] if signals else signal.SIGINT)
    except StartFailed as exc:
        print(f"meridian run: {exc}", file=sys.stderr)
        return_code = EXIT_CONFIG
    finally:
        stop_all(group)
    return return_code
