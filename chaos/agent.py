"""The per-region agent: one process inside each region's namespace that does all gRPC and
HTTP work there (workload clients, health checks, metric samples, final dumps).

Started by the controller as `ip netns exec <ns> python -m chaos.agent --config GROUP_FILE
--region R --node HOST:PORT`; it reads one JSON command per line on stdin and answers each
with one JSON line on stdout carrying the same "id" (commands run concurrently). Logs go to
stderr.

Security follows the group file: with a `tls` section every channel is TLS trusting only the
group's CA, the workload's and the checker's reads sign each call with the access key in
MERIDIAN_ACCESS_KEY_ID / MERIDIAN_SECRET_ACCESS_KEY (environment, not the command line),
replicators are called with the operator's certificate (they ask every caller for one of the
group's), and metrics are fetched over HTTPS. Without it, everything is plaintext.

Commands: health {endpoint}, start {spec, history}, stop, digest, head, dump {path},
status {endpoint} (replicator links), metrics {url}, sample {url, path, interval},
sample_stop, exit.
`AgentClient` is the controller's side.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import pathlib
import ssl
import sys
import time
import urllib.request
from typing import Any

import grpc
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc

from chaos import dump
from chaos.workload import Spec, Workload
from meridian.config import GroupConfig, load
from meridian.model import render
from meridian.pb import client_pb2_grpc as pb_grpc
from meridian.pb import replicator_pb2 as rpb
from meridian.pb import replicator_pb2_grpc as rpb_grpc
from meridian.security.dial import Dialer

log = logging.getLogger("chaos.agent")
REPO = pathlib.Path(__file__).resolve().parent.parent
KEY_ID_ENV, SECRET_ENV = "MERIDIAN_ACCESS_KEY_ID", "MERIDIAN_SECRET_ACCESS_KEY"
# Reconnect quickly after a node restart (gRPC's default backoff grows to two minutes).
RECONNECT_OPTIONS = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1000),
)


class AgentError(RuntimeError):
    """A command failed in the agent (the message says which and why)."""


def fetch(url: str, context: ssl.SSLContext | None = None, timeout: float = 1.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
        return response.read().decode()


class Agent:
    def __init__(self, config: GroupConfig, region: str, node: str, table: str) -> None:
        self.region = region
        self.table = table
        # replicators and health checks: the operator's certificate (when the group has TLS)
        self.operator = Dialer.for_operator(config).with_options(*RECONNECT_OPTIONS)
        client = Dialer(config).with_options(*RECONNECT_OPTIONS)
        if os.environ.get(KEY_ID_ENV):
            client = client.with_access_key(os.environ[KEY_ID_ENV], os.environ[SECRET_ENV])
        self.channel = client.channel(node, region)
        self.stub = pb_grpc.ClientStub(self.channel)
        tls = config.tls
        self.https = None if tls is None else ssl.create_default_context(cafile=str(tls.ca))
        self.workload: Workload | None = None
        self.sampler: asyncio.Task[None] | None = None
        self._health: dict[str, grpc.aio.Channel] = {}

    async def handle(self, msg: dict[str, Any]) -> dict[str, Any]:
        cmd = msg.get("cmd")
        if cmd == "health":
            return {"status": await self.health(msg["endpoint"])}
        if cmd == "start":
            self.workload = Workload(self.stub, Spec.from_dict(msg["spec"]), msg["history"])
            self.workload.start()
            return {}
        if cmd == "stop":
            counts = await self.workload.stop() if self.workload is not None else {}
            self.workload = None
            return {"counts": counts}
        if cmd == "digest":
            return await dump.digest(self.stub, self.table)
        if cmd == "head":
            return {"head": await dump.head(self.stub, self.table)}
        if cmd == "dump":
            data = {
                "region": self.region,
                "digest": await dump.digest(self.stub, self.table),
                "state": await dump.state(self.stub, self.table),
                "stream": await dump.stream(self.stub, self.table),
            }
            pathlib.Path(msg["path"]).write_text(render.to_json(data))  # exact numbers
            return {"keys": len(data["state"]), "records": len(data["stream"])}
        if cmd == "status":
            return {"links": await self.status(msg["endpoint"])}
        if cmd == "metrics":
            return dump.replication_sample(await asyncio.to_thread(fetch, msg["url"], self.https))
        if cmd == "sample":
            self.sampler = asyncio.ensure_future(
                self.sample(msg["url"], msg["path"], float(msg.get("interval", 0.5)))
            )
            return {}
        if cmd == "sample_stop":
            if self.sampler is not None:
                self.sampler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self.sampler
            return {}
        raise AgentError(f"unknown command {cmd!r}")

    async def health(self, endpoint: str) -> str:
        channel = self._health.get(endpoint)
        if channel is None:
            channel = self._health[endpoint] = self.operator.channel(endpoint, self.region)
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1
            )
        except grpc.aio.AioRpcError as exc:
            return exc.code().name
        return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)

    async def status(self, endpoint: str) -> list[dict[str, Any]]:
        """The replicator's view of each link into this region (Status RPC)."""
        async with self.operator.channel(endpoint, self.region) as channel:
            reply = await rpb_grpc.ReplicatorStub(channel).Status(rpb.StatusRequest(), timeout=5)
        return [json_format.MessageToDict(link) for link in reply.links]

    async def sample(self, url: str, path: str, interval: float) -> None:
        """Append one replication sample per interval (or the scrape error) to path."""
        with open(path, "a") as out:
            while True:
                started = time.monotonic()
                row: dict[str, Any] = {"t": time.time_ns(), "region": self.region}
                try:
                    sample = await asyncio.to_thread(fetch, url, self.https)
                    row.update(dump.replication_sample(sample))
                except Exception as exc:
                    row["error"] = str(exc)[:200]
                out.write(json.dumps(row) + "\n")
                out.flush()
                await asyncio.sleep(max(0.05, interval - (time.monotonic() - started)))


async def serve(agent: Agent) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    pending: set[asyncio.Task[None]] = set()

    async def run(msg: dict[str, Any]) -> None:
        try:
            reply = {"id": msg.get("id"), "ok": True, **await agent.handle(msg)}
        except Exception as exc:
            log.exception("command %s failed", msg.get("cmd"))
            reply = {"id": msg.get("id"), "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()

    while line := await reader.readline():
        msg = json.loads(line)
        if msg.get("cmd") == "exit":
            break
        task = asyncio.ensure_future(run(msg))
        pending.add(task)
        task.add_done_callback(pending.discard)
    if agent.workload is not None:
        await agent.workload.stop()
    if agent.sampler is not None:
        agent.sampler.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m chaos.agent")
    parser.add_argument("--config", required=True, type=pathlib.Path, help="the group file")
    parser.add_argument("--region", required=True)
    parser.add_argument("--node", required=True, help="HOST:PORT of the region's node")
    parser.add_argument("--table", default="chaos")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format=f"%(asctime)s %(levelname)s agent[{args.region}]: %(message)s",
    )

    async def go() -> None:
        await serve(Agent(load(args.config), args.region, args.node, args.table))

    asyncio.run(go())


# --------------------------------------------------------------------------- controller side


class AgentClient:
    """The controller's handle on one region's agent process."""

    def __init__(
        self,
        region: str,
        ns: str,
        node: str,
        log_path: pathlib.Path,
        config: pathlib.Path,
        env: dict[str, str] | None = None,
    ) -> None:
        """`config`: the group file; `env`: added to the agent's environment (access key)."""
        self.region = region
        self.ns = ns
        self.node = node
        self.log_path = log_path
        self.config = config
        self.env = env or {}
        self.proc: asyncio.subprocess.Process | None = None
        self._next = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        with open(self.log_path, "ab") as log_file:
            self.proc = await asyncio.create_subprocess_exec(
                "ip",
                "netns",
                "exec",
                self.ns,
                sys.executable,
                "-m",
                "chaos.agent",
                "--config",
                str(self.config),
                "--region",
                self.region,
                "--node",
                self.node,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log_file,
                cwd=REPO,
                env={**os.environ, **self.env},
                start_new_session=True,
                limit=64 * 1024 * 1024,
            )
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            reply = json.loads(line)
            future = self._waiting.pop(reply.get("id"), None)
            if future is not None and not future.done():
                future.set_result(reply)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(AgentError(f"agent {self.region} exited; see {self.log_path}"))
                future.exception()  # its caller may be gone already (teardown)
        self._waiting.clear()

    async def call(self, cmd: str, timeout: float = 60.0, **args: Any) -> dict[str, Any]:
        if self.proc is None or self.proc.stdin is None or self.proc.returncode is not None:
            raise AgentError(f"agent {self.region} is not running; see {self.log_path}")
        self._next += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[self._next] = future
        self.proc.stdin.write((json.dumps({"id": self._next, "cmd": cmd, **args}) + "\n").encode())
        await self.proc.stdin.drain()
        try:
            reply = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            self._waiting.pop(self._next, None)
            raise AgentError(
                f"agent {self.region}: {cmd} did not answer in {timeout:.0f} s"
            ) from None
        if not reply.get("ok"):
            raise AgentError(f"agent {self.region}: {cmd} failed: {reply.get('error')}")
        return reply

    async def close(self) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None:
            with contextlib.suppress(Exception):
                assert self.proc.stdin is not None
                self.proc.stdin.write(b'{"cmd": "exit"}\n')
                await self.proc.stdin.drain()
                self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader


if __name__ == "__main__":
    main()
