"""A persistent QoS 1 subscriber that records every `seq` it receives, across broker kills, and judges the run."""

from __future__ import annotations

import asyncio
import json
from contextlib import suppress
from dataclasses import dataclass, field

import aiomqtt

from tests.integration.broker import Endpoint


@dataclass(frozen=True)
class Verdict:
    """What a fault run did to the readings: the counts the fault battery reports."""

    expected: int
    received: int
    lost: list[int]
    duplicates: int
    out_of_order: int

    def __str__(self) -> str:
        lost = f"{len(self.lost)} {self.lost[:10]}" if self.lost else "0"
        return (
            f"expected {self.expected}, received {self.received} messages: "
            f"lost {lost}, duplicates {self.duplicates}, out of order {self.out_of_order}"
        )


@dataclass
class Ledger:
    """Records the `seq` of every reading on `topic_filter`, in arrival order, reconnecting forever.

    The session is persistent (clean_session=False, fixed client id), so the broker keeps what arrives
    while the ledger is cut off by a broker restart.
    """

    broker: Endpoint
    topic_filter: str
    client_id: str
    seqs: list[int] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Ledger:
        connected = asyncio.Event()
        self._task = asyncio.create_task(self._run(connected))
        async with asyncio.timeout(20):
            await connected.wait()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, connected: asyncio.Event) -> None:
        while True:
            try:
                client = aiomqtt.Client(
                    self.broker.host, self.broker.port, identifier=self.client_id, clean_session=False, keepalive=5
                )
                async with client:
                    await client.subscribe(self.topic_filter, qos=1)
                    connected.set()
                    async for message in client.messages:
                        # paho acknowledges after this callback chain has queued the message: recorded first.
                        self.seqs.append(json.loads(bytes(message.payload))["seq"])
                        self.changed.set()
            except aiomqtt.MqttError:
                await asyncio.sleep(0.1)

    async def wait_for_seqs(self, expected: set[int], timeout: float = 60.0) -> None:
        """Wait until every seq in `expected` has arrived (or the timeout passes; the verdict will tell)."""
        with suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while not expected <= set(self.seqs):
                    self.changed.clear()
                    await self.changed.wait()

    def verdict(self, expected: set[int]) -> Verdict:
        """Lost, duplicate and out-of-order counts of what arrived against what should have."""
        seen: set[int] = set()
        duplicates = out_of_order = 0
        highest = 0
        for seq in self.seqs:
            if seq in seen:
                duplicates += 1
                continue
            seen.add(seq)
            if seq < highest:
                out_of_order += 1  # a reading never seen before arrived after a newer one
            highest = max(highest, seq)
        return Verdict(len(expected), len(self.seqs), sorted(expected - seen), duplicates, out_of_order)
