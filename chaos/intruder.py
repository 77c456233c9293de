"""An intruder on the chaos network: run as `ip netns exec <ns> python -m chaos.intruder
--config GROUP_FILE --target REGION --stolen REGION --claim REGION --stranger DIR` from a
namespace that is not a member of the group. It tries the doors of the target region across
the network and prints one JSON line per attempt: what it tried and the gRPC status code it
got ("OK" when it got in), with the server's machine-readable reason when there is one.

What the intruder has: the group file and the group CA's certificate (neither is secret),
a certificate and key of another CA with the same group name issued for a member region
(`--stranger`: `<region>.pem`, `<region>-key.pem`, `ca.pem`), a member's own certificate
and key (`--stolen`), and an access key the group does not know. It has no access key of
the group and no operator certificate.

Claims are otherwise valid, so that only the certificate can refuse them: the tables'
fingerprints come from the group file, and the claimed region's node id from the target's
Status, which any certificate of the group may read (the first thing a thief would do).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pathlib
import secrets
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc

from meridian.config import GroupConfig, load
from meridian.model.schema import fingerprint
from meridian.pb import client_pb2_grpc as pb_grpc
from meridian.pb import node_pb2 as pb
from meridian.pb import replication_pb2_grpc
from meridian.pb import replicator_pb2 as rpb
from meridian.pb import replicator_pb2_grpc as rpb_grpc
from meridian.security import access, certs, grpc_auth
from meridian.security.tls import peer_channel_options
from meridian.wire.errors import reason_of

TABLE = "chaos"
TIMEOUT_S = 5.0
Attempt = Callable[[grpc.aio.Channel], Awaitable[Any]]


@dataclass(frozen=True)
class Credentials:
    """How the intruder dials: plaintext, or TLS trusting `ca` with an optional certificate;
    with `key`, every call signed with that access key."""

    label: str
    ca: bytes | None = None
    pair: certs.Issued | None = None
    key: access.AccessKey | None = None

    def channel(self, group: str, target: str, address: str) -> grpc.aio.Channel:
        signing = (
            grpc_auth.access_key_interceptors(self.key.key_id, self.key.secret)
            if self.key
            else None
        )
        if self.ca is None:
            return grpc.aio.insecure_channel(address, interceptors=signing)
        key = self.pair.key_pem() if self.pair else None
        cert = self.pair.cert_pem() if self.pair else None
        credentials = grpc.ssl_channel_credentials(self.ca, key, cert)
        options = peer_channel_options(group, target)
        return grpc.aio.secure_channel(address, credentials, options, interceptors=signing)


async def outcome(attempt: Attempt, channel: grpc.aio.Channel) -> dict[str, Any]:
    async with channel:
        try:
            await attempt(channel)
        except grpc.aio.AioRpcError as exc:
            return {"code": exc.code().name, "reason": reason_of(exc), "details": exc.details()}
    return {"code": "OK", "reason": None, "details": ""}


async def drain(replies: AsyncIterator[Any]) -> None:
    async for _ in replies:
        return  # one message is enough: something was served


@dataclass
class Claim:
    """Who the intruder says it is when a call names a region."""

    group: str
    region: str
    tables: list[rpb.TableFingerprint]
    node_id: str = ""  # learnt from the target's Status; a made-up one until then

    def hello(self, target: str) -> rpb.HandshakeRequest:
        return rpb.HandshakeRequest(
            group=self.group,
            region=self.region,
            node_id=self.node_id or secrets.token_hex(8),
            target_region=target,
            tables=self.tables,
        )


def claim_of(config: GroupConfig, region: str) -> Claim:
    tables = [
        rpb.TableFingerprint(name=t.name, fingerprint=fingerprint(t.to_spec()))
        for t in sorted(config.tables, key=lambda t: t.name)
    ]
    return Claim(config.group, region, tables)


def attempts(claim: Claim, target: str) -> dict[str, tuple[str, Attempt]]:
    """name -> (door, call); calls that name a region claim to be `claim`."""
    item = pb.Item(attributes={"pk": pb.AttributeValue(s="intruder")})

    def hello() -> rpb.HandshakeRequest:
        return claim.hello(target)

    def put(ch: grpc.aio.Channel) -> Awaitable[Any]:
        return pb_grpc.ClientStub(ch).PutItem(
            pb.PutItemRequest(table=TABLE, item=item), timeout=TIMEOUT_S
        )

    def apply(ch: grpc.aio.Channel) -> Awaitable[Any]:
        # a checkpoint jump claimed for another origin: it would stop that origin's records
        request = pb.ApplyReplicatedRequest(
            origin=claim.region, table=TABLE, source_sequence=10**12
        )
        return replication_pb2_grpc.ReplicationStub(ch).ApplyReplicated(request, timeout=TIMEOUT_S)

    async def status(ch: grpc.aio.Channel) -> None:
        reply = await rpb_grpc.ReplicatorStub(ch).Status(rpb.StatusRequest(), timeout=TIMEOUT_S)
        claim.node_id = next((p.node_id for p in reply.pins if p.region == claim.region), "")

    def handshake(ch: grpc.aio.Channel) -> Awaitable[Any]:
        return rpb_grpc.ReplicatorStub(ch).Handshake(hello(), timeout=TIMEOUT_S)

    def snapshot(ch: grpc.aio.Channel) -> Awaitable[Any]:
        request = rpb.SnapshotPullRequest(hello=hello(), snapshot=pb.SnapshotRequest(table=TABLE))
        return drain(rpb_grpc.ReplicatorStub(ch).Snapshot(request, timeout=TIMEOUT_S))

    def hold(ch: grpc.aio.Channel) -> Awaitable[Any]:
        request = rpb.HoldRequest(hello=hello(), hold=pb.HoldRetentionRequest(ttl_seconds=3600))
        return rpb_grpc.ReplicatorStub(ch).Hold(request, timeout=TIMEOUT_S)

    return {
        "PutItem": ("client", put),
        "ApplyReplicated": ("client", apply),
        "Status": ("replicator", status),
        "Handshake": ("replicator", handshake),
        "Snapshot": ("replicator", snapshot),
        "Hold": ("replicator", hold),
        "peer ApplyReplicated": ("peer", apply),
    }


def plan(args: argparse.Namespace, config: GroupConfig) -> list[tuple[str, Credentials]]:
    """(attempt name, credentials) of every try."""
    assert config.tls is not None, "the intruder attacks a group with a tls section"
    ca = config.tls.ca.read_bytes()
    stranger = certs.load_issued(*certs.Layout(args.stranger).region(args.stolen))
    region = config.region(args.stolen)
    assert region.tls is not None
    stolen = certs.load_issued(region.tls.cert, region.tls.key)
    unknown = access.generate(access.Permission.READ_WRITE)
    plain = Credentials("plaintext")
    anonymous = Credentials("TLS, no certificate", ca)
    forged = Credentials("TLS, an access key the group does not know", ca, key=unknown)
    other_ca = Credentials(f"TLS, a {args.stolen} certificate of another CA", ca, stranger)
    thief = Credentials(f"TLS, {args.stolen}'s own certificate claiming {args.claim}", ca, stolen)
    everything = ("PutItem", "ApplyReplicated", "Status", "Handshake", "Snapshot", "Hold")
    return [
        *((name, plain) for name in (*everything, "peer ApplyReplicated")),
        *((name, anonymous) for name in everything),
        *((name, forged) for name in ("PutItem", "ApplyReplicated")),
        *((name, other_ca) for name in everything),
        *((name, thief) for name in ("Status", "Handshake", "Snapshot", "Hold")),
    ]


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    config = load(args.config)
    target = config.region(args.target)
    doors = {
        "client": str(target.node_listen),
        "replicator": str(target.replicator_listen),
        # the node's peer door listens on the target's loopback: its port at the target's
        # network address
        "peer": f"{target.node_listen.host}:{target.node_peer_listen.port}",
    }
    calls = attempts(claim_of(config, args.claim), args.target)
    results = []
    for name, creds in plan(args, config):
        door, call = calls[name]
        got = await outcome(call, creds.channel(config.group, args.target, doors[door]))
        results.append({"door": door, "call": name, "as": creds.label, **got})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m chaos.intruder")
    parser.add_argument("--config", required=True, type=pathlib.Path)
    parser.add_argument("--target", required=True, help="the region whose doors are tried")
    parser.add_argument("--stolen", required=True, help="the member whose certificate leaked")
    parser.add_argument("--claim", required=True, help="the member the stolen one claims to be")
    parser.add_argument("--stranger", required=True, type=pathlib.Path, help="another CA's files")
    args = parser.parse_args()
    for row in asyncio.run(run(args)):
        sys.stdout.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
