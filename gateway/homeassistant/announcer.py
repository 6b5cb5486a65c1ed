"""Home Assistant at run time: announce, re-announce when it restarts, and clean up removed entities.

Announcements go through the outbox like readings (retained, QoS 1, in order): on every connection, and
when Home Assistant publishes `online` on `<discovery prefix>/status`, after which the last state of every
sensor and output is stored again, so no entity shows "unknown". The set of announced config topics is kept
in `<state dir>/homeassistant.json`; one that is no longer in the config gets an empty retained payload.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from gateway.config import GatewayConfig
from gateway.durable_file import write_durably
from gateway.homeassistant.discovery import config_topic, device_payload, device_topic, entities, entity_payload
from gateway.pipeline import Sink
from gateway.reading import Reading
from gateway.session import InboundMessage
from gateway.topics import Topics

log = structlog.get_logger(component="homeassistant")
ANNOUNCED_FILE = "homeassistant.json"
ENTITY, DEVICE = "entity", "device"  # per-entity or device-based discovery
MIGRATE: dict[str, object] = {"migrate_discovery": True}  # Home Assistant: unload, keep the entities


@dataclass
class LastStates:
    """A Sink in front of a lane that remembers the last reading stored on each topic (and through which lane)."""

    sink: Sink
    last: dict[str, tuple[Sink, Reading, int, bool]] = field(default_factory=dict)

    def view(self, sink: Sink) -> LastStates:
        """The same memory in front of another lane (a replay sends each topic through its own lane again)."""
        return LastStates(sink, self.last)

    def put(self, topic: str, reading: Reading, qos: int, retain: bool) -> object:
        """Store through to the lane, and remember it."""
        stored = self.sink.put(topic, reading, qos, retain)
        self.last[topic] = (self.sink, reading, qos, retain)
        return stored

    def put_raw(self, topic: str, payload: bytes, qos: int, retain: bool) -> object:
        """Store through to the lane."""
        return self.sink.put_raw(topic, payload, qos, retain)

    def forget_all_but(self, config: GatewayConfig) -> int:
        """Forget the states of sensors and outputs `config` no longer has (after a reload); return how many."""
        topics = Topics(config.gateway.topic_prefix, config.gateway.id)
        current = {topics.output(output.id) for output in config.outputs}
        for sensor in config.sensors:
            current |= {topics.sensor(sensor.id), f"{topics.sensor(sensor.id)}/rate"}
        gone = [topic for topic in self.last if topic not in current]
        for topic in gone:
            del self.last[topic]
        return len(gone)

    def replay(self) -> int:
        """Store every remembered reading again (a new seq, its original ts); return how many."""
        for topic, (sink, reading, qos, retain) in list(self.last.items()):
            sink.put(topic, reading, qos, retain)
        return len(self.last)


class HomeAssistant:
    """Discovery for one gateway config (a CommandReceiver for `<prefix>/status`)."""

    def __init__(self, config: GatewayConfig, states: LastStates, state_dir: Path) -> None:
        self._config = config
        self._states = states
        self._file = state_dir / ANNOUNCED_FILE
        self._cleaned = False

    def update(self, config: GatewayConfig) -> None:
        """A reloaded config: the next announcement uses it, and clears what it no longer has."""
        self._config, self._cleaned = config, False

    @property
    def status_topic(self) -> str:
        """Where Home Assistant says `online` when it starts."""
        return f"{self._config.homeassistant.discovery_prefix}/status"

    @property
    def subscriptions(self) -> list[str]:
        """`<discovery prefix>/status` when discovery is enabled."""
        return [self.status_topic] if self._config.homeassistant.enabled else []

    def link_changed(self, connected: bool) -> None:
        """Announce on every connection (a broker without persistence forgets retained configs)."""
        if connected and self._config.homeassistant.enabled:
            self.announce()

    def receive(self, message: InboundMessage) -> None:
        """Home Assistant (re)started: announce again, then the current states."""
        if message.topic != self.status_topic or message.payload.strip().lower() != b"online":
            return
        self.announce()
        log.info("home assistant came online: announced again", states=self._states.replay())

    def announce(self) -> None:
        """Store every discovery config; the first time, also remove what is gone and migrate from the other mode.

        A switch of `device_discovery` follows Home Assistant's documented migration: `{"migrate_discovery": true}`
        on the old mode's topics (the entities stay in its registry, ids kept), the new configs, then an empty
        retained payload on every old topic, so exactly the new mode's configs remain on the broker.
        """
        current = self._announcements()
        mode = DEVICE if self._config.homeassistant.device_discovery else ENTITY
        saved_mode, before = self._load() if not self._cleaned else (mode, {})
        removed = {topic: component for topic, component in before.items() if topic not in current}
        switched = saved_mode != mode and bool(before)
        if switched:
            self._migrate_away_from(saved_mode, before, removed)
        if mode == DEVICE:
            gone = {topic.split("/")[-2]: component for topic, component in removed.items()}  # by object id
            self._put(device_topic(self._config), device_payload(self._config, {} if switched else gone))
        else:
            for topic in removed:
                self._clear(topic)  # an empty retained config deletes the entity
            for topic, payload in current.items():
                self._put(topic, payload)
        if switched:
            self._clear_mode(saved_mode, before)
        if not self._cleaned:
            self._save(current, mode)
            self._cleaned = True
            log.info("announced to home assistant", entities=len(current), removed=len(removed), migrated=switched)

    def _migrate_away_from(self, old_mode: str, before: dict[str, str], removed: dict[str, str]) -> None:
        """Delete what is gone in the old mode, then unload the rest there without removing the entities."""
        if old_mode == DEVICE:
            gone = {topic.split("/")[-2]: component for topic, component in removed.items()}
            if gone:  # removed components go first, while the device config still holds them
                self._put(device_topic(self._config), device_payload(self._config, gone))
            self._put(device_topic(self._config), MIGRATE)
            return
        for topic in before:
            if topic in removed:
                self._clear(topic)
            else:
                self._put(topic, MIGRATE)

    def _clear_mode(self, old_mode: str, before: dict[str, str]) -> None:
        """Empty retained payloads on every topic of the old mode (after the new configs are out)."""
        for topic in [device_topic(self._config)] if old_mode == DEVICE else before:
            self._clear(topic)

    def _clear(self, topic: str) -> None:
        self._states.put_raw(topic, b"", 1, True)

    def _announcements(self) -> dict[str, dict[str, object]]:
        return {config_topic(self._config, e): entity_payload(self._config, e) for e in entities(self._config)}

    def _put(self, topic: str, payload: dict[str, object]) -> None:
        self._states.put_raw(topic, json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode(), 1, True)

    def _load(self) -> tuple[str, dict[str, str]]:
        """The mode and the per-entity config topics (with their component) announced last time."""
        mode = DEVICE if self._config.homeassistant.device_discovery else ENTITY
        try:
            data = json.loads(self._file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return mode, {}
        except (OSError, ValueError) as exc:
            log.warning("announced entities unknown: no clean-up this time", file=str(self._file), error=str(exc))
            return mode, {}
        if not isinstance(data, dict):
            return mode, {}
        topics = data.get("topics")
        # A file from before modes were recorded: assume the current mode (nothing to migrate).
        saved_mode = data.get("mode") if data.get("mode") in {DEVICE, ENTITY} else mode
        return str(saved_mode), {str(k): str(v) for k, v in topics.items()} if isinstance(topics, dict) else {}

    def _save(self, current: dict[str, dict[str, object]], mode: str) -> None:
        prefix_parts = len(self._config.homeassistant.discovery_prefix.split("/"))
        topics = {topic: topic.split("/")[prefix_parts] for topic in current}
        try:
            write_durably(self._file, json.dumps({"mode": mode, "topics": topics}, indent=1))
        except OSError as exc:
            log.warning("cannot remember the announced entities", file=str(self._file), error=str(exc))
