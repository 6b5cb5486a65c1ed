"""A real NATS cluster (nats-server 2.9, JetStream, MQTT listener per node) on loopback, for tests and benches.

Each node gets its own config file, free loopback ports (client, cluster route, MQTT, monitoring) and a
JetStream store under `workdir`. Readiness is waited for on events: every node reports a JetStream meta
leader and a full set of routes on its monitoring endpoint, and every node's MQTT port answers a CONNECT with
a CONNACK "accepted". Nothing here imports pytest: failures raise `NatsClusterError` carrying the nodes' logs.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.broker import free_port

NATS_CANDIDATES = ("nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server")
HOST = "127.0.0.1"
CLUSTER_NAME = "pmg-test"
STARTUP_TIMEOUT = 120.0  # a 3-node JetStream election on a loaded 2-core machine can take tens of seconds
CONNACK_ACCEPTED = 0


class NatsClusterError(RuntimeError):
    """The cluster (or one node) did not come up; the message carries every node's log."""


def find_nats_server() -> str | None:
    """The nats-server binary, or None when it is not installed."""
    for candidate in NATS_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def _remaining_length(length: int) -> bytes:
    """MQTT's variable-length integer."""
    out = bytearray()
    while True:
        byte, length = length % 128, length // 128
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def _mqtt_string(value: bytes) -> bytes:
    return len(value).to_bytes(2, "big") + value


def connect_packet(
    client_id: str,
    *,
    will: tuple[str, bytes, int, bool] | None = None,
    keepalive: int = 60,
    protocol_level: int = 4,
) -> bytes:
    """An MQTT CONNECT (3.1.1 by default, clean session); `will` is (topic, payload, qos, retain)."""
    flags = 0x02
    payload = _mqtt_string(client_id.encode())
    if will is not None:
        topic, message, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += _mqtt_string(topic.encode()) + _mqtt_string(message)
    variable = _mqtt_string(b"MQTT") + bytes([protocol_level, flags]) + keepalive.to_bytes(2, "big")
    if protocol_level == 5:
        variable += b"\x00"  # no properties
        if will is not None:
            raise ValueError("an MQTT 5 will needs will properties: not supported here")
    body = variable + payload
    return b"\x10" + _remaining_length(len(body)) + body


def publish_packet(topic: str, payload: bytes, *, qos: int = 0, retain: bool = False, packet_id: int = 1) -> bytes:
    """An MQTT PUBLISH."""
    body = _mqtt_string(topic.encode()) + (packet_id.to_bytes(2, "big") if qos else b"") + payload
    header = 0x30 | (qos << 1) | (1 if retain else 0)
    return bytes([header]) + _remaining_length(len(body)) + body


def read_connack(sock: socket.socket) -> bytes:
    """Read one CONNACK (fixed header 0x20, length 2) or whatever the broker sends instead; b"" means closed."""
    data = b""
    while len(data) < 4:
        chunk = sock.recv(4 - len(data))
        if not chunk:
            return data
        data += chunk
    return data


def mqtt_accepts(port: int, client_id: str, timeout: float = 10.0) -> bool:
    """Whether a 3.1.1 CONNECT to 127.0.0.1:`port` is answered with CONNACK "accepted" (then DISCONNECT)."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(connect_packet(client_id))
            answer = read_connack(sock)
            if answer[:1] != b"\x20" or len(answer) < 4 or answer[3] != CONNACK_ACCEPTED:
                return False
            sock.sendall(b"\xe0\x00")
            return True
    except OSError:
        return False


def _http_json(port: int, path: str) -> dict[str, Any] | None:
    """GET a monitoring endpoint; None while the node does not answer."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=5) as response:
            data: dict[str, Any] = json.loads(response.read())
            return data
    except (OSError, ValueError):
        return None


@dataclass
class NatsNode:
    """One node's name, ports and files."""

    index: int
    name: str
    client_port: int
    cluster_port: int
    mqtt_port: int
    monitor_port: int
    config_path: Path
    log_path: Path
    store_dir: Path
    process: subprocess.Popen[bytes] | None = None


class NatsCluster:
    """`nodes` nats-server processes forming one JetStream cluster with an MQTT listener each.

    `start()` launches them and waits until they are ready; `kill(node)` SIGKILLs one, `restart(node)` starts it
    again with the same config, ports and store; `stop()` ends every process this object started.
    """

    def __init__(self, workdir: Path, nodes: int = 3, *, stream_replicas: int | None = None) -> None:
        binary = find_nats_server()
        if binary is None:
            raise NatsClusterError("nats-server is not installed (apt-get install nats-server)")
        self.binary = binary
        self.workdir = workdir
        self.host = HOST
        self.nodes = [self._node(workdir, index) for index in range(nodes)]
        self.stream_replicas = stream_replicas if stream_replicas is not None else min(nodes, 3)
        for node in self.nodes:
            node.config_path.write_text(self._config(node), encoding="utf-8")

    @staticmethod
    def _node(workdir: Path, index: int) -> NatsNode:
        name = f"n{index}"
        store = workdir / name / "jetstream"
        store.mkdir(parents=True, exist_ok=True)
        return NatsNode(
            index=index,
            name=name,
            client_port=free_port(),
            cluster_port=free_port(),
            mqtt_port=free_port(),
            monitor_port=free_port(),
            config_path=workdir / f"{name}.conf",
            log_path=workdir / f"{name}.log",
            store_dir=store,
        )

    def _config(self, node: NatsNode) -> str:
        """The node's config: loopback listeners only, routes to every other node."""
        routes = ", ".join(f'"nats-route://{HOST}:{other.cluster_port}"' for other in self.nodes if other is not node)
        return "\n".join(
            [
                f'server_name: "{node.name}"',
                f'listen: "{HOST}:{node.client_port}"',
                f'http: "{HOST}:{node.monitor_port}"',
                f'log_file: "{node.log_path}"',
                "logtime: true",
                f'jetstream {{ store_dir: "{node.store_dir}" }}',
                "cluster {",
                f'  name: "{CLUSTER_NAME}"',
                f'  listen: "{HOST}:{node.cluster_port}"',
                f"  routes: [{routes}]",
                "}",
                "mqtt {",
                f'  listen: "{HOST}:{node.mqtt_port}"',
                f"  stream_replicas: {self.stream_replicas}",
                "}",
                "",
            ]
        )

    @property
    def mqtt_ports(self) -> list[int]:
        """Each node's MQTT port, by node index."""
        return [node.mqtt_port for node in self.nodes]

    def start(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Start every node and wait until the cluster is ready; raise `NatsClusterError` with the logs if not."""
        for node in self.nodes:
            self._launch(node)
        self._wait(self.nodes, timeout)

    def restart(self, node: int, timeout: float = STARTUP_TIMEOUT) -> None:
        """Start a killed or stopped node again (same config, ports and store) and wait until it is ready."""
        target = self.nodes[node]
        if self.running(node):
            raise NatsClusterError(f"node {target.name} is still running")
        self._launch(target)
        self._wait([target], timeout)

    def running(self, node: int) -> bool:
        """Whether node `node`'s process is alive."""
        process = self.nodes[node].process
        return process is not None and process.poll() is None

    def pid(self, node: int) -> int | None:
        """The PID of node `node` while it runs."""
        process = self.nodes[node].process
        return process.pid if process is not None and process.poll() is None else None

    def kill(self, node: int) -> None:
        """SIGKILL node `node` (by its PID): no clean shutdown, its clients' connections reset."""
        self._signal(self.nodes[node], signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM every node still running (SIGKILL after 20 s), wait for each, close their pipes."""
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes:
            self._reap(node, grace=20.0)

    def log(self, node: int) -> str:
        """Node `node`'s log file so far."""
        path = self.nodes[node].log_path
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def logs(self, tail: int = 60) -> str:
        """The last `tail` lines of every node's log, for failure messages."""
        parts = []
        for node in self.nodes:
            lines = self.log(node.index).splitlines()[-tail:]
            parts.append(f"--- {node.name} (mqtt {node.mqtt_port}) ---\n" + "\n".join(lines))
        return "\n".join(parts)

    def monitor(self, node: int, path: str) -> dict[str, Any] | None:
        """A monitoring endpoint of node `node` (`/jsz`, `/routez`, `/varz`, ...); None if it does not answer."""
        return _http_json(self.nodes[node].monitor_port, path)

    def meta_leader(self, node: int) -> str | None:
        """The JetStream meta leader as node `node` sees it, or None."""
        jsz = self.monitor(node, "/jsz")
        if jsz is None:
            return None
        leader = (jsz.get("meta_cluster") or {}).get("leader")
        return str(leader) if leader else None

    def routes(self, node: int) -> int:
        """How many routes node `node` has (0 when it does not answer)."""
        routez = self.monitor(node, "/routez")
        return int(routez.get("num_routes", 0)) if routez else 0

    def _launch(self, node: NatsNode) -> None:
        node.process = subprocess.Popen(
            [self.binary, "-c", str(node.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def _ready(self, node: NatsNode, peers: int) -> bool:
        """Routes to every other running node, a meta leader, and an MQTT CONNECT accepted."""
        return (
            self.routes(node.index) >= peers
            and self.meta_leader(node.index) is not None
            and mqtt_accepts(node.mqtt_port, f"ready-probe-{node.name}")
        )

    def _wait(self, nodes: list[NatsNode], timeout: float) -> None:
        """Poll until every node in `nodes` is ready; raise with the logs on exit or time-out."""
        deadline = time.monotonic() + timeout
        pending = list(nodes)
        while pending:
            for node in pending:
                self._check_alive(node)
            peers = sum(1 for index in range(len(self.nodes)) if self.running(index)) - 1
            pending = [node for node in pending if not self._ready(node, peers)]
            if pending and time.monotonic() > deadline:
                names = ", ".join(node.name for node in pending)
                raise NatsClusterError(f"NATS nodes {names} not ready within {timeout} s\n{self.logs()}")
            if pending:
                time.sleep(0.1)  # polling interval between probes, not a wait for an outcome

    def _check_alive(self, node: NatsNode) -> None:
        process = node.process
        if process is not None and process.poll() is not None:
            err = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise NatsClusterError(f"{node.name} exited ({process.returncode}) at start-up: {err}\n{self.logs()}")

    def _signal(self, node: NatsNode, signum: int) -> None:
        """Send `signum` to the node's own PID if it runs, then reap it."""
        if node.process is not None and node.process.poll() is None:
            node.process.send_signal(signum)
        self._reap(node, grace=20.0)

    @staticmethod
    def _reap(node: NatsNode, grace: float) -> None:
        """Wait for the node's process (SIGKILL it after `grace` s), close its pipe, forget it."""
        process = node.process
        if process is None:
            return
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=grace)
        if process.stderr:
            process.stderr.close()
        node.process = None

    def __enter__(self) -> NatsCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def server_version() -> dict[str, str]:
    """The nats-server binary and its version, for bench reports."""
    binary = find_nats_server()
    if binary is None:
        return {"nats_server": "missing"}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False, timeout=10)
        return {"nats_server": out.stdout.strip() or out.stderr.strip(), "binary": binary}
    return {"nats_server": "unknown", "binary": binary}
