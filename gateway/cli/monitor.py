"""`watch` and `status`: what a running gateway publishes, read back from the broker.

Both subscribe to the gateway's own subtree with a client of their own (no Last Will), so they work from
any machine that reaches the broker.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from gateway.broker_settings import connection_settings
from gateway.cli.table import render_table
from gateway.config_loader import LoadedConfig
from gateway.errors import TransportError
from gateway.mqtt import InboundMessage, MqttSession, MqttTransport
from gateway.statedir import resolve_state_dir
from gateway.store import DB_FILE, read_summary
from gateway.topics import Topics

CLEAR_SCREEN = "\x1b[H\x1b[2J"
SERVICE = "pi-mqtt-gateway"


@dataclass
class SensorState:
    """The latest reading of one sensor as published."""

    value: Any = None
    unit: str | None = None
    ts: datetime | None = None
    availability: str | None = None


@dataclass
class OutputState:
    """An output's reported state and the last command seen for it."""

    value: Any = None
    ts: datetime | None = None
    last_command: str | None = None


@dataclass
class Snapshot:
    """Everything seen on the gateway's topics so far."""

    status: str | None = None
    stats: dict[str, Any] | None = None
    sensors: dict[str, SensorState] = field(default_factory=dict)
    outputs: dict[str, OutputState] = field(default_factory=dict)
    malformed: int = 0

    def apply(self, topics: Topics, topic: str, payload: bytes) -> None:
        """Fold one message into the snapshot (anything unparseable is counted, never fatal)."""
        if topic == topics.status:
            self.status = payload.decode(errors="replace")
            return
        try:
            if topic == topics.stats:
                self.stats = json.loads(payload)
            elif topic.startswith(topics.sensor("")):
                self._apply_sensor(topic.removeprefix(topics.sensor("")), payload)
            elif topic.startswith(topics.output("")):
                self._apply_output(topic.removeprefix(topics.output("")), payload)
        except (ValueError, KeyError, TypeError):
            self.malformed += 1

    def _apply_output(self, rest: str, payload: bytes) -> None:
        output_id, _, suffix = rest.partition("/")
        state = self.outputs.setdefault(output_id, OutputState())
        if suffix == "set":
            state.last_command = payload.decode(errors="replace")[:40]
        elif not suffix:
            reading = json.loads(payload)
            state.value, state.ts = reading["value"], _parse_ts(reading["ts"])

    def _apply_sensor(self, rest: str, payload: bytes) -> None:
        sensor_id, _, suffix = rest.partition("/")
        state = self.sensors.setdefault(sensor_id, SensorState())
        if suffix == "availability":
            state.availability = payload.decode(errors="replace")
        elif not suffix:
            reading = json.loads(payload)
            state.value, state.unit = reading["value"], reading.get("unit")
            state.ts = _parse_ts(reading["ts"])

    def render(self, gateway_id: str, now: datetime | None = None) -> str:
        """A status line, a stats line (with its age), a table of sensors and one of outputs."""
        now = now or datetime.now(UTC)
        lines = [f"gateway {gateway_id}: {self.status or 'no status (never connected?)'}"]
        if self.stats:
            keys = ("published", "buffered", "dropped", "rejected", "reconnects")
            counts = "  ".join(f"{k} {self.stats.get(k, '?')}" for k in keys)
            age = _age(_parse_ts(self.stats["ts"]), now) if isinstance(self.stats.get("ts"), str) else "?"
            lines.append(f"stats ({age} old): {counts}")
        rows = [
            (sensor_id, _show(state.value), state.unit or "", _age(state.ts, now), state.availability or "")
            for sensor_id, state in sorted(self.sensors.items())
        ]
        table = render_table(("sensor", "value", "unit", "age", "availability"), rows) if rows else "no readings yet\n"
        if self.outputs:
            outputs = [
                (output_id, _show(state.value), _age(state.ts, now), state.last_command or "")
                for output_id, state in sorted(self.outputs.items())
            ]
            table += "\n" + render_table(("output", "state", "age", "last command"), outputs)
        return "\n".join(lines) + "\n\n" + table


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value)


def _parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _age(ts: datetime | None, now: datetime) -> str:
    if ts is None:
        return ""
    seconds = max(0.0, (now - ts).total_seconds())
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.0f}m"


async def _session_snapshot(
    loaded: LoadedConfig, topics: Topics, seconds: float, on_update: Any | None = None
) -> Snapshot:
    """Subscribe to the gateway's subtree and fold messages in for `seconds` (forever if inf)."""
    settings = connection_settings(
        loaded.config, loaded.password, will_topic=None, client_id=f"pi-mqtt-gateway-watch-{os.getpid()}"
    )
    snapshot = Snapshot()
    async with MqttTransport(settings).connect() as session:
        await session.subscribe(topics.all())
        await _collect(session, topics, snapshot, seconds, on_update)
    return snapshot


async def _collect(session: MqttSession, topics: Topics, snapshot: Snapshot, seconds: float, on_update: Any) -> None:
    deadline = time.monotonic() + seconds
    messages = session.messages()
    # One pending receive, waited on without cancelling: cancelling it would close the generator.
    receive: asyncio.Task[InboundMessage] | None = None
    try:
        while (remaining := deadline - time.monotonic()) > 0:
            receive = receive or asyncio.ensure_future(anext(messages))
            done, _ = await asyncio.wait({receive}, timeout=min(remaining, 1.0))
            if receive in done:
                message = receive.result()
                receive = None
                snapshot.apply(topics, message.topic, message.payload)
            if on_update is not None:
                on_update(snapshot)
    finally:
        if receive is not None:
            receive.cancel()


async def watch(loaded: LoadedConfig, *, once: bool, settle: float, out: TextIO | None = None) -> int:
    """Show a live table of the gateway's sensors and outputs (or one snapshot with `once`)."""
    out = out or sys.stdout
    config = loaded.config
    topics = Topics(config.gateway.topic_prefix, config.gateway.id)
    if once:
        snapshot = await _session_snapshot(loaded, topics, settle)
        out.write(snapshot.render(config.gateway.id))
        return 0 if snapshot.status == "online" else 1
    tty = out.isatty()
    last_draw = [0.0]

    def redraw(snapshot: Snapshot) -> None:
        if time.monotonic() - last_draw[0] < 1.0:
            return
        last_draw[0] = time.monotonic()
        out.write((CLEAR_SCREEN if tty else "\n") + snapshot.render(config.gateway.id))
        out.flush()

    await _session_snapshot(loaded, topics, float("inf"), redraw)
    return 0


async def status(loaded: LoadedConfig, *, settle: float, out: TextIO | None = None) -> int:
    """Service state (systemd), connection, outbox depth and last error; 0 when the gateway is online."""
    out = out or sys.stdout
    config = loaded.config
    topics = Topics(config.gateway.topic_prefix, config.gateway.id)
    out.write(f"service:    {service_state()}\n")
    state_dir = resolve_state_dir(config.gateway.state_dir)
    summary = read_summary(state_dir / DB_FILE)
    stored = (
        f"{summary[0]} readings waiting on disk, {summary[1]} quarantined, next seq {summary[2]}"
        if summary
        else "no outbox file yet"
    )
    out.write(f"state dir:  {state_dir} ({stored})\n")
    target = f"{config.mqtt.host}:{config.mqtt.effective_port}"
    try:
        snapshot = await _session_snapshot(loaded, topics, settle)
    except TransportError as exc:
        out.write(f"broker:     cannot reach {target}: {exc}\n")
        return 1
    stats = snapshot.stats or {}
    out.write(f"broker:     {target} reachable\n")
    out.write(f"gateway:    {config.gateway.id} is {snapshot.status or 'unknown (no retained status)'}\n")
    if stats:
        out.write(f"outbox:     {stats.get('buffered')} buffered, {stats.get('dropped')} dropped\n")
        out.write(f"published:  {stats.get('published')} (uptime {stats.get('uptime')} s)\n")
        out.write(f"last error: {stats.get('last_error') or 'none'}\n")
    return 0 if snapshot.status == "online" else 1


def service_state() -> str:
    """`systemctl is-active pi-mqtt-gateway`, or why it cannot be asked."""
    systemctl = shutil.which("systemctl")
    if systemctl is None or not os.path.isdir("/run/systemd/system"):
        return "unknown (systemd is not running here)"
    result = subprocess.run([systemctl, "is-active", SERVICE], capture_output=True, text=True, check=False, timeout=10)
    return result.stdout.strip() or "unknown"
