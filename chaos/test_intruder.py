"""An intruder on the network of a group that runs with TLS and access keys.

Three member regions and a fourth network namespace that is not a member, all on the chaos
network (namespaces and the hub's router, no added latency). From that namespace,
`chaos.intruder` tries the client door, the replicator and the node's peer-door port of
us-east: in plaintext, with TLS but no credentials, with an access key the group does not
know, with a certificate of another CA issued for eu-west, and with eu-west's own
certificate (stolen) claiming ap-south, with ap-south's node id and the right table
fingerprints, so that only the certificate gives it away. Every attempt is refused (the
stolen certificate may read the replicator's status, as any of the group's may), and
nothing changes: the digests and stream heads of every region are the same before and
after, us-east's replicator counted the refused claims, and the group still replicates in
every direction afterwards. Needs root, iproute2, iptables and /dev/net/tun; outside CI it
is skipped (with the reason) where those are missing, under CI=true it fails instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import time
from typing import Any

import pytest

from chaos import run
from chaos.cluster import GROUP, Cluster, Settings
from chaos.net import REPO, Network, cleanup_leftovers, missing_tools
from chaos.workload import Spec
from meridian.security import certs
from tests.harness import NotYet, eventually

pytestmark = pytest.mark.chaos
MEMBERS = ["us-east", "eu-west", "ap-south"]
OUTSIDER = "intruder"
TARGET, STOLEN, CLAIM = "us-east", "eu-west", "ap-south"
UNREACHABLE = "UNAVAILABLE"  # no TLS session (plaintext, or no certificate of the group's CA)


def expected(row: dict[str, Any]) -> tuple[str, str | None]:
    """The code and reason each attempt must get."""
    who, door = row["as"], row["door"]
    if who == "plaintext" or door == "peer":
        return UNREACHABLE, None
    if door == "client" and row["call"] == "ApplyReplicated":
        return "UNIMPLEMENTED", None  # the replication service is not on the client door
    if door == "client":  # TLS without client certificates; no valid access key
        return "UNAUTHENTICATED", "UNAUTHENTICATED"
    if who.startswith(f"TLS, {STOLEN}'s own certificate"):
        if row["call"] == "Status":
            return "OK", None  # any certificate of the group may read the status
        return "FAILED_PRECONDITION", "HANDSHAKE_REFUSED"
    return UNREACHABLE, None  # the replicator asks for a certificate of the group's CA


def test_an_intruder_on_the_network_gets_nowhere() -> None:
    problems = missing_tools()
    if problems:
        message = "the chaos intruder test cannot run here: " + "; ".join(problems)
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{message} (CI=true: run it as root with iproute2 and iptables)")
        pytest.skip(message)
    out = run.OUT / f"{time.strftime('%Y%m%d-%H%M%S')}-intruder"
    out.mkdir(parents=True)
    cleanup_leftovers()
    asyncio.run(asyncio.wait_for(attack(out), 150))


async def attack(out: pathlib.Path) -> None:
    net = Network([*MEMBERS, OUTSIDER], out)
    cluster = Cluster(out, Settings(regions=len(MEMBERS)), net, members=MEMBERS)
    try:
        await cluster.start()
        await write_for(cluster, out / "history-before.jsonl", 2.0)
        before = await settled(cluster)
        # another CA with the same group name, and its certificate for eu-west
        stranger = out / "stranger"
        certs.write_group_layout(stranger, GROUP, {STOLEN: [net.ip(OUTSIDER)]})
        rows = await asyncio.to_thread(intrude, cluster, stranger)
        (out / "intruder.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        wrong = [(r, expected(r)) for r in rows if (r["code"], r["reason"]) != expected(r)]
        assert not wrong, "\n".join(f"{r} (expected {e})" for r, e in wrong)
        assert len(rows) == 25, rows
        assert await settled(cluster) == before, "the attempts changed a region"
        metrics = await cluster.agents[TARGET].call("metrics", url=cluster.metrics_url(TARGET))
        assert metrics["refusals"].get(CLAIM, 0) >= 3, metrics  # Handshake, Snapshot, Hold
        await write_for(cluster, out / "history-after.jsonl", 1.0)
        after = await settled(cluster)
        assert all(after[r]["head"] > before[r]["head"] for r in MEMBERS), (before, after)
    finally:
        await cluster.stop()
        await cluster.close()


def intrude(cluster: Cluster, stranger: pathlib.Path) -> list[dict[str, Any]]:
    argv = [
        "ip",
        "netns",
        "exec",
        cluster.net.ns(OUTSIDER),
        sys.executable,
        "-m",
        "chaos.intruder",
        "--config",
        str(cluster.config),
        "--target",
        TARGET,
        "--stolen",
        STOLEN,
        "--claim",
        CLAIM,
        "--stranger",
        str(stranger),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


async def write_for(cluster: Cluster, history: pathlib.Path, seconds: float) -> None:
    """Every member's clients write for a while (puts, updates, deletes)."""
    for region in MEMBERS:
        spec = Spec(region=region, clients=1, rate=20.0, seed=MEMBERS.index(region))
        path = str(history.with_name(f"{history.stem}-{region}.jsonl"))
        await cluster.agents[region].call("start", spec=dataclasses.asdict(spec), history=path)
    await asyncio.sleep(seconds)
    for region in MEMBERS:
        counts = (await cluster.agents[region].call("stop"))["counts"]
        assert counts.get("ok"), f"{region}: no call got through: {counts}"


async def settled(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """Every member's digest and stream head once all digests agree."""

    async def agreed() -> dict[str, dict[str, Any]]:
        seen = {}
        for region in MEMBERS:
            agent = cluster.agents[region]
            digest = await agent.call("digest")
            seen[region] = {"digest": digest["digest"], "head": (await agent.call("head"))["head"]}
        if len({s["digest"] for s in seen.values()}) != 1:
            raise NotYet(f"digests differ: {seen}")
        return seen

    logs = list(cluster.procs.values())
    return await eventually(agreed, 30, "every member's digest the same", logs=logs, interval=0.2)
