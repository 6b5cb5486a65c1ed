"""Gateway health counters, published retained on `<prefix>/<gw>/stats`."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway import __version__


@dataclass
class Stats:
    """Counters of what happened to readings and to the connection since start."""

    started: float = field(default_factory=time.monotonic)
    accepted: int = 0
    published: int = 0
    rejected: int = 0
    dropped: int = 0
    quarantined: int = 0
    read_errors: int = 0
    reconnects: int = 0
    commands: int = 0
    commands_rejected: int = 0
    connected: bool = False
    broker: str | None = None  # host:port of the node connected to (or last tried)
    storage: str = "ok"
    last_error: str | None = None

    def snapshot(self, buffered: int) -> dict[str, object]:
        """The counters as a JSON-able dict; `buffered` is the outbox depth now."""
        return {
            "uptime": round(time.monotonic() - self.started, 3),
            "accepted": self.accepted,
            "published": self.published,
            "buffered": buffered,
            "dropped": self.dropped,
            "rejected": self.rejected,
            "quarantined": self.quarantined,
            "read_errors": self.read_errors,
            "reconnects": self.reconnects,
            "commands": self.commands,
            "commands_rejected": self.commands_rejected,
            "connected": self.connected,
            "broker": self.broker,
            "storage": self.storage,
            "last_error": self.last_error,
        }

    def payload(self, buffered: int, stats_interval: float | None = None) -> bytes:
        """The stats topic's JSON payload, with the version, the interval (a reader can tell stale copies) and
        `ts` (when it was true: a retained copy may be old)."""
        ts = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        extra: dict[str, object] = {"version": __version__, "ts": ts}
        if stats_interval is not None:
            extra["stats_interval"] = stats_interval
        return json.dumps(self.snapshot(buffered) | extra, separators=(",", ":")).encode()
