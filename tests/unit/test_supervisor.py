"""`meridian run`: restarts a crashed child with backoff, but not one that failed to start;
says in one line why a start failed; counts only its own children's answers as ready."""

from __future__ import annotations

import pathlib
import shlex
import socket
import subprocess
import sys
import threading
import time

import pytest

from meridian.cli.occupancy import in_use
from meridian.cli.parsing import parse_item
from meridian.cli.supervisor import (
    Child,
    StartFailed,
    banner,
    healthy,
    in_use_message,
    last_reason,
    ready,
    stop_all,
    supervise,
    tend,
    wait_ready,
)
from meridian.config import load
from meridian.model.schema import Schema
from tests.e2e.helpers import e2e_group
from tests.harness import free_ports, wait_until, write_group


def child(tmp_path: pathlib.Path, name: str, code: int) -> Child:
    c = Child(
        region=name,
        component="node",
        endpoint="127.0.0.1:1",
        command=[sys.executable, "-c", f"print('exiting {code}'); raise SystemExit({code})"],
        log_path=tmp_path / f"{name}.log",
    )
    c.start()
    assert c.proc is not None
    c.proc.wait(timeout=30)
    return c


def test_a_crashed_child_is_restarted_after_its_backoff(tmp_path: pathlib.Path) -> None:
    crashed = child(tmp_path, "a", 1)
    first = crashed.proc
    tend([crashed], now=100.0)
    assert crashed.next_start > 100.0 and crashed.proc is first  # scheduled, not yet
    tend([crashed], now=crashed.next_start)
    assert crashed.proc is not first and crashed.restarts == 1
    assert crashed.proc is not None
    crashed.proc.wait(timeout=30)


def test_a_child_that_fails_at_startup_stays_down(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    failed = child(tmp_path, "b", 3)
    first = failed.proc
    for now in (100.0, 200.0, 10_000.0):
        tend([failed], now=now)
    assert failed.given_up and failed.proc is first and failed.restarts == 0
    err = capsys.readouterr().err
    assert err.count("not restarting") == 1 and "exiting 3" in err
    assert err.count("\n") == 1, err  # one line, not the log's tail


# ---------------------------------------------------------------- one-line reasons


@pytest.mark.parametrize(
    ("log", "reason"),
    [
        ("", "no output"),
        ("starting\nexiting 3\n", "exiting 3"),
        (
            "2026 INFO node: opening\nmeridian node: cannot open the store in d: IO error: lock\n"
            "2026 INFO node[us] regionnode.node: node us stopped\n",
            "meridian node: cannot open the store in d: IO error: lock",
        ),
        ("meridian replicator: cannot\n\tserve\n", "meridian replicator: cannot"),
        ("Traceback (most recent call last):\n  File x\nValueError: bad\n", "ValueError: bad"),
    ],
)
def test_last_reason(log: str, reason: str) -> None:
    assert last_reason(log) == reason


def test_in_use_message_is_one_line_naming_the_first_three() -> None:
    busy = [f"127.0.0.1:{port} (node r{port})" for port in range(5)]
    text = in_use_message("g.yaml", busy)
    assert "\n" not in text
    assert text == (
        "ports or data directories of g.yaml are in use: 127.0.0.1:0 (node r0), "
        "127.0.0.1:1 (node r1), 127.0.0.1:2 (node r2) and 2 more; "
        "is this group running already?"
    )


# ---------------------------------------------------------------- real processes

HEALTH_SERVER = """
import sys, time
from concurrent import futures
import grpc
from grpc_health.v1 import health, health_pb2_grpc
server = grpc.server(futures.ThreadPoolExecutor(2), options=[("grpc.so_reuseport", 0)])
health_pb2_grpc.add_HealthServicer_to_server(health.HealthServicer(), server)
server.add_insecure_port(sys.argv[1])
server.start()
time.sleep(float(sys.argv[2]))
"""


def python_child(tmp_path: pathlib.Path, name: str, endpoint: str, script: str) -> Child:
    return Child(
        region=name,
        component="node",
        endpoint=endpoint,
        command=[sys.executable, "-c", script],
        log_path=tmp_path / f"{name}.log",
    )


def health_server(tmp_path: pathlib.Path, name: str, endpoint: str) -> Child:
    c = python_child(tmp_path, name, endpoint, HEALTH_SERVER)
    c.command += [endpoint, "60"]
    return c


def test_an_answer_from_another_process_does_not_make_a_child_ready(
    tmp_path: pathlib.Path,
) -> None:
    endpoint = f"127.0.0.1:{free_ports(1)[0]}"
    stranger = health_server(tmp_path, "stranger", endpoint)
    mine = python_child(
        tmp_path,
        "mine",
        endpoint,
        "import time; time.sleep(1.5); "
        f"print('meridian node: cannot listen on {endpoint}: address in use'); "
        "raise SystemExit(3)",
    )
    try:
        stranger.start()
        wait_ready([stranger], timeout=30)
        mine.start()
        started = time.monotonic()
        with pytest.raises(StartFailed) as failed:
            wait_ready([mine], timeout=30)
        assert time.monotonic() - started < 20
    finally:
        stop_all([stranger, mine], grace=5)
    message = str(failed.value)
    assert "\n" not in message
    assert message == (
        f"node mine did not start: exit code 3: meridian node: cannot listen on {endpoint}: "
        f"address in use (log: {mine.log_path})"
    )


def test_a_child_that_answers_from_its_own_socket_is_ready(tmp_path: pathlib.Path) -> None:
    server = health_server(tmp_path, "own", f"127.0.0.1:{free_ports(1)[0]}")
    try:
        server.start()
        wait_ready([server], timeout=30)
    finally:
        stop_all([server], grace=5)


def test_a_child_is_ready_only_once_it_holds_its_other_listeners(tmp_path: pathlib.Path) -> None:
    endpoint, elsewhere = (f"127.0.0.1:{port}" for port in free_ports(2))
    server = health_server(tmp_path, "node", endpoint)
    server.other_ports = (int(elsewhere.rsplit(":", 1)[1]),)  # e.g. its DynamoDB door
    try:
        server.start()
        wait_until(lambda: healthy(endpoint), 30, "the health service")
        assert not ready(server)
        server.other_ports = ()
        assert ready(server)
    finally:
        stop_all([server], grace=5)


def test_supervise_returns_once_every_child_gave_up(tmp_path: pathlib.Path) -> None:
    group = [child(tmp_path, "c", 3), child(tmp_path, "d", 3)]
    done = threading.Event()

    def watch() -> None:
        supervise(group)
        done.set()

    threading.Thread(target=watch, daemon=True).start()
    assert done.wait(timeout=10), "supervise kept going with no child left"
    assert all(c.given_up for c in group)


def test_a_held_port_or_data_directory_is_in_use(tmp_path: pathlib.Path) -> None:
    doc = e2e_group(tmp_path, ("us-east",))
    config = load(write_group(tmp_path / "group.yaml", doc))
    region = config.regions[0]
    assert in_use(config) == []
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, rocksdict; db = rocksdict.Rdict(sys.argv[1]); print('open', flush=True); "
            "sys.stdin.read()",
            str(region.data_dir),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"open\n"
        with socket.socket() as taken:
            taken.bind((region.replicator_listen.host, region.replicator_listen.port))
            taken.listen()
            assert in_use(config) == [
                f"{region.replicator_listen} (replicator us-east)",
                f"{region.data_dir} (data of us-east)",
            ]
    finally:
        holder.communicate(b"", timeout=30)
    assert in_use(config) == []


# ---------------------------------------------------------------- the banner


def banner_commands(config_path: pathlib.Path) -> dict[str, list[str]]:
    """The banner's put and get command lines, split as a shell would."""
    text = banner(load(config_path), str(config_path), pathlib.Path("log"))
    lines = [shlex.split(line) for line in text.splitlines() if "meridian put" in line]
    lines += [shlex.split(line) for line in text.splitlines() if "meridian get" in line]
    return {words[1]: words for words in lines}


@pytest.mark.parametrize(
    ("partition_key", "sort_key"),
    [
        ({"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}),
        ({"name": "id", "type": "N"}, None),
        ({"name": "list", "type": "S"}, {"name": "at", "type": "N"}),
        ({"name": "blob", "type": "B"}, {"name": "note", "type": "N"}),
    ],
)
def test_the_banner_item_fits_the_first_table(
    tmp_path: pathlib.Path, partition_key: dict, sort_key: dict | None
) -> None:
    table = {"name": "things", "partition_key": partition_key}
    if sort_key is not None:
        table["sort_key"] = sort_key
    doc = e2e_group(tmp_path, ("us-east", "eu-west"), tables=[table])
    config_path = write_group(tmp_path / "group.yaml", doc)
    check_banner_fits(config_path)


@pytest.mark.parametrize("example", ["deploy/local/group.yaml", "examples/group.yaml"])
def test_the_banner_item_fits_the_example_groups(example: str) -> None:
    check_banner_fits(pathlib.Path(__file__).parents[2] / example)


def check_banner_fits(config_path: pathlib.Path) -> None:
    commands = banner_commands(config_path)
    spec = load(config_path).tables[0].to_spec()
    schema = Schema(spec)
    item = parse_item(commands["put"][-1], "ITEM_JSON", typed=False)
    schema.extract(item)  # raises ItemError when a key attribute is missing or mistyped
    assert len(item.attributes) > len(schema.key_of(item).attributes)  # and one more
    key = parse_item(commands["get"][-1], "KEY_JSON", typed=False)
    schema.check_key(key)
    assert key == schema.key_of(item)


def test_the_banner_shows_the_dynamodb_endpoints_only_where_served(
    tmp_path: pathlib.Path,
) -> None:
    doc = e2e_group(tmp_path, ("us-east", "eu-west"))
    doc["regions"][1]["api"] = {"listen": "127.0.0.1:8001"}
    text = banner(load(write_group(tmp_path / "g.yaml", doc)), "g.yaml", pathlib.Path("log"))
    assert "  eu-west      http://127.0.0.1:8001" in text
    api_section = text.split("DynamoDB API", 1)[1].split("boto3", 1)[0]
    assert "us-east" not in api_section
    code = next(line for line in text.splitlines() if line.startswith("  python3 -c "))
    assert 'endpoint_url="http://127.0.0.1:8001", region_name="eu-west"' in code
    assert 'aws_access_key_id="any"' in code  # no auth section: any credentials do
    doc["regions"][1].pop("api")
    plain = banner(load(write_group(tmp_path / "g.yaml", doc)), "g.yaml", pathlib.Path("log"))
    assert "DynamoDB" not in plain and "boto3" not in plain


def test_the_banner_links_every_regions_status_page(tmp_path: pathlib.Path) -> None:
    doc = e2e_group(tmp_path, ("us-east", "eu-west"))
    first, second = doc["regions"]
    port = int(first["replicator"]["metrics"].rsplit(":", 1)[1])
    first["replicator"]["metrics"] = f"0.0.0.0:{port}"
    doc["insecure"] = True
    password = tmp_path / "password"
    password.write_text("pw\n")
    for region in doc["regions"]:
        region["metrics"]["basic_auth"] = {"username": "ops", "password_file": str(password)}
    config_path = write_group(tmp_path / "group.yaml", doc)
    text = banner(load(config_path), str(config_path), pathlib.Path("log"))
    assert "live status pages, ?format=json for scripts (user ops, basic auth):" in text
    assert f"us-east      http://127.0.0.1:{port}/status" in text  # reached on the loopback
    assert f"eu-west      http://{second['replicator']['metrics']}/status" in text
