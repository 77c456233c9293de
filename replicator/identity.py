"""This region's identity as its node reports it, for handshakes."""

from __future__ import annotations

from meridian.model.catalog import incarnation
from meridian.pb import node_pb2 as pb
from meridian.pb import replication_pb2_grpc as pb_grpc
from meridian.pb import replicator_pb2 as rpb
from replicator.handshake import Identity


async def local_identity(node: pb_grpc.ReplicationStub, timeout: float = 5.0) -> Identity:
    info: pb.NodeInfoResponse = await node.NodeInfo(pb.NodeInfoRequest(), timeout=timeout)
    tables = {t.spec.name: incarnation(t) for t in info.tables}
    return Identity(info.group, info.region, info.node_id, tables)


def hello(me: Identity, target_region: str = "") -> rpb.HandshakeRequest:
    return rpb.HandshakeRequest(
        group=me.group,
        region=me.region,
        node_id=me.node_id,
        target_region=target_region,
        tables=[rpb.TableFingerprint(name=n, fingerprint=f) for n, f in sorted(me.tables.items())],
    )


def from_hello(msg: rpb.HandshakeRequest | rpb.HandshakeResponse) -> Identity:
    return Identity(msg.group, msg.region, msg.node_id, {t.name: t.fingerprint for t in msg.tables})
