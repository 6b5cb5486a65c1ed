"""A real mosquitto on a free loopback port, with its own config, that tests may kill and restart."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import pytest

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


_HANDED_OUT: set[int] = set()  # never the same port twice in one run (a killed broker comes back on its own)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, below the kernel's ephemeral range.

    A port the kernel picks for `bind(0)` is an ephemeral one, and between our pick and the server's bind an
    outgoing connection (a NATS route dialling a peer, a client) can be given that same port: a cluster of three
    nodes started at once hit "address already in use". Below the range only listeners take ports.
    """
    low = _ephemeral_low()
    for _ in range(500):
        port = random.randint(20_000, low - 1)
        if port in _HANDED_OUT:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free loopback port in 20000..{low - 1}")


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
