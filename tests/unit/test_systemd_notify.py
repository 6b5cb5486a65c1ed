"""Tests of the in-house sd_notify against real AF_UNIX datagram sockets."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.systemd_notify import SystemdNotifier


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket standing in for systemd's notify socket."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    yield sock, path
    sock.close()


class TestSystemdNotifier:
    def test_fields_arrive_in_one_datagram(self, listener: tuple[socket.socket, str]) -> None:
        """READY=1 and STATUS=... are sent together, newline-separated."""
        sock, path = listener
        assert SystemdNotifier({"NOTIFY_SOCKET": path}).notify("READY=1", "STATUS=connected")
        assert sock.recv(4096) == b"READY=1\nSTATUS=connected"

    def test_abstract_namespace(self) -> None:
        """A leading @ addresses the abstract namespace."""
        name = f"pmg-test-{os.getpid()}"
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind("\0" + name)
            sock.settimeout(5)
            assert SystemdNotifier({"NOTIFY_SOCKET": "@" + name}).notify("WATCHDOG=1")
            assert sock.recv(100) == b"WATCHDOG=1"

    def test_no_socket_is_a_silent_no_op(self, tmp_path: Path) -> None:
        """Without $NOTIFY_SOCKET, or with a dead one, nothing is sent and nothing raises."""
        assert not SystemdNotifier({}).notify("READY=1")
        assert not SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")}).notify("READY=1")

    def test_watchdog_interval_is_half_of_watchdog_usec(self) -> None:
        """WATCHDOG_USEC=30 s gives a ping every 15 s; another process's WATCHDOG_PID disables it."""
        assert SystemdNotifier({"WATCHDOG_USEC": "30000000"}).watchdog_interval == 15.0
        own = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}
        assert SystemdNotifier(own).watchdog_interval == 15.0
        assert SystemdNotifier({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}).watchdog_interval is None
        assert SystemdNotifier({}).watchdog_interval is None
