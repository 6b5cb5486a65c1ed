"""sd_notify(3) in a few lines: one AF_UNIX datagram to `$NOTIFY_SOCKET` per message; a no-op without it.

systemd encourages reimplementing it; the `sdnotify` package is unmaintained and `systemd-python` needs
libsystemd headers and a compiler.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Mapping

from gateway.stats import Stats


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


async def keep_watchdog_fed(notifier: SystemdNotifier, status: Callable[[], str], alive: Callable[[], bool]) -> None:
    """Send `STATUS=` (and `WATCHDOG=1` when systemd asks for it) every interval while `alive()`; return when it
    is not, so systemd restarts a gateway whose vital tasks died. Nothing at all without a notify socket."""
    if not notifier.enabled:
        return
    interval = notifier.watchdog_interval or 10.0
    while alive():
        fields = [status()]
        if notifier.watchdog_interval is not None:
            fields.append("WATCHDOG=1")
        notifier.notify(*fields)
        await asyncio.sleep(interval)


def status_line(stats: Stats, first_node: tuple[str, int], buffered: int) -> str:
    """systemd's `STATUS=`: the broker node connected to (or last tried, or the first), what waits, what went."""
    node = stats.broker or f"{first_node[0]}:{first_node[1]}"
    link = (
        f"connected to {node}" if stats.connected else f"broker {node} unreachable ({stats.last_error or 'connecting'})"
    )
    return f"STATUS={link}; {buffered} buffered, {stats.published} published"
