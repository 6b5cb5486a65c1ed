"""The publisher against a hand-written fake broker session: window, order, poison, flush at stop, reconnects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from gateway.errors import ConnectionClosedError, TransportError
from gateway.outbox import DurableOutbox
from gateway.publisher import Backoff, Publisher
from gateway.session import InboundMessage
from gateway.stats import Stats
from gateway.topics import Topics
from tests.unit.test_outbox import FACTORY, opened

TOPICS = Topics("pi-mqtt-gateway", "fake")


@dataclass
class FakeBroker:
    """What a broker would do, in memory: records publishes, holds readings (topic `s`) while `gate` is closed,
    and closes the session when a payload contains `poison` (as NATS does on a QoS 2 publish)."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    poison: bytes | None = None
    refuse_connections: int = 0  # the next N connects fail
    received: list[tuple[str, bytes]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # set on every publish and connect
    connections: int = 0
    in_flight: int = 0
    most_in_flight: int = 0
    node: str = "fake:1883"

    def __post_init__(self) -> None:
        self.gate.set()

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[FakeSession]:
        """One session, or TransportError while connections are refused."""
        if self.refuse_connections:
            self.refuse_connections -= 1
            raise TransportError("Connection refused")
        self.connections += 1
        self.changed.set()
        yield FakeSession(self)


@dataclass
class FakeSession:
    """One connection to the fake broker (the gateway.session.Session protocol)."""

    broker: FakeBroker
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        """Wait for the gate, then record; a poison payload closes the connection instead."""
        broker = self.broker
        if self.closed.is_set():
            raise ConnectionClosedError("connection closed")
        if broker.poison is not None and broker.poison in payload:
            self.closed.set()
            raise ConnectionClosedError("connection closed by the broker")
        if topic != "s":  # the gateway's own status and stats are never held
            broker.received.append((topic, payload))
            return
        broker.in_flight += 1
        broker.most_in_flight = max(broker.most_in_flight, broker.in_flight)
        broker.changed.set()
        try:
            await broker.gate.wait()
        finally:
            broker.in_flight -= 1
        broker.received.append((topic, payload))
        broker.changed.set()

    async def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        """Subscriptions are accepted."""

    def messages(self) -> AsyncIterator[InboundMessage]:
        """No inbound messages in these tests: the iterator ends when the connection does."""
        return _no_messages(self.closed)

    async def wait_closed(self, on_message: Callable[[InboundMessage], None] | None = None) -> NoReturn:
        """Return only by raising once the fake broker closed the connection."""
        await self.closed.wait()
        raise ConnectionClosedError("connection closed")


async def _no_messages(closed: asyncio.Event) -> AsyncIterator[InboundMessage]:
    await closed.wait()
    return
    yield  # an async generator that yields nothing


def publisher(broker: FakeBroker, outbox: DurableOutbox, stats: Stats, *, window: int = 10) -> Publisher:
    """A publisher on the fake broker (a Transport by its shape) with fast backoff."""
    return Publisher(
        broker,
        outbox,
        TOPICS,
        stats,
        backoff=Backoff(0.001, 0.01),
        stats_interval=3600.0,
        flush_timeout=10.0,
        window=window,
    )


@asynccontextmanager
async def publishing(
    broker: FakeBroker, box: DurableOutbox, stats: Stats, *, window: int = 10
) -> AsyncIterator[asyncio.Event]:
    """A running publisher until the block ends (then stopped and awaited); yields its stop event."""
    stop = asyncio.Event()
    running = asyncio.create_task(publisher(broker, box, stats, window=window).run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await running


def readings(broker: FakeBroker) -> list[bytes]:
    """Payloads received on the sensor topic."""
    return [payload for topic, payload in broker.received if topic == "s"]


async def until(broker: FakeBroker, condition: Callable[[], bool]) -> None:
    """Wait for a condition of the fake broker, woken by its changes (pytest-timeout ends a hung test)."""
    while not condition():
        broker.changed.clear()
        await broker.changed.wait()


class TestPublisherOnAFakeSession:
    async def test_never_more_than_the_window_in_flight_and_everything_in_order(self, tmp_path: Path) -> None:
        """With window 3, at most 3 publishes wait for their acknowledgement; all arrive, oldest first."""
        broker = FakeBroker()
        broker.gate.clear()
        async with opened(tmp_path) as (box, stats):
            for n in range(20):
                box.put("s", FACTORY.make(float(n), 0.0), 1, False)
            async with publishing(broker, box, stats, window=3):
                await until(broker, lambda: broker.in_flight == 3)
                broker.gate.set()
                await until(broker, lambda: len(readings(broker)) == 20)
        assert broker.most_in_flight == 3
        assert [int(p.split(b'"seq":')[1].split(b"}")[0]) for p in readings(broker)] == list(range(1, 21))
        assert broker.received[-1] == (TOPICS.status, b"offline")

    async def test_a_poison_message_is_quarantined_after_max_attempts_and_the_rest_flows(self, tmp_path: Path) -> None:
        """A reading that closes every session it is sent in is set aside after max_attempts; the next arrives."""
        broker = FakeBroker(poison=b'"value":666.0')
        async with opened(tmp_path, max_attempts=3) as (box, stats):
            box.put("s", FACTORY.make(666.0, 0.0), 1, False)
            box.put("s", FACTORY.make(1.0, 0.0), 1, False)
            async with publishing(broker, box, stats):
                await until(broker, lambda: len(readings(broker)) == 1)
        assert stats.quarantined == 1
        assert b'"value":1.0' in readings(broker)[0]
        assert broker.connections == 4  # three sessions killed by the poison, then one that delivers

    async def test_stop_flushes_what_waits_then_says_offline(self, tmp_path: Path) -> None:
        """Readings stored before the stop are published before `offline`."""
        broker = FakeBroker()
        broker.gate.clear()
        async with opened(tmp_path) as (box, stats):
            for n in range(5):
                box.put("s", FACTORY.make(float(n), 0.0), 1, False)
            async with publishing(broker, box, stats) as stop:
                await until(broker, lambda: broker.in_flight > 0)
                stop.set()
                broker.gate.set()
            assert len(box) == 0
        assert len(readings(broker)) == 5
        assert broker.received[-1] == (TOPICS.status, b"offline")

    async def test_refused_connections_are_retried_until_one_works(self, tmp_path: Path) -> None:
        """Three refused connects: counted as failures, then the fourth connects and delivers."""
        broker = FakeBroker(refuse_connections=3)
        async with opened(tmp_path) as (box, stats):
            box.put("s", FACTORY.make(1.0, 0.0), 1, False)
            async with publishing(broker, box, stats):
                await until(broker, lambda: len(readings(broker)) == 1)
        assert broker.connections == 1
        assert broker.refuse_connections == 0
        assert stats.last_error == "Connection refused"
        assert stats.reconnects == 0  # never connected before: failures to connect, not lost connections
