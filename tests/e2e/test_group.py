"""A whole group as real processes: `meridian run`, then the CLI against it.

Covers what a user does from the README: write in one region and read in another, status,
verify; and what must hold under process faults: kill -9 of a replicator and of a node under
load loses no acknowledged write and applies nothing twice (the supervisor restarts them).
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from tests.e2e.helpers import MeridianRun, e2e_group, json_of, run_cli
from tests.harness import write_group

REGIONS = ("us-east", "eu-west", "ap-south")


class Group:
    """`meridian run CONFIG` in the background; always stopped by the fixture."""

    def __init__(self, base: pathlib.Path) -> None:
        doc = e2e_group(base, REGIONS, durability="fsync")
        doc["replication"] = {"heartbeat_interval": "200ms"}
        self.config = write_group(base / "group.yaml", doc)
        self.log_dir = base / "logs"
        self.run = MeridianRun(self.config, base / "run.out", self.log_dir).start()

    def logs(self) -> str:
        return self.run.log_section()

    def out_text(self) -> str:
        return self.run.log()

    def wait_for(self, check, what: str, timeout: float = 30.0) -> None:
        """Until ``check`` holds while `meridian run` runs."""
        self.run.wait_ready(check, timeout, what)

    def cli(self, *args: object) -> subprocess.CompletedProcess[str]:
        return run_cli(*args)

    def put(self, region: str, item: dict) -> dict:
        result = run_cli("put", "--config", self.config, "--region", region, json.dumps(item))
        assert result.returncode == 0, result.stderr
        return json_of(result.stdout)

    def get(self, region: str, key: dict) -> object:
        result = run_cli("get", "--config", self.config, "--region", region, json.dumps(key))
        assert result.returncode == 0, result.stderr
        return json_of(result.stdout)

    def status(self) -> list[dict]:
        """Every link's row; status exits 0 exactly when all of them stream."""
        result = run_cli("status", "--config", self.config, "--json")
        links = json.loads(result.stdout)["links"]
        streaming = all(r["state"] == "STREAMING" for r in links)
        assert result.returncode == (0 if streaming else 1), result.stdout + result.stderr
        return links

    def pid_of(self, region: str, component: str) -> int:
        """The pid of a child process, found by its command line."""
        module = "regionnode" if component == "node" else "replicator"
        for entry in pathlib.Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if (
                module.encode() in cmd
                and str(self.config).encode() in cmd
                and region.encode() in cmd
            ):
                return int(entry.name)
        raise AssertionError(f"no {component} process for {region}\n{self.logs()}")

    def stop(self) -> int | None:
        return self.run.stop(check=False)


@pytest.fixture
def group(tmp_path: pathlib.Path) -> Iterator[Group]:
    g = Group(tmp_path)
    try:
        g.wait_for(lambda: "is running" in g.out_text(), "the group to start")
        g.wait_for(lambda: all(r["state"] == "STREAMING" for r in g.status()), "all links up")
        yield g
    finally:
        g.stop()


def test_write_in_one_region_read_in_another_status_and_verify(group: Group) -> None:
    banner = group.out_text()
    for region in REGIONS:
        assert region in banner
    assert "meridian put --config" in banner and "meridian get --config" in banner
    reply = group.put("us-east", {"pk": "order-1", "sk": "a", "total": 42})
    assert reply["changed"] is True and reply["version"]["region"] == "us-east"
    key = {"pk": "order-1", "sk": "a"}
    group.wait_for(lambda: group.get("ap-south", key) is not None, "replication to ap-south")
    assert group.get("eu-west", key) == {"pk": "order-1", "sk": "a", "total": 42}
    links = group.status()
    assert {(r["source"], r["target"]) for r in links} == {
        (a, b) for a in REGIONS for b in REGIONS if a != b
    }
    group.wait_for(
        lambda: all(r["lag_records"] == 0 and r["lag_seconds"] < 5 for r in group.status()),
        "lag to settle",
    )
    verify = run_cli("verify", "--config", group.config)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    human = run_cli("status", "--config", group.config)
    for region in REGIONS:
        assert f"{region}: ACTIVE" in human.stdout, human.stdout
    # a resync by hand merges a peer's snapshot and reports what it copied
    resync = run_cli(
        "bootstrap", "--config", group.config, "--region", "ap-south", "--from", "us-east"
    )
    assert resync.returncode == 0, resync.stderr
    assert json_of(resync.stdout)["entries"] >= 1
    wrong = run_cli(
        "bootstrap", "--config", group.config, "--region", "ap-south", "--from", "ap-south"
    )
    assert wrong.returncode == 2 and "--from" in wrong.stderr


def test_a_table_created_with_the_cli_is_used_everywhere_and_deleted(group: Group) -> None:
    where = ("--config", group.config, "--region")

    def rows(region: str) -> dict[str, str]:
        """Table name -> merge mode."""
        result = run_cli("table", "list", *where, region, "--json")
        assert result.returncode == 0, result.stderr
        return {row["table"]: row["merge"] for row in json_of(result.stdout)}

    def listed(region: str) -> list[str]:
        return sorted(rows(region))

    made = run_cli("table", "create", "carts", *where, "us-east", "--partition-key", "id:S")
    assert made.returncode == 0, made.stderr
    assert "created carts (partition key id (S)) in every region" in made.stdout
    again = run_cli("table", "create", "carts", *where, "us-east", "--partition-key", "id:N")
    assert again.returncode != 0 and "already exists" in again.stderr
    group.wait_for(lambda: "carts" in listed("ap-south"), "carts in ap-south")
    put = run_cli("put", *where, "ap-south", "--table", "carts", json.dumps({"id": "c1"}))
    assert put.returncode == 0, put.stderr

    def in_us() -> bool:
        got = run_cli("get", *where, "us-east", "--table", "carts", json.dumps({"id": "c1"}))
        return got.returncode == 0 and json_of(got.stdout) == {"id": "c1"}

    group.wait_for(in_us, "the cart in us-east")

    def verified() -> bool:
        """verify compares the table made at runtime too, and finds it identical."""
        done = run_cli("verify", "--config", group.config, "--json")
        report = json_of(done.stdout)
        tables = {t["table"]: t for t in report["tables"]}
        return done.returncode == 0 and tables["carts"]["regions"][0]["items"] == 1

    group.wait_for(verified, "verify to compare carts in every region")
    notes = ("table", "create", "notes", *where, "us-east", "--partition-key", "id:S")
    made = run_cli(*notes, "--merge", "attribute")
    assert made.returncode == 0, made.stderr
    group.wait_for(lambda: rows("eu-west").get("notes") == "attribute", "notes in eu-west")
    for table in ("carts", "notes"):
        gone = run_cli("table", "delete", table, *where, "eu-west")
        assert gone.returncode == 0, gone.stderr
    for region in REGIONS:
        group.wait_for(lambda r=region: listed(r) == ["orders"], f"carts gone from {region}")


def test_kill_9_replicator_and_node_under_load_loses_nothing(group: Group) -> None:
    acked: dict[str, tuple[int, str]] = {}
    stop = threading.Event()
    errors: list[str] = []

    def writer(region: str) -> None:
        from meridian.config import load
        from meridian.model import items
        from meridian.pb import node_pb2 as pb
        from meridian.wire.channels import connect

        endpoint = str(load(group.config).region(region).node_listen)
        channel, stub = connect(endpoint)
        with channel:
            n = 0
            while not stop.is_set() and n < 600:
                item = {"pk": f"{region}-{n}", "sk": "x", "n": n}
                request = pb.PutItemRequest(table="orders", item=items.from_plain(item))
                try:
                    version = stub.PutItem(request, timeout=10).version
                    acked[item["pk"]] = (version.hlc, version.region)
                except Exception as exc:
                    errors.append(str(exc))
                n += 1
                time.sleep(0.005)

    threads = [threading.Thread(target=writer, args=(r,)) for r in ("us-east", "eu-west")]
    for t in threads:
        t.start()
    time.sleep(2)
    os.kill(group.pid_of("eu-west", "replicator"), signal.SIGKILL)
    time.sleep(2)
    os.kill(group.pid_of("ap-south", "node"), signal.SIGKILL)
    time.sleep(3)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    assert len(acked) > 100 and not errors, errors[:3]
    group.wait_for(
        lambda: all(r["state"] == "STREAMING" for r in group.status()),
        "links back after the kills",
        timeout=60,
    )
    group.wait_for(
        lambda: run_cli("verify", "--config", group.config).returncode == 0,
        "all regions identical",
        timeout=60,
    )
    for pk, (hlc, origin) in list(acked.items())[::7]:
        got = run_cli(
            "get",
            "--config",
            group.config,
            "--region",
            "ap-south",
            "--with-version",
            json.dumps({"pk": pk, "sk": "x"}),
        )
        assert got.returncode == 0, got.stderr
        assert json_of(got.stdout)["version"] == {"hlc": hlc, "region": origin}
    # nothing applied twice: every region's stream holds each write exactly once
    for region in REGIONS:
        tail = run_cli(
            "stream",
            "tail",
            "--config",
            group.config,
            "--region",
            region,
            "--from",
            "trim-horizon",
            "--count",
            str(len(acked)),
            timeout=60,
        )
        assert tail.returncode == 0, tail.stderr
        versions = [
            tuple(json.loads(line)["meridian"]["version"].values())
            for line in tail.stdout.splitlines()
        ]
        assert len(versions) == len(set(versions)) == len(acked), region
