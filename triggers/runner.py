"""A region's trigger runner: every trigger of the region as one component.

Start order: wait for the node and check its group and region, check every checkpoint
file, start a pipeline (``triggers.pipeline``) per enabled trigger, then serve gRPC health
(the supervisor's readiness signal) and metrics. Stop order: health NOT_SERVING, cancel the
pipelines (in-flight invocations are abandoned and their workers killed; those records run
again after a restart), save every checkpoint, close the node channel, stop serving metrics.
stop() is idempotent.
"""

from __future__ import annotations

import asyncio
import logging

import grpc
from prometheus_client import CollectorRegistry

from meridian.config import GroupConfig
from meridian.daemon import trigger_checkpoint as checkpoint
from meridian.daemon.errors import StartupError
from meridian.daemon.grpc_server import GrpcServer
from meridian.daemon.health_door import HealthDoor
from meridian.daemon.listen import config_key
from meridian.daemon.local_node import local_node
from meridian.daemon.metrics_endpoint import MetricsEndpoint
from meridian.daemon.serving import Door, load_credentials, metrics_pair, server_files
from meridian.daemon.tasks import TaskGroup
from meridian.pb import client_pb2_grpc
from meridian.security.dial import Dialer
from meridian.security.tls import ReloadingServerCredentials
from meridian.wire import peer_token
from triggers.metrics import TriggerMetrics
from triggers.pipeline import TriggerTask

log = logging.getLogger(__name__)


class Runner:
    """Every trigger of one region, as one component with start/stop."""

    def __init__(
        self,
        config: GroupConfig,
        region: str,
        registry: CollectorRegistry | None = None,
        *,
        serve: bool = True,
        node_wait_s: float = 30.0,
    ) -> None:
        self.config = config
        self.region = config.region(region)
        self.triggers = config.triggers_of(region)
        self.registry = registry or CollectorRegistry()
        self.metrics = TriggerMetrics(self.registry)
        self.failed = asyncio.Event()
        self.tasks: list[TriggerTask] = []
        self._serve = serve
        self._node_wait_s = node_wait_s
        self._group = TaskGroup(f"triggers {region}", self._crashed)
        self._channel: grpc.aio.Channel | None = None
        self._server: GrpcServer | None = None
        self._tls: ReloadingServerCredentials | None = None
        self._health_door: HealthDoor | None = None
        self._metrics: MetricsEndpoint | None = None
        self._stopped = False

    def _crashed(self, name: str, exc: BaseException) -> None:
        log.critical("%s crashed; the trigger runner stops: %s", name, exc)
        self.failed.set()

    async def start(self) -> None:
        # The node's identity through its peer door (the runner is one of the region's own
        # processes), then the client door, with the region's token, for the work.
        peer, _, _ = await local_node(self.config, self.region, self._node_wait_s)
        await peer.close()
        token = peer_token.read(self.region.data_dir) or ""
        dialer = Dialer.for_region(
            self.config, self.region.name, lambda method: [(peer_token.METADATA_KEY, token)]
        )
        self._channel = dialer.channel(str(self.region.node_listen), self.region.name)
        node = client_pb2_grpc.ClientStub(self._channel)
        for trigger in self.triggers:
            try:  # a damaged checkpoint is a startup problem, not a crash loop
                checkpoint.load(checkpoint.path_for(self.region, trigger.name))
            except checkpoint.CheckpointError as exc:
                raise StartupError(f"trigger {trigger.name}: {exc}") from exc
        for trigger in self.triggers:
            labels = (self.region.name, trigger.name)
            self.metrics.enabled.labels(*labels).set(1 if trigger.enabled else 0)
            if not trigger.enabled:
                log.info("trigger %s is disabled (enabled: false)", trigger.name)
                continue
            task = TriggerTask(self.config, self.region, trigger, node, self.metrics)
            self.tasks.append(task)
            self._group.spawn(f"trigger {trigger.name}", task.run())
        if self._serve:
            await self._serve_endpoints()
        log.info(
            "trigger runner %s: %d triggers running (%s), health on %s, metrics on %s",
            self.region.name,
            len(self.tasks),
            ", ".join(t.trigger.name for t in self.tasks) or "none",
            self.region.trigger_listen,
            self.region.trigger_metrics_listen,
        )

    async def _serve_endpoints(self) -> None:
        """gRPC health and /metrics; the config requires both addresses where triggers run."""
        listen, metrics = self.region.trigger_listen, self.region.trigger_metrics_listen
        assert listen is not None and metrics is not None
        names = [r.name for r in self.config.regions]
        key = config_key(names, self.region.name, "triggers.listen")
        files = server_files(self.config, self.region, Door.TRIGGERS)
        self._tls = load_credentials(files, f"the trigger runner of {self.region.name}")
        credentials = None if self._tls is None else self._tls.credentials()
        self._server = GrpcServer(str(listen), key, credentials=credentials)
        await self._server.start()
        await self._server.set_ready(True)
        if self.region.trigger_health is not None:
            key = config_key(names, self.region.name, "triggers.health")
            self._health_door = HealthDoor(
                str(self.region.trigger_health), key, self._server.health
            )
            await self._health_door.start()
        key = config_key(names, self.region.name, "triggers.metrics")
        tls = metrics_pair(self.config, self.region, metrics)
        self._metrics = MetricsEndpoint(
            str(metrics), self.registry, key, tls, self.region.metrics_auth
        )
        self._metrics.start()

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._server is not None:
            await self._server.stop(grace=1.0)
        if self._health_door is not None:
            await self._health_door.stop()
        await self._group.cancel_all()
        for task in self.tasks:
            await task.close()
        if self._channel is not None:
            await self._channel.close()
        if self._metrics is not None:
            self._metrics.stop()
        log.info("trigger runner %s stopped", self.region.name)
