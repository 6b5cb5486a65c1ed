"""sd_notify(3) in a few lines: one AF_UNIX datagram to `$NOTIFY_SOCKET` per message; a no-op without it.

systemd encourages reimplementing it; the `sdnotify` package is unmaintained and `systemd-python` needs
libsystemd headers and a compiler.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


class SystemdNotifier:
    """Tells systemd READY, STATUS, WATCHDOG and STOPPING (Type=notify units)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        # A leading "@" names a socket in the abstract namespace.
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._watchdog_interval = _watchdog_interval(environ)

    @property
    def enabled(self) -> bool:
        """Whether a supervisor listens (systemd set $NOTIFY_SOCKET)."""
        return bool(self._address)

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 pings: half of `WatchdogSec=`, or None when no watchdog is set."""
        return self._watchdog_interval

    def notify(self, *fields: str) -> bool:
        """Send `KEY=value` fields in one datagram; False (never an exception) when it cannot be sent."""
        if not self._address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self._address)
                sock.sendall("\n".join(fields).encode())
        except OSError:
            return False
        return True


def _watchdog_interval(environ: Mapping[str, str]) -> float | None:
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2 / 1e6
