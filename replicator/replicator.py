"""A region's replicator: serves its own-origin records and pulls every peer's.

Start order: wait for the local node (it may still be starting), check that it is the node
of this group and region, serve the Replicator service, then start one link per peer and
the lag updater; readiness (`meridian.readiness`) turns SERVING once the region is ACTIVE.
Stop order: health NOT_SERVING, end the streams still open (peers' pulls)
and wait for them (regionnode/edge.py), stop serving (short grace), cancel links and
updater, close the node channel. stop() is idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import grpc
from prometheus_client import CollectorRegistry

from meridian.config import GroupConfig
from meridian.daemon.grpc_server import GrpcServer
from meridian.daemon.health_door import HealthDoor
from meridian.daemon.listen import config_key
from meridian.daemon.local_node import local_node
from meridian.daemon.metrics_endpoint import MetricsEndpoint
from meridian.daemon.serving import Door, load_credentials, metrics_pair, server_files
from meridian.daemon.tasks import TaskGroup
from meridian.model import hlc
from meridian.pb import node_pb2 as pb
from meridian.pb import replicator_pb2_grpc as rpb_grpc
from meridian.security.dial import Dialer
from meridian.security.tls import ReloadingServerCredentials
from meridian.wire.oneline import describe
from replicator.applier import NodeStub
from replicator.feeds import Feeds
from replicator.handshake import Identity
from replicator.identity import local_identity
from replicator.join import join
from replicator.link import Link, LinkSettings
from replicator.metrics import ReplicatorMetrics
from replicator.pins import Pins
from replicator.service import ReplicatorService
from replicator.status.collect import Collector
from replicator.status.page import PATH as STATUS_PATH
from replicator.status.page import StatusCache, status_app

log = logging.getLogger(__name__)

SERVICE_NAME = "meridian.replicator.v1.Replicator"


class Replicator:
    def __init__(
        self,
        config: GroupConfig,
        region: str,
        registry: CollectorRegistry | None = None,
        *,
        serve_metrics: bool = True,
        node_wait_s: float = 30.0,
    ) -> None:
        self.config = config
        self.region = config.region(region)
        self.registry = registry or CollectorRegistry()
        self.metrics = ReplicatorMetrics(self.registry)
        self.metrics.region_state.labels(self.region.name).state("STARTING")
        self.failed = asyncio.Event()
        self.links: list[Link] = []
        self.port = 0
        self._serve_metrics = serve_metrics
        self._node_wait_s = node_wait_s
        self._tasks = TaskGroup(f"replicator {region}", self._crashed)
        self._channel: grpc.aio.Channel | None = None
        self._server: GrpcServer | None = None
        self._tls: ReloadingServerCredentials | None = None
        self._health_door: HealthDoor | None = None
        self._metrics: MetricsEndpoint | None = None
        self._feeds: Feeds | None = None  # node subscriptions shared by the peers' pulls
        self._status: tuple[Collector, StatusCache] | None = None
        self._stopped = False

    def _crashed(self, name: str, exc: BaseException) -> None:
        log.critical("%s crashed; the replicator stops: %s", name, describe(exc))
        self.failed.set()

    async def start(self) -> None:
        name = self.region.name
        self._channel, _, _ = await local_node(self.config, self.region, self._node_wait_s)
        node = NodeStub(self._channel)  # relays records as bytes (replicator/applier.py)
        me = await local_identity(node)
        self._feeds = Feeds(node, name)
        members = [r.name for r in self.config.regions]
        addresses = {
            r.name: str(r.replicator_address) for r in self.config.regions if r.name != name
        }
        pins = Pins(node, name)
        self.dialer = Dialer.for_region(self.config, name)
        service = ReplicatorService(
            region=name,
            members=members,
            node=node,
            links=lambda: self.links,
            metrics=self.metrics,
            pins=pins,
            dialer=self.dialer,
            addresses=addresses,
            bootstrap_batch=self.config.replication.bootstrap_batch,
            feeds=self._feeds,
        )
        await self._serve(service)
        rep = self.config.replication
        settings = LinkSettings(
            rep.batch_size,
            rep.max_clock_offset_ms,
            rep.heartbeat_interval_s,
            rebuild_every_s=rep.tombstone_max_lifetime_s,
            bootstrap_batch=rep.bootstrap_batch,
        )
        for peer in self.config.regions:
            if peer.name == name:
                continue
            link = Link(
                peer=peer.name,
                address=str(peer.replicator_address),
                node=node,
                region=name,
                members=members,
                settings=settings,
                metrics=self.metrics,
                pins=pins,
                dialer=self.dialer,
            )
            self.links.append(link)
        peers = [r for r in self.config.regions if r.name != name]
        self._tasks.spawn("join", self._join_then_link(node, me, peers))
        self._tasks.spawn("lag", self._lag_loop())
        if self._serve_metrics:
            self._serve_status_and_metrics(node, pins)
        if self.config.insecure and self.config.tls is None:
            log.warning(
                "insecure: true: this replicator talks to its peers in plaintext; add a tls "
                "section to the group file"
            )
        log.info(
            "replicator %s (node %s) serving on %s, pulling from %s",
            name,
            me.node_id,
            self.region.replicator_listen,
            ", ".join(link.peer for link in self.links),
        )

    def _serve_status_and_metrics(self, node: Any, pins: Pins) -> None:
        """/metrics and the status page (/status) on the replicator's metrics address."""
        collector = Collector(
            self.config, self.region.name, node, lambda: self.links, pins, self.dialer
        )
        cache = StatusCache(collector.collect)
        self._status = (collector, cache)
        listen = self.region.replicator_metrics_listen
        self._metrics = MetricsEndpoint(
            str(listen),
            self.registry,
            self._key("replicator.metrics"),
            metrics_pair(self.config, self.region, listen),
            self.region.metrics_auth,
            pages={STATUS_PATH: status_app(cache, asyncio.get_running_loop())},
        )
        self._metrics.start()

    async def _join_then_link(self, node: Any, me: Identity, peers: list[Any]) -> None:
        """Bootstrap if this region needs it, then pull from every peer."""
        await join(
            self.dialer, node, me, peers, self._progress, self.config.replication.bootstrap_batch
        )
        self.metrics.region_state.labels(self.region.name).state("ACTIVE")
        if self._server is not None:
            await self._server.set_ready(True)
        for link in self.links:
            self._tasks.spawn(f"link from {link.peer}", link.run())

    def _progress(self, state: pb.BootstrapState, table: str) -> None:
        m, region = self.metrics, self.region.name
        m.region_state.labels(region).state("BOOTSTRAPPING")
        m.bootstrap_entries.labels(region).set(state.entries)
        m.bootstrap_estimate.labels(region).set(state.entries_estimate)
        m.bootstrap_bytes.labels(region).set(state.bytes)

    async def _serve(self, service: ReplicatorService) -> None:
        """Serve peers and operators; with TLS, only callers with a certificate of the
        group's CA get past the handshake (mutual TLS)."""
        listen = str(self.region.replicator_listen)
        files = server_files(self.config, self.region, Door.REPLICATOR)
        self._tls = load_credentials(files, f"the replicator of {self.region.name}")
        credentials = None if self._tls is None else self._tls.credentials()
        self._server = GrpcServer(
            listen, self._key("replicator.listen"), [SERVICE_NAME], credentials=credentials
        )
        self._server.add_service(rpb_grpc.add_ReplicatorServicer_to_server, service)
        self.port = await self._server.start()
        if self.region.replicator_health is not None:
            self._health_door = HealthDoor(
                str(self.region.replicator_health),
                self._key("replicator.health"),
                self._server.health,
            )
            await self._health_door.start()

    def _key(self, field: str) -> str:
        return config_key([r.name for r in self.config.regions], self.region.name, field)

    async def _lag_loop(self) -> None:
        """Keep lag gauges moving while a link is down or idle, and each link's recent lag
        (the status page's sparklines) sampled at a steady pace."""
        while True:
            now = hlc.wall_ms()
            for link in self.links:
                lag = link.lag_seconds(now)
                self.metrics.lag.labels(link.peer, self.region.name).set(lag)
                link.status.lag_history.append(lag)
            await asyncio.sleep(0.5)

    async def stop(self, grace: float = 1.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._server is not None:
            await self._server.stop(grace, closing=f"replicator {self.region.name} stopping")
        if self._health_door is not None:
            await self._health_door.stop()
        await self._tasks.cancel_all()
        if self._feeds is not None:
            await self._feeds.close()
        if self._status is not None:
            collector, cache = self._status
            await cache.close()
            await collector.close()
        if self._channel is not None:
            await self._channel.close()
        if self._metrics is not None:
            self._metrics.stop()
        log.info("replicator %s stopped", self.region.name)
