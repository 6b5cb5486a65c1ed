"""The publisher: drains the outbox to the broker in order, reconnecting forever with backoff and jitter.

A message is acknowledged to the outbox only after the broker confirmed it; any error means "maybe
delivered", and the same message (same `seq`) is sent again after the reconnect.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from contextlib import suppress
from typing import Any

import structlog

from gateway.errors import AuthenticationError, ConnectionClosedError, PublishRefusedError, TransportError
from gateway.inbound import CommandReceiver
from gateway.outbox import Message, Outbox
from gateway.session import InboundMessage, Session, Transport, connection_error_hint
from gateway.stats import Stats
from gateway.topics import Topics

log = structlog.get_logger(component="publisher")
QOS2_SUSPECT_SESSIONS = 3  # sessions in a row closed with only a QoS 2 publish to blame


class Backoff:
    """Exponential backoff with full jitter: a random delay in [0, min(cap, base * 2**n)]."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None) -> None:
        self._base = base
        self._cap = cap
        self._attempt = 0
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.ceiling = base  # the ceiling of the last delay handed out

    def next_delay(self) -> float:
        """The delay before the next attempt; each call doubles the ceiling up to the cap."""
        ceiling = self.ceiling = min(self._cap, self._base * 2**self._attempt)
        self._attempt = min(self._attempt + 1, 32)
        # Never zero: a floor of base/2 keeps a refusing broker from a tight loop.
        return max(self._base / 2, self._rng.uniform(0, ceiling))

    def reset(self) -> None:
        """Start again from the base delay (after a successful connection)."""
        self._attempt = 0


class QosGuard:
    """Notices a broker that closes the connection on QoS 2 publishes, and then sends QoS 2 as QoS 1.

    NATS closes the connection on any QoS 2 publish (so does mosquitto with `max_qos 1`); without this, the
    same QoS 2 message would end every new session before the backlog moves. Suspected after `threshold`
    sessions in a row closed by the broker with a QoS 2 publish unacknowledged and none acknowledged.
    """

    def __init__(self, threshold: int = QOS2_SUSPECT_SESSIONS) -> None:
        self._threshold = threshold
        self._suspect_sessions = 0
        self.downgraded = False

    def qos(self, message: Message) -> int:
        """The QoS to publish `message` with."""
        return 1 if self.downgraded and message.qos == 2 else message.qos

    def acked(self, message: Message) -> None:
        """A publish was acknowledged: QoS 2 works when it was one."""
        if message.qos == 2:
            self._suspect_sessions = 0

    def session_failed(self, unacked: list[Message], exc: TransportError) -> None:
        """A session ended by `exc` with `unacked` publishes outstanding."""
        if self.downgraded or not isinstance(exc, ConnectionClosedError) or all(m.qos != 2 for m in unacked):
            return
        self._suspect_sessions += 1
        if self._suspect_sessions >= self._threshold:
            self.downgraded = True
            log.error(
                "the broker closes the connection on every QoS 2 publish: it does not support QoS 2 "
                "(NATS does not); sending QoS 2 messages with QoS 1 from now on",
                hint="set mqtt.qos = 1 and remove qos = 2 from the sensors and outputs",
                sessions=self._suspect_sessions,
            )


class Publisher:
    """Owns the broker connection: `online` after each connect, stats, the drain, `offline` at stop."""

    def __init__(
        self,
        transport: Transport,
        outbox: Outbox,
        topics: Topics,
        stats: Stats,
        *,
        backoff: Backoff,
        stats_interval: float,
        flush_timeout: float,
        window: int = 10,
        receiver: CommandReceiver | None = None,
    ) -> None:
        self._transport = transport
        self._outbox = outbox
        self._topics = topics
        self._stats = stats
        self._backoff = backoff
        self._stats_interval = stats_interval
        self._flush_timeout = flush_timeout
        self._window = window
        self._receiver = receiver
        self._in_flight: _Window | None = None
        self._qos = QosGuard()
        self._acked_in_session = False
        self.connected = asyncio.Event()
        self.first_attempt_done = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, publish and reconnect until `stop` is set; then flush, say `offline` and disconnect."""
        if self._receiver is not None:
            self._receiver.link_changed(False)  # not connected yet: failsafe timers run from the start
        while not stop.is_set():
            tried = self._transport.node
            try:
                async with self._transport.connect() as session:
                    self._on_connected()
                    await self._serve(session, stop)
                    return
            except TransportError as exc:
                self._blame(exc)
                self._on_connection_failed(exc, delay := self._backoff.next_delay(), tried)
            finally:
                if self._receiver is not None and self.connected.is_set():
                    self._receiver.link_changed(False)
                self.connected.clear()
                self._stats.connected = False
            with suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await stop.wait()
        if len(self._outbox):
            log.warning("stopping while disconnected", unpublished=len(self._outbox))

    def _on_connected(self) -> None:
        node = self._stats.broker = self._transport.node
        if self._stats.last_error is not None or self._stats.reconnects:
            log.info("connected to broker", broker=node, reconnects=self._stats.reconnects)
        else:
            log.info("connected to broker", broker=node)
        self._backoff.reset()
        self._stats.connected = True
        self.connected.set()
        self.first_attempt_done.set()
        if self._receiver is not None:
            self._receiver.link_changed(True)

    def _on_connection_failed(self, exc: TransportError, delay: float, tried: str) -> None:
        self.first_attempt_done.set()
        was_connected = self._stats.connected
        if not was_connected:
            self._stats.broker = tried  # STATUS= and the stats name the node last tried
        self._stats.last_error = str(exc)
        if was_connected:
            self._stats.reconnects += 1
        level = log.error if isinstance(exc, AuthenticationError) else log.warning
        level(
            "connection lost" if was_connected else "cannot connect to broker",
            broker=self._stats.broker if was_connected else tried,
            next_broker=self._transport.node,
            error=str(exc),
            hint=connection_error_hint(exc),
            buffered=len(self._outbox),
            retry_in=round(delay, 3),
            backoff=self._backoff.ceiling,
        )

    async def _serve(self, session: Session, stop: asyncio.Event) -> None:
        """Run one connection until it fails (TransportError) or `stop` is set (flush and return).

        The connection is watched from its first moment: a loss during the set-up (`online`, the subscribes)
        ends the session at once, not after a publish timeout.
        """
        self._acked_in_session = False
        window = self._in_flight = _Window(self._window)
        watch = asyncio.create_task(session.wait_closed(self._on_message), name="watch")
        tasks: set[asyncio.Future[Any]] = {watch}
        stopping: asyncio.Future[Any] = asyncio.create_task(stop.wait(), name="stop")
        try:
            await _unless_lost(self._set_up(session), watch)
            tasks |= {
                asyncio.create_task(self._drain(session, window), name="drain"),
                asyncio.create_task(self._publish_stats(session), name="stats"),
                window.failed,  # a publish that failed ends the session
            }
            done, _ = await asyncio.wait({*tasks, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {stopping}:
                task.result()  # a failed connection raises TransportError here
            await self._flush(tasks)
            await session.publish(
                self._topics.stats, self._stats.payload(len(self._outbox), self._stats_interval), qos=0, retain=True
            )
            await session.publish(self._topics.status, b"offline", qos=1, retain=True)
            log.info("published offline", unpublished=len(self._outbox))
        finally:
            for task in (*tasks, stopping):
                task.cancel()
            await asyncio.gather(*tasks, stopping, return_exceptions=True)

    async def _set_up(self, session: Session) -> None:
        await session.publish(self._topics.status, b"online", qos=1, retain=True)
        for subscription in self._receiver.subscriptions if self._receiver is not None else []:
            await session.subscribe(subscription, qos=1)  # our own subtree only

    def _on_message(self, message: InboundMessage) -> None:
        if self._receiver is None:
            return
        try:
            self._receiver.receive(message)
        except Exception as exc:  # noqa: BLE001 - a command must never take the connection or the gateway down
            log.error("command handling failed", topic=message.topic[:200], error=f"{type(exc).__name__}: {exc}")

    async def _flush(self, tasks: set[asyncio.Future[Any]]) -> None:
        """Let the drain empty the outbox for at most `flush_timeout` seconds (or until the link fails)."""
        emptied = asyncio.create_task(self._outbox.wait_empty())
        try:
            done, _ = await asyncio.wait(
                {emptied, *tasks}, timeout=self._flush_timeout, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done - {emptied}:
                task.result()
        finally:
            emptied.cancel()

    async def _drain(self, session: Session, window: _Window) -> None:
        """Publish oldest first with up to `window` publishes awaiting their acknowledgement.

        A row is acknowledged to the outbox only after its PUBACK. Any failure ends the session (raised
        here): everything unacknowledged is sent again, in order, on the next connection.
        """
        outbox = self._outbox
        outbox.rewind()
        try:
            while True:
                await window.wait_for_slot()
                message = outbox.take()
                if message is None:
                    await outbox.wait_unsent()
                    continue
                window.start(self._send(session, message), message)
        finally:
            await window.cancel()

    async def _send(self, session: Session, message: Message) -> None:
        try:
            await session.publish(message.topic, message.payload, self._qos.qos(message), message.retain)
        except PublishRefusedError as exc:
            self._outbox.failed(message, str(exc))
            raise
        self._qos.acked(message)
        self._outbox.ack(message)
        self._stats.published += 1
        self._acked_in_session = True

    def _blame(self, exc: TransportError) -> None:
        """A session that died before any acknowledgement counts against its oldest message (poison)."""
        window, self._in_flight = self._in_flight, None
        if window is not None:
            self._qos.session_failed(window.unacked, exc)
        if isinstance(exc, PublishRefusedError) or self._acked_in_session or window is None:
            return  # a refusal was already counted; a session that delivered something was not poisoned
        if (oldest := window.oldest) is not None:
            self._outbox.failed(oldest, f"the connection failed while it was the oldest in flight: {exc}")

    async def _publish_stats(self, session: Session) -> None:
        async def publish() -> None:
            await session.publish(
                self._topics.stats, self._stats.payload(len(self._outbox), self._stats_interval), qos=0, retain=True
            )

        await publish()
        if len(self._outbox):
            # The first stats of a session show the backlog; say so again once it has drained, not an interval later.
            with suppress(TimeoutError):
                async with asyncio.timeout(self._stats_interval):
                    await self._outbox.wait_empty()
            await publish()
        while True:
            await asyncio.sleep(self._stats_interval)
            await publish()


async def _unless_lost(step: Coroutine[Any, Any, None], watch: asyncio.Task[Any]) -> None:
    """Run `step`; if the connection is lost first (`watch` ends), raise its TransportError instead."""
    running = asyncio.create_task(step)
    try:
        await asyncio.wait({running, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not running.done():
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    if watch.done():
        watch.result()
    running.result()


class _Window:
    """Publishes awaiting their acknowledgement: at most `size` at once; `failed` holds the first failure."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._running = 0
        # Every publish not yet acknowledged (running, failed or cancelled), oldest first.
        self._unacked: dict[asyncio.Task[None], Message] = {}
        self._slot = asyncio.Event()
        self.failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @property
    def unacked(self) -> list[Message]:
        """Every message sent in this session and not acknowledged, oldest first."""
        return list(self._unacked.values())

    @property
    def oldest(self) -> Message | None:
        """The oldest message sent in this session and not acknowledged."""
        return next(iter(self._unacked.values()), None)

    def start(self, send: Coroutine[Any, Any, None], message: Message) -> None:
        """Run one publish; its failure (if any) completes `failed`."""
        task = asyncio.create_task(send)
        self._unacked[task] = message
        self._running += 1
        task.add_done_callback(self._done)

    async def wait_for_slot(self) -> None:
        """Wait until fewer than `size` publishes are in flight."""
        while self._running >= self._size:
            self._slot.clear()
            await self._slot.wait()

    async def cancel(self) -> None:
        """Cancel whatever is still in flight (the session is over)."""
        tasks = [task for task in self._unacked if not task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.failed.cancel()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running -= 1
        self._slot.set()
        if task.cancelled():
            return
        if (exc := task.exception()) is None:
            del self._unacked[task]
        elif not self.failed.done():
            self.failed.set_exception(exc)
