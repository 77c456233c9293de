"""A region node: its store, clock, writer, stream readers and doors, as one component.

Health: "" is liveness; the readiness name (`meridian.readiness`) is NOT_SERVING while the
region bootstraps. Doors: the client door (`client_service`, on node.listen), the peer door
(`replication_service`, on node.peer_listen, loopback, admitting only callers with the
region's token) and, when api.listen is set, the DynamoDB door (`regionnode/dynamodb/`).
Start order: open the store, create or check the configured tables, restore the clock from
the persisted high-water mark, start the writer, then open the doors. Stop order (reverse,
each step bounded): mark health NOT_SERVING, stop accepting (the DynamoDB door first) and let
in-flight requests finish within the grace period (the writer keeps committing for them),
stop background tasks, close the store. stop() is idempotent.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import pathlib
import time
from dataclasses import dataclass, field
from typing import cast

from prometheus_client import CollectorRegistry

from meridian.config import GroupConfig
from meridian.config.security import BasicAuth, CertPair
from meridian.config.ttl import SweeperConfig
from meridian.daemon.errors import StartupError
from meridian.daemon.grpc_server import GrpcServer
from meridian.daemon.health_door import HealthDoor
from meridian.daemon.listen import config_key
from meridian.daemon.metrics_endpoint import MetricsEndpoint, ReloadingSslContext
from meridian.daemon.serving import Door, load_credentials, metrics_pair, server_files
from meridian.daemon.tasks import TaskGroup
from meridian.model import catalog as model_catalog
from meridian.model import collection, hlc
from meridian.pb import client_pb2_grpc
from meridian.pb import node_pb2 as pb
from meridian.security.access import CredentialsError
from meridian.security.keystore import KeyStore
from meridian.security.tls import ReloadingServerCredentials, ServerTlsFiles
from meridian.wire import peer_token
from regionnode.catalog import Catalog
from regionnode.client_auth import ClientAuth
from regionnode.client_service import ClientService
from regionnode.collection_ops import Collected, CollectOp
from regionnode.dynamodb.app import DynamoApp
from regionnode.dynamodb.auth import SigV4Auth
from regionnode.dynamodb.control import CatalogControl
from regionnode.dynamodb.door import ApiDoor
from regionnode.dynamodb.iterators import IteratorSigner
from regionnode.dynamodb.time_to_live import TimeToLiveDoor
from regionnode.metrics import NodeMetrics
from regionnode.replication_service import ReplicationService, add_to_server
from regionnode.rpc import Core
from regionnode.snapshot import clear_snapshots
from regionnode.store import TOMBSTONES, Store
from regionnode.stream import Streams
from regionnode.sweeper import Sweeper
from regionnode.writer import Writer

log = logging.getLogger(__name__)

CLIENT_SERVICE = "meridian.client.v1.Client"
PEER_SERVICE = "meridian.replication.v1.Replication"
COLLECT_BATCH = 5000
READINESS_POLL_S = 0.2
HORIZON_LOG_S = 60.0  # a rising rebuild horizon is logged at most this often per peer


@dataclass
class NodeSettings:
    group: str
    region: str
    data_dir: pathlib.Path
    listen: str  # the client door
    peer_listen: str = "127.0.0.1:0"  # the peer door (the region's own replicator)
    metrics_listen: str | None = None
    sync: bool = True
    tables: list[pb.TableSpec] = field(default_factory=list)
    trim_interval_s: float = 10.0
    peers: list[str] = field(default_factory=list)  # other regions of the group
    refuse_reads_while_bootstrapping: bool = False
    tombstone_lifetime_s: int = 24 * 3600
    listen_key: str = "node.listen"  # where the group file sets each address, for errors
    peer_listen_key: str = "node.peer_listen"
    metrics_key: str = "metrics.listen"
    tombstone_max_lifetime_s: int = 7 * 24 * 3600
    max_clock_offset_ms: int = 5000  # replicated clocks further ahead are refused
    client_tls: ServerTlsFiles | None = None  # the client door's TLS; None: plaintext
    credentials: pathlib.Path | None = None  # access keys; None: any client is admitted
    metrics_tls: CertPair | None = None
    metrics_auth: BasicAuth | None = None
    insecure: bool = False  # plaintext beyond loopback, as the group file allows: warn
    health_listen: str | None = None  # a plaintext health-only listener (node.health)
    health_key: str = "node.health"
    api_listen: str | None = None  # the DynamoDB-compatible HTTP API (api.listen); None: off
    api_key: str = "api.listen"
    ttl: SweeperConfig = field(default_factory=SweeperConfig)

    @classmethod
    def from_config(cls, config: GroupConfig, region: str) -> NodeSettings:
        reg = config.region(region)
        names = [r.name for r in config.regions]
        return cls(
            group=config.group,
            region=reg.name,
            data_dir=reg.data_dir,
            listen=str(reg.node_listen),
            peer_listen=str(reg.node_peer_listen),
            metrics_listen=str(reg.metrics_listen),
            sync=config.durability == "fsync",
            tables=[t.to_spec() for t in config.tables],
            peers=[r.name for r in config.regions if r.name != reg.name],
            trim_interval_s=min(
                10.0, max(0.5, min(t.retention_seconds for t in config.tables) / 2)
            ),
            tombstone_lifetime_s=config.replication.tombstone_lifetime_s,
            tombstone_max_lifetime_s=config.replication.tombstone_max_lifetime_s,
            refuse_reads_while_bootstrapping=(
                config.replication.reads_while_bootstrapping == "refuse"
            ),
            listen_key=config_key(names, reg.name, "node.listen"),
            peer_listen_key=config_key(names, reg.name, "node.peer_listen"),
            metrics_key=config_key(names, reg.name, "metrics.listen"),
            max_clock_offset_ms=config.replication.max_clock_offset_ms,
            client_tls=server_files(config, reg, Door.CLIENT),
            credentials=config.auth.credentials if config.auth else None,
            metrics_tls=metrics_pair(config, reg, reg.metrics_listen),
            metrics_auth=reg.metrics_auth,
            insecure=config.insecure and config.tls is None,
            health_listen=str(reg.node_health) if reg.node_health else None,
            health_key=config_key(names, reg.name, "node.health"),
            api_listen=str(reg.api_listen) if reg.api_listen else None,
            api_key=config_key(names, reg.name, "api.listen"),
            ttl=config.replication.ttl,
        )


class Node:
    def __init__(self, settings: NodeSettings, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.registry = registry or CollectorRegistry()
        self.metrics = NodeMetrics(self.registry)
        self.failed = asyncio.Event()
        self.port = 0
        self._tasks = TaskGroup(f"node {settings.region}", self._crashed)
        self.port = 0  # of the client door
        self.peer_port = 0
        self.api_port = 0  # of the DynamoDB door (0: not served)
        self._api_door: ApiDoor | None = None
        self._doors: list[GrpcServer] = []
        self._tls: ReloadingServerCredentials | None = None
        self._health_door: HealthDoor | None = None
        self._metrics: MetricsEndpoint | None = None
        self._store: Store | None = None
        self.core: Core | None = None
        self._stopped = False
        self._horizon_logged: dict[str, float] = {}
        self.sweeper: Sweeper | None = None

    def _crashed(self, name: str, exc: BaseException) -> None:
        log.critical("%s crashed; the node stops: %s", name, exc)
        self.failed.set()

    @property
    def store(self) -> Store:
        assert self._store is not None, "node not started"
        return self._store

    async def start(self) -> None:
        """Start, or stop what was started and raise StartupError."""
        try:
            await self._start()
        except StartupError:
            await self.stop()
            raise

    async def _start(self) -> None:
        s = self.settings
        clear_snapshots(s.data_dir)
        try:
            self._store = Store(s.data_dir, sync=s.sync)
        except Exception as exc:
            raise StartupError(f"cannot open the store in {s.data_dir}: {exc}") from exc
        clock = hlc.HybridClock(self.store.clock_high_water())
        streams = Streams(self.store)
        conflicts: collections.deque[pb.Conflict] = collections.deque(maxlen=1000)
        writer = Writer(
            self.store,
            clock,
            s.region,
            streams.notify,
            conflicts.extend,
            on_batch=self.metrics.commit_operations.observe,
        )
        members = frozenset((s.region, *s.peers))
        catalog = Catalog(self.store, writer, streams, s.region, members)
        try:
            catalog.seed(s.tables)
        except model_catalog.Mismatch as exc:
            raise StartupError(
                f"data directory {s.data_dir} does not match the config: {exc}"
            ) from exc
        self.core = Core(
            group=s.group,
            region=s.region,
            members=members,
            store=self.store,
            writer=writer,
            streams=streams,
            metrics=self.metrics,
            conflicts=conflicts,
            catalog=catalog,
            max_clock_offset_ms=s.max_clock_offset_ms,
            refuse_bootstrapping_reads=s.refuse_reads_while_bootstrapping,
        )
        self.metrics.watch_store(self.store)
        self._tasks.spawn("writer", writer.run())
        await catalog.reconcile_all()
        await self._serve(self.core, peer_token.load_or_create(s.data_dir))
        self._tasks.spawn("housekeeping", self._housekeeping_loop(streams))
        self.sweeper = Sweeper(self.store, writer, s.ttl, self.metrics)
        self._tasks.spawn("ttl sweeper", self.sweeper.run())
        if s.metrics_listen:
            self._metrics = MetricsEndpoint(
                s.metrics_listen, self.registry, s.metrics_key, s.metrics_tls, s.metrics_auth
            )
            self._metrics.start()
        if s.insecure:
            log.warning(
                "insecure: true: this node's client door and metrics may be reached in "
                "plaintext from other machines; add a tls section to the group file"
            )
        log.info(
            "node %s of group %s serving clients on %s:%d and its replicator on %s:%d "
            "(data %s, node id %s, durability %s)",
            s.region,
            s.group,
            s.listen.rsplit(":", 1)[0],
            self.port,
            s.peer_listen.rsplit(":", 1)[0],
            self.peer_port,
            s.data_dir,
            self.store.node_id,
            "fsync" if s.sync else "buffered",
        )
        if s.api_listen:
            log.info(
                "node %s serving the DynamoDB API on %s://%s:%d",
                s.region,
                "http" if s.client_tls is None else "https",
                s.api_listen.rsplit(":", 1)[0],
                self.api_port,
            )

    async def _serve(self, core: Core, token: str) -> None:
        """Open both doors: the client door, and the peer door that admits only callers with
        the region's token."""
        s = self.settings
        self._tls = load_credentials(s.client_tls, f"the client door of {s.region}")
        keys = None if s.credentials is None else _keys(s.credentials)
        guards = [] if keys is None else [ClientAuth(token, keys).guard()]
        client = GrpcServer(
            s.listen,
            s.listen_key,
            [CLIENT_SERVICE],
            guards,
            None if self._tls is None else self._tls.credentials(),
        )
        client.add_service(client_pb2_grpc.add_ClientServicer_to_server, ClientService(core))
        self._doors.append(client)
        self.port = await client.start()
        if s.health_listen:
            self._health_door = HealthDoor(s.health_listen, s.health_key, client.health)
            await self._health_door.start()
        guard = peer_token.guard(token, f"the peer door of node {s.region}")
        peer = GrpcServer(s.peer_listen, s.peer_listen_key, [PEER_SERVICE], [guard])
        peer.add_service(add_to_server, ReplicationService(core))
        self._doors.append(peer)
        self.peer_port = await peer.start()
        if s.api_listen:
            await self._serve_api(core, token, keys)
        # Ready only once every door is open (readiness is what `meridian run` waits for).
        self._tasks.spawn("readiness", self._readiness_loop(client))

    async def _serve_api(self, core: Core, token: str, keys: KeyStore | None) -> None:
        """The DynamoDB-compatible HTTP door: SigV4 with the client door's access keys when
        the group has `auth`, HTTPS with the client door's certificate when it has `tls`."""
        s = self.settings
        assert s.api_listen is not None
        files = s.client_tls
        tls = None
        if files is not None:
            pair = CertPair(files.cert, files.key)
            tls = ReloadingSslContext(pair, s.api_key, files.client_cas).context
        auth = None if keys is None else SigV4Auth(keys, s.region)
        app = DynamoApp(
            core, auth, TimeToLiveDoor(core, CatalogControl(core)), IteratorSigner(token)
        )
        self._api_door = ApiDoor(s.api_listen, s.api_key, app, tls)
        self.api_port = await self._api_door.start()

    async def _readiness_loop(self, door: GrpcServer) -> None:
        """Readiness follows the region's state: NOT_SERVING while it bootstraps (the
        replicator records that in the store), SERVING otherwise."""
        ready: bool | None = None
        while True:
            now = self.store.bootstrap.state != "BOOTSTRAPPING"
            if now != ready:
                await door.set_ready(now)
                ready = now
            await asyncio.sleep(READINESS_POLL_S)

    async def _housekeeping_loop(self, streams: Streams) -> None:
        """Trim streams past their retention and collect tombstones past their lifetime."""
        while True:
            await asyncio.sleep(self.settings.trim_interval_s)
            streams.trim(hlc.wall_ms())
            await self.collect_tombstones(hlc.wall_ms())

    def collection_rule(self, now_ms: int) -> collection.Rule:
        """The tombstone collection rule as of now: this region's checkpoints and each
        peer's last reported ones (`regionnode/collection.py`)."""
        s = self.settings
        return collection.Rule(
            region=s.region,
            peers=frozenset(s.peers),
            own=collection.progress_of(self.store.checkpoints()),
            reports={
                peer: collection.progress_of(report.checkpoints)
                for peer, report in self.store.peers.items()
            },
            now_ms=now_ms,
            lifetime_ms=s.tombstone_lifetime_s * 1000,
            max_lifetime_ms=s.tombstone_max_lifetime_s * 1000,
        )

    async def collect_tombstones(self, now_ms: int) -> int:
        """Drop the oldest tombstones the rule lets go; returns how many went."""
        cutoff = now_ms - self.settings.tombstone_lifetime_s * 1000
        candidates: list[tuple[bytes, bytes]] = []
        for index_key, _ in self.store.scan_prefix(TOMBSTONES):
            if int.from_bytes(index_key[1:9], "big") > cutoff or len(candidates) >= COLLECT_BATCH:
                break
            candidates.append((index_key, index_key[9:]))
        if not candidates:
            return 0
        assert self.core is not None, "node not started"
        op = CollectOp(candidates, self.collection_rule(now_ms))
        result = cast(Collected, await self.core.writer.submit(op))
        self._account(result)
        return result.dropped

    def _account(self, result: Collected) -> None:
        if result.dropped:
            self.metrics.tombstones_collected.inc(result.dropped)
            log.info("collected %d tombstones", result.dropped)
        if result.forced:
            self.metrics.tombstones_forced.inc(result.forced)
        now = time.monotonic()
        for peer, horizon in result.horizons.items():
            if now - self._horizon_logged.get(peer, -HORIZON_LOG_S) < HORIZON_LOG_S:
                continue
            self._horizon_logged[peer] = now
            log.warning(
                "tombstones outlived tombstone_max_lifetime (%d s) and were collected without "
                "%s's confirmation: rebuild horizon of %s raised to %s (its records and "
                "snapshots older than that are not taken; its link resyncs instead)",
                self.settings.tombstone_max_lifetime_s,
                peer,
                peer,
                collection.clock_text(horizon),
            )

    async def stop(self, grace: float = 5.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.core is not None:
            self.core.streams.close()
        if self._api_door is not None:
            await self._api_door.stop(grace)
        for door in self._doors:
            await door.stop(grace)
        if self._health_door is not None:
            await self._health_door.stop()
        await self._tasks.cancel_all()
        if self._metrics is not None:
            self._metrics.stop()
        if self._store is not None:
            self._store.close()
        log.info("node %s stopped", self.settings.region)


def _keys(path: pathlib.Path) -> KeyStore:
    """The access keys of the client door; StartupError when the file cannot be used."""
    try:
        return KeyStore(path)
    except (OSError, CredentialsError) as exc:
        raise StartupError(f"auth.credentials: {exc}") from exc
