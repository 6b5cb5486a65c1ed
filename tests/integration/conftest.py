"""Integration fixtures: real mosquitto brokers and an MQTT subscriber that records what arrives."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from tests.integration.broker import Broker, Endpoint, connected_client


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """One anonymous mosquitto for the session; tests use unique topics (their own gateway id)."""
    instance = Broker(tmp_path_factory.mktemp("broker"))
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Broker]:
    """A persistent mosquitto of this test's own, free to kill and restart."""
    workdir = tmp_path / "broker"
    workdir.mkdir()
    instance = Broker(workdir, persistent=True)
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def qos1_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker limited to QoS 1 (`max_qos 1`): it closes the connection of a 3.1.1 client that publishes QoS 2,
    as NATS does."""
    workdir = tmp_path / "qos1-broker"
    workdir.mkdir()
    instance = Broker(workdir, options=["allow_anonymous true", "max_qos 1"])
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture
def password_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker that only admits user `gw` with password `right-password`."""
    workdir = tmp_path / "pw-broker"
    workdir.mkdir()
    passwords = workdir / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "gw", "right-password"], check=True)
    broker = Broker(workdir, options=["allow_anonymous false", f"password_file {passwords}"])
    broker.start()
    yield broker
    broker.stop()


@dataclass
class Received:
    """Messages seen by a subscriber, in arrival order."""

    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def payloads(self, topic: str) -> list[bytes]:
        """Payloads that arrived on `topic`."""
        return [payload for t, payload, _retained in self.messages if t == topic]

    def readings(self, topic: str) -> list[dict[str, Any]]:
        """Decoded JSON readings that arrived on `topic`."""
        return [json.loads(p) for p in self.payloads(topic)]

    async def wait_for(self, predicate: Callable[[Received], bool], timeout: float = 20.0) -> None:
        """Wait until `predicate(self)` holds; fail with what arrived if it never does."""

        async def _wait() -> None:
            while not predicate(self):
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(_wait(), timeout)
        except TimeoutError:
            pytest.fail(
                f"condition not met within {timeout} s; {len(self.messages)} messages, last: {self.messages[-5:]}"
            )


@asynccontextmanager
async def subscribe(
    broker: Endpoint, topic: str, *, client_id: str | None = None, clean: bool = True, qos: int = 1
) -> AsyncIterator[Received]:
    """Subscribe (QoS 1 unless asked) to `topic` on `broker` and record every message until the block ends."""
    received = Received()
    async with connected_client(broker, identifier=client_id, clean_session=clean) as client:
        await client.subscribe(topic, qos=qos)

        async def record() -> None:
            async for message in client.messages:
                received.messages.append((str(message.topic), bytes(message.payload), message.retain))
                received.changed.set()

        task = asyncio.create_task(record())
        try:
            yield received
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError, aiomqtt.MqttError):
                await task


async def wait_until(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll a condition on our own objects (not a timing assertion): fail if it never holds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.01)
