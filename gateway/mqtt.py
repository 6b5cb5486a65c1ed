"""The MQTT transport: the only module that imports aiomqtt.

Above this seam the gateway sees `MqttTransport`, `MqttSession`, bytes payloads and our own errors, so a
move to aiomqtt 3 (or another client) touches this file alone.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeVar

import aiomqtt
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt import client as mqtt_client
from paho.mqtt.reasoncodes import ReasonCode

from gateway.errors import (
    AuthenticationError,
    ConnectionClosedError,
    NoConnackError,
    PublishRefusedError,
    TransportError,
)
from gateway.session import InboundMessage, connection_error_hint

__all__ = [
    "ConnectionSettings",
    "InboundMessage",
    "MqttSession",
    "MqttTransport",
    "TlsSettings",
    "connection_error_hint",
]


class _SocketErrorsAsDebug(logging.Filter):
    """paho logs each socket error at error level ("failed to receive on socket: [Errno 104] ..."); the publisher
    reports the lost connection once, with its cause, so these become debug lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and str(record.msg).startswith(("failed to receive", "failed to send")):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


# aiomqtt sets its "mqtt" logger to WARNING at import; the gateway's logging set-up decides instead.
logging.getLogger("mqtt").setLevel(logging.NOTSET)
logging.getLogger("mqtt").addFilter(_SocketErrorsAsDebug())

# CONNACK / reason codes that mean "these credentials will not do" (3.1.1: 4, 5; MQTT 5: 134, 135).
_AUTH_CODES = frozenset({4, 5, 134, 135})
MQTT5_DOUBT_AFTER = 3  # silent first attempts before the log suggests MQTT 3.1.1
T = TypeVar("T")


@dataclass(frozen=True)
class TlsSettings:
    """TLS for the broker connection; certificate and hostname are verified unless `insecure_no_verify`."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure_no_verify: bool = False


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything needed to reach the broker."""

    host: str
    port: int
    client_id: str
    will_topic: str | None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    keepalive: int = 30
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    tls: TlsSettings | None = None
    timeout: float = 10.0
    max_inflight: int = 10
    nodes: tuple[tuple[str, int], ...] = ()  # failover order; empty: just (host, port)


class PublishAcks:
    """Our own wait for each publish's acknowledgement, with its MQTT 5 reason code.

    aiomqtt 2.5's `publish()` counts a PUBACK saying "Not authorized" as success (its `_on_publish`
    ignores the reason code), so publishes go straight to paho here and paho's `on_publish` is ours.
    With aiomqtt's socket callbacks paho never writes inside `publish()`, so the callback always comes
    after the mid is known.
    """

    def __init__(self, client: aiomqtt.Client) -> None:
        self._paho = client._client  # the one reach below aiomqtt (pinned <3)
        self._waiting: dict[int, asyncio.Future[ReasonCode | None]] = {}
        self._paho.on_publish = self._on_publish

    async def publish(self, topic: str, payload: bytes, qos: int, retain: bool, timeout: float) -> None:
        """Publish; return once acknowledged (QoS > 0) or written (QoS 0).

        TransportError: outcome unknown (timeout, connection lost). PublishRefusedError: the broker said no.
        """
        info = self._paho.publish(topic, payload, qos, retain)
        if info.rc != mqtt_client.MQTT_ERR_SUCCESS:
            raise TransportError(f"publish failed: {mqtt_client.error_string(info.rc)}")
        future: asyncio.Future[ReasonCode | None] = asyncio.get_running_loop().create_future()
        self._waiting[info.mid] = future
        try:
            async with asyncio.timeout(timeout):
                code = await future
        except TimeoutError:
            raise TransportError(f"no acknowledgement within {timeout:g} s") from None
        finally:
            self._waiting.pop(info.mid, None)
        if code is not None and code.is_failure:
            raise PublishRefusedError(f"broker refused the publish: {code.getName()} ({code.value})")

    def ping_age(self) -> float:
        """Seconds the broker has left paho's keepalive ping unanswered (0 when none is pending)."""
        sent = float(self._paho._ping_t)  # private in paho; the PINGRESP resets it to 0
        return time.monotonic() - sent if sent > 0 else 0.0

    def _on_publish(
        self, _client: object, _userdata: object, mid: int, reason_code: ReasonCode, _properties: object
    ) -> None:
        future = self._waiting.get(mid)
        if future is not None and not future.done():
            future.set_result(reason_code if isinstance(reason_code, ReasonCode) else None)


class MqttSession:
    """One live connection: publish bytes, and notice when the connection is gone."""

    def __init__(self, client: aiomqtt.Client, acks: PublishAcks, settings: ConnectionSettings) -> None:
        self._client = client
        self._acks = acks
        # A silent broker is noticed within 1.5 x keepalive: a publish is not waited for longer, and
        # paho's ping (sent after keepalive seconds of silence) may stay unanswered for half of it.
        self._timeout = min(settings.timeout, 1.5 * settings.keepalive)
        self._ping_limit = max(2.0, settings.keepalive / 2)

    async def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        """Publish and wait for the broker's acknowledgement (QoS > 0) or the socket write (QoS 0).

        TransportError means "outcome unknown": the message may or may not have reached the broker;
        its subclass PublishRefusedError means the broker answered with a failure reason code (MQTT 5).
        """
        await self._acks.publish(topic, payload, qos, retain, self._timeout)

    async def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        """Subscribe to a topic filter."""
        subscribing = self._client.subscribe(topic_filter, qos=qos, timeout=self._timeout)
        await _translated(subscribing, f"during the subscribe to {topic_filter}")

    async def messages(self) -> AsyncIterator[InboundMessage]:
        """Incoming messages until the connection is lost (then TransportError)."""
        iterator = self._client.messages.__aiter__()
        while True:
            yield _inbound(await _translated(iterator.__anext__(), "while reading messages"))

    async def wait_closed(self, on_message: Callable[[InboundMessage], None] | None = None) -> NoReturn:
        """Return only by raising TransportError once the connection is lost (keepalive or socket error).

        It reads the incoming messages meanwhile and hands each one to `on_message`, on the loop.
        """
        reader = asyncio.create_task(_translated(self._drain_messages(on_message), "while reading messages"))
        try:
            while not reader.done():
                await asyncio.wait({reader}, timeout=1.0)
                if (age := self._acks.ping_age()) > self._ping_limit:
                    raise TransportError(f"the broker has not answered a ping for {age:.1f} s")
            reader.result()
        finally:
            reader.cancel()
        raise ConnectionClosedError("connection closed")

    async def _drain_messages(self, on_message: Callable[[InboundMessage], None] | None) -> None:
        # aiomqtt raises MqttError from the iterator as soon as paho reports the disconnection.
        async for message in self._client.messages:
            if on_message is not None:
                on_message(_inbound(message))


def _inbound(message: aiomqtt.Message) -> InboundMessage:
    payload = message.payload
    if isinstance(payload, bytes | bytearray):
        body = bytes(payload)
    else:
        body = b"" if payload is None else str(payload).encode()
    return InboundMessage(str(message.topic), body, bool(message.retain))


class MqttTransport:
    """Connects to the broker with a Last Will: a fresh aiomqtt client for every connection.

    A reused aiomqtt 2.5 client skips the CONNACK after an unexpected disconnection (its `__aexit__` returns
    early without resetting `_connected`), and paho would resend the previous session's unacknowledged
    publishes on top of the outbox's own resend. A new client per connection is judged by its own CONNACK
    and starts with an empty paho session: the outbox is the only source of resends.
    """

    def __init__(self, settings: ConnectionSettings, *, mqtt5_doubt_after: int = MQTT5_DOUBT_AFTER) -> None:
        self._settings = settings
        self._mqtt5_doubt_after = mqtt5_doubt_after
        self._silent_attempts = 0  # consecutive attempts without a CONNACK, while never connected
        self._ever_connected = False
        self._nodes = settings.nodes or ((settings.host, settings.port),)
        self._current = 0

    @property
    def node(self) -> str:
        """`host:port` of the broker node the next (or the current) connection goes to."""
        host, port = self._nodes[self._current]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def _next_node(self) -> None:
        """Ordered failover: after a failed attempt or a lost connection, the next node (with one, the same)."""
        self._current = (self._current + 1) % len(self._nodes)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[MqttSession]:
        """Connect (raising TransportError/AuthenticationError) and yield a session until the block ends.

        A block left by an exception drops the connection at once (the broker publishes the Last Will);
        a block that ends normally disconnects cleanly.
        """
        ignore_socket_races(asyncio.get_running_loop())
        client = self._build_client()
        acks = PublishAcks(client)
        try:
            await self._enter(client)
        except TransportError:
            self._next_node()
            raise
        self._ever_connected = True
        self._silent_attempts = 0
        try:
            yield MqttSession(client, acks, self._settings)
        except BaseException as exc:
            _abort(client)
            if isinstance(exc, TransportError):  # lost, not stopped: the next attempt tries the next node
                self._next_node()
            raise
        with suppress(aiomqtt.MqttError):  # the connection is gone either way
            await client.__aexit__(None, None, None)
        _abort(client)  # a DISCONNECT left unanswered must not leave the socket open

    async def _enter(self, client: aiomqtt.Client) -> None:
        """`client.__aenter__()`, also ended by the connection closing before the CONNACK (not a timeout).

        A broker that refuses us sends its CONNACK and closes at once; paho reports both in one read, so the
        close can be seen first: a close after a CONNACK waits for that CONNACK's verdict.
        """
        with _connect_signals(client._client) as (closed_early, connack):
            entering = asyncio.ensure_future(client.__aenter__())
            either: set[asyncio.Future[Any]] = {entering, closed_early}
            try:
                await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
                if not entering.done() and connack.is_set():
                    await asyncio.wait({entering})  # the CONNACK is in: its verdict follows in a moment
            except BaseException:
                entering.cancel()
                _abort(client)
                raise
        if not entering.done():
            entering.cancel()
            await asyncio.gather(entering, return_exceptions=True)
            _abort(client)
            raise TransportError("the broker closed the connection before answering CONNECT")
        try:
            entering.result()
        except aiomqtt.MqttError as exc:
            _abort(client)
            self._raise_connect_error(exc)

    def _raise_connect_error(self, exc: aiomqtt.MqttError) -> NoReturn:
        """A failed connection attempt as our error: a refusal by CONNACK code, a silent broker, or the network."""
        if isinstance(exc, MqttConnectError):
            code = _code(exc)
            error = AuthenticationError if code in _AUTH_CODES else TransportError
            raise error(f"broker refused the connection: {exc}") from exc
        if str(exc) == "Operation timed out":
            self._silent_attempts += 1
            doubt = (
                self._settings.protocol == "5"
                and not self._ever_connected
                and self._silent_attempts >= self._mqtt5_doubt_after
            )
            raise NoConnackError(
                f"no answer to CONNECT within {self._settings.timeout:g} s", maybe_not_mqtt5=doubt
            ) from exc
        raise TransportError(str(exc) or type(exc).__name__) from exc

    def _build_client(self) -> aiomqtt.Client:
        s = self._settings
        host, port = self._nodes[self._current]  # TLS checks the certificate against this node's name
        return aiomqtt.Client(
            hostname=host,
            port=port,
            identifier=s.client_id,
            username=s.username,
            password=s.password,
            keepalive=s.keepalive,
            protocol=aiomqtt.ProtocolVersion.V5 if s.protocol == "5" else aiomqtt.ProtocolVersion.V311,
            will=aiomqtt.Will(s.will_topic, b"offline", qos=1, retain=True) if s.will_topic else None,
            tls_context=_tls_context(s.tls) if s.tls else None,
            timeout=s.timeout,
            max_inflight_messages=max(20, s.max_inflight),  # paho's default is 20; never below our window
            # Nagle's algorithm costs ~20 ms at p99 for small messages.
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        )


def _tls_context(tls: TlsSettings) -> ssl.SSLContext:
    """A verifying context: system CAs or `ca_file`, optional client certificate, hostname checked."""
    try:
        context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
        if tls.cert_file and tls.key_file:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
        if tls.insecure_no_verify:  # the user asked for it by name; server.py warns at every start
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
    except (OSError, ssl.SSLError) as exc:
        raise TransportError(f"TLS set-up failed: {exc}") from exc
    return context


async def _translated(awaitable: Awaitable[T], doing: str) -> T:
    """Await an operation on a live connection; its failure is a lost connection, never a refusal of credentials."""
    try:
        return await awaitable
    except aiomqtt.MqttError as exc:
        if str(exc) == "Operation timed out":
            raise TransportError(f"no answer from the broker {doing}") from exc
        raise ConnectionClosedError(f"connection lost {doing}: {exc}") from exc


def _code(exc: aiomqtt.MqttError) -> int | None:
    rc = getattr(exc, "rc", None)
    return rc.value if isinstance(rc, ReasonCode) else rc if isinstance(rc, int) else None


@contextmanager
def _connect_signals(paho: Any) -> Iterator[tuple[asyncio.Future[None], asyncio.Event]]:
    """While open: a future done when the connection closes and an event set by the CONNACK; paho's callbacks
    (aiomqtt's) still run, and are put back alone at the end."""
    closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    connack = asyncio.Event()
    on_connect, on_disconnect = paho.on_connect, paho.on_disconnect

    def connected(*args: Any) -> None:
        connack.set()
        if on_connect is not None:
            on_connect(*args)

    def disconnected(*args: Any) -> None:
        if on_disconnect is not None:
            on_disconnect(*args)
        if not closed.done():
            closed.set_result(None)

    paho.on_connect, paho.on_disconnect = connected, disconnected
    try:
        yield closed, connack
    finally:
        paho.on_connect, paho.on_disconnect = on_connect, on_disconnect


def _abort(client: aiomqtt.Client) -> None:
    """Close the client's socket now (no DISCONNECT): aiomqtt's callbacks unregister it from the loop first."""
    paho = client._client
    with suppress(Exception):  # closing is best effort: the connection is over either way
        paho._sock_close()
    disconnected = client._disconnected
    if disconnected.done() and not disconnected.cancelled():
        disconnected.exception()  # retrieved: no "Future exception was never retrieved" at garbage collection


_SOCKET_RACE_CALLS = ("add_writer", "add_reader", "remove_writer", "remove_reader")


def ignore_socket_races(loop: asyncio.AbstractEventLoop) -> None:
    """Make aiomqtt's late socket registrations on a connection that was just reset a debug line, not a traceback.

    aiomqtt registers paho's socket with `call_soon_threadsafe(loop.add_writer, fd, ...)`; when the broker resets
    a new connection, the socket is closed before that call runs and asyncio logs "Bad file descriptor" with a
    traceback at error level. The connection loss itself is reported by the session, once.
    """
    previous = loop.get_exception_handler()
    if getattr(previous, "ignores_socket_races", False):
        return

    def handler(the_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        handle = repr(context.get("handle", ""))
        if isinstance(exc, OSError | ValueError) and any(call in handle for call in _SOCKET_RACE_CALLS):
            logging.getLogger("mqtt").debug("socket closed before it was registered: %s", exc)
            return
        if previous is not None:
            previous(the_loop, context)
        else:
            the_loop.default_exception_handler(context)

    handler.ignores_socket_races = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)
