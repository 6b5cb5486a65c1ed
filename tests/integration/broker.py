"""A real mosquitto on a free loopback port, with its own config, that tests may kill and restart; and the
client a test connects with, to it or to any other broker."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

import aiomqtt
import pytest
from aiomqtt.exceptions import MqttConnectError

MOSQUITTO_CANDIDATES = ("mosquitto", "/usr/sbin/mosquitto")


def find_mosquitto() -> str:
    """The mosquitto binary; a missing broker fails the test (never skips): scripts/setup installs it."""
    for candidate in MOSQUITTO_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    pytest.fail("mosquitto is not installed: run scripts/setup (it installs it with apt-get)")


class Endpoint(Protocol):
    """Where a broker listens: our mosquitto fixture, or one node of a cluster."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...


CONNECT_DEADLINE = 60.0  # how long a test's own client keeps trying to connect


@asynccontextmanager
async def connected_client(endpoint: Endpoint, **options: Any) -> AsyncIterator[aiomqtt.Client]:
    """An aiomqtt client of the test's own, connected to `endpoint` (`options` go to `aiomqtt.Client`).

    A CONNECT left unanswered for aiomqtt's 10 s, or a connection the broker drops, is tried again until
    `CONNECT_DEADLINE`: a NATS node whose JetStream session lookup timed out (after a node death, on a loaded
    machine) keeps the connection open and never answers it. A refusal (CONNACK with an error) is not retried.
    """
    client = await _first_connection(endpoint, options)
    try:
        yield client
    finally:
        await client.__aexit__(None, None, None)


async def _first_connection(endpoint: Endpoint, options: dict[str, Any]) -> aiomqtt.Client:
    deadline = asyncio.get_running_loop().time() + CONNECT_DEADLINE
    while True:
        client = aiomqtt.Client(endpoint.host, endpoint.port, **options)
        try:
            await client.__aenter__()
        except MqttConnectError:
            raise
        except aiomqtt.MqttError:
            _abandon(client)
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)  # between attempts
        else:
            return client


def _abandon(client: aiomqtt.Client) -> None:
    """Close a failed attempt's socket: aiomqtt leaves a CONNECT that timed out connected."""
    with suppress(Exception):  # best effort: the attempt is over either way
        client._client._sock_close()  # noqa: SLF001 - aiomqtt < 3 has no public way (gateway/mqtt.py's _abort)
    disconnected = client._disconnected  # noqa: SLF001
    if disconnected.done() and not disconnected.cancelled():
        disconnected.exception()  # retrieved: no "Future exception was never retrieved" at garbage collection


_HANDED_OUT: set[int] = set()  # never the same port twice in one run (a killed broker comes back on its own)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, below the kernel's ephemeral range.

    A port the kernel picks for `bind(0)` is an ephemeral one, and between our pick and the server's bind an
    outgoing connection (a NATS route dialling a peer, a client) can be given that same port: a cluster of three
    nodes started at once hit "address already in use". Below the range only listeners take ports.
    """
    first, last = _port_slice(20_000, _ephemeral_low() - 1)
    for _ in range(500):
        port = random.randint(first, last)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free loopback port in {first}..{last}")


def _port_slice(first: int, last: int) -> tuple[int, int]:
    """This test process's own share of the port range: pytest-xdist workers run side by side, and a worker must
    never take the port of another's broker while that one is killed for a fault test (it restarts on its port)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or count <= 1:
        return first, last
    width = (last - first + 1) // count
    start = first + int(worker[2:]) * width
    return start, start + width - 1


def _ephemeral_low() -> int:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text(encoding="ascii")
        return max(int(text.split()[0]), 20_100)
    except (OSError, ValueError, IndexError):
        return 32_768


class Broker:
    """One mosquitto process; `kill()`/`start()` keep the same port, config and persistence directory."""

    def __init__(
        self,
        workdir: Path,
        *,
        persistent: bool = False,
        listener_options: Sequence[str] = (),
        options: Sequence[str] = ("allow_anonymous true",),
        nodelay: bool = True,
    ) -> None:
        self.workdir = workdir
        self.host = "127.0.0.1"
        self.port = free_port()
        self.binary = find_mosquitto()
        self.process: subprocess.Popen[bytes] | None = None
        self.config_path = workdir / "mosquitto.conf"
        self.log_path = workdir / "mosquitto.log"
        self._persistent = persistent
        self._listener_options = listener_options
        self._nodelay = nodelay
        self.configure(options)

    def configure(self, options: Sequence[str]) -> None:
        """(Re)write the config with these options; the next `start()` uses it (same port and persistence)."""
        workdir, persistent, listener_options, nodelay = (
            self.workdir,
            self._persistent,
            self._listener_options,
            self._nodelay,
        )
        lines = [
            f"listener {self.port} {self.host}",
            *listener_options,
            *options,
            "max_queued_messages 0",
            f"set_tcp_nodelay {'true' if nodelay else 'false'}",
            f"log_dest file {self.log_path}",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # otherwise it drops to `mosquitto`, which cannot write our tmp dirs
        if persistent:
            (workdir / "data").mkdir(exist_ok=True)
            lines += [
                "persistence true",
                f"persistence_location {workdir / 'data'}/",
                "autosave_on_changes true",
                "autosave_interval 1",
            ]
        self.config_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def start(self, timeout: float = 10.0) -> None:
        """Start mosquitto and wait until it accepts connections; fail the test if it cannot."""
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                pytest.fail(f"mosquitto exited at start-up ({self.process.returncode}): {err} {self.log()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        pytest.fail(f"mosquitto did not listen on {self.host}:{self.port} within {timeout} s")

    def freeze(self) -> None:
        """SIGSTOP: the broker stops answering but its sockets stay open (a hung host, a dead link)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT after freeze()."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, connections reset."""
        self._signal_and_wait(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM, as mosquitto's own tests restart it."""
        self._signal_and_wait(signal.SIGTERM)

    def _signal_and_wait(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a frozen broker would never handle the signal
            self.process.send_signal(signum)
            self.process.wait(timeout=10)
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def log(self) -> str:
        """The broker's log so far (for failure messages)."""
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""
