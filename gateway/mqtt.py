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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NoReturn, TypeVar

import aiomqtt
from paho.mqtt import client as mqtt_client
from paho.mqtt.reasoncodes import ReasonCode

from gateway.errors import AuthenticationError, PublishRefusedError, TransportError

# aiomqtt sets its "mqtt" logger to WARNING at import; the gateway's logging set-up decides instead.
logging.getLogger("mqtt").setLevel(logging.NOTSET)

# CONNACK / reason codes that mean "these credentials will not do" (3.1.1: 4, 5; MQTT 5: 134, 135).
_AUTH_CODES = frozenset({4, 5, 134, 135})
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
        await _translated(self._client.subscribe(topic_filter, qos=qos, timeout=self._timeout))

    async def messages(self) -> AsyncIterator[InboundMessage]:
        """Incoming messages until the connection is lost (then TransportError)."""
        iterator = self._client.messages.__aiter__()
        while True:
            yield _inbound(await _translated(iterator.__anext__()))

    async def wait_closed(self, on_message: Callable[[InboundMessage], None] | None = None) -> NoReturn:
        """Return only by raising TransportError once the connection is lost (keepalive or socket error).

        It reads the incoming messages meanwhile and hands each one to `on_message`, on the loop.
        """
        reader = asyncio.create_task(_translated(self._drain_messages(on_message)))
        try:
            while not reader.done():
                await asyncio.wait({reader}, timeout=1.0)
                if (age := self._acks.ping_age()) > self._ping_limit:
                    raise TransportError(f"the broker has not answered a ping for {age:.1f} s")
            reader.result()
        finally:
            reader.cancel()
        raise TransportError("connection closed")

    async def _drain_messages(self, on_message: Callable[[InboundMessage], None] | None) -> None:
        # aiomqtt raises MqttError from the iterator as soon as paho reports the disconnection.
        async for message in self._client.messages:
            if on_message is not None:
                on_message(_inbound(message))


@dataclass(frozen=True)
class InboundMessage:
    """A message the broker delivered to us; `retained` means it was stored before we subscribed."""

    topic: str
    payload: bytes
    retained: bool


def _inbound(message: aiomqtt.Message) -> InboundMessage:
    payload = message.payload
    if isinstance(payload, bytes | bytearray):
        body = bytes(payload)
    else:
        body = b"" if payload is None else str(payload).encode()
    return InboundMessage(str(message.topic), body, bool(message.retain))


class MqttTransport:
    """Connects to the broker with a Last Will; one aiomqtt client reused across reconnects."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self._settings = settings
        self._client: tuple[aiomqtt.Client, PublishAcks] | None = None

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[MqttSession]:
        """Connect (raising TransportError/AuthenticationError) and yield a session until the block ends."""
        if self._client is None:
            # aiomqtt.Client needs a running loop at construction: build it here, not in __init__.
            built = self._build_client()
            self._client = (built, PublishAcks(built))
        client, acks = self._client
        try:
            await client.__aenter__()
        except aiomqtt.MqttError as exc:
            _raise_translated(exc)
        try:
            yield MqttSession(client, acks, self._settings)
        finally:
            with suppress(aiomqtt.MqttError):  # the connection is gone either way; the caller knows why
                await client.__aexit__(None, None, None)

    def _build_client(self) -> aiomqtt.Client:
        s = self._settings
        return aiomqtt.Client(
            hostname=s.host,
            port=s.port,
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


async def _translated(awaitable: Awaitable[T]) -> T:
    try:
        return await awaitable
    except aiomqtt.MqttError as exc:
        _raise_translated(exc)


def _raise_translated(exc: aiomqtt.MqttError) -> NoReturn:
    rc = getattr(exc, "rc", None)
    code = rc.value if isinstance(rc, ReasonCode) else rc
    if isinstance(code, int) and code in _AUTH_CODES:
        raise AuthenticationError(f"broker refused the connection: {exc}") from exc
    raise TransportError(str(exc) or type(exc).__name__) from exc


def connection_error_hint(error: TransportError) -> str:
    """A short hint for a user reading the log line of a connection failure."""
    text = str(error).lower()
    if isinstance(error, AuthenticationError):
        return "check mqtt.username and the password (file or $CREDENTIALS_DIRECTORY)"
    if isinstance(error, PublishRefusedError):
        return "the broker refused one reading (ACL or size limit?); it is retried, then quarantined"
    if "certificate" in text or "ssl" in text or "tls" in text:
        return "check [mqtt.tls] ca_file, the broker's certificate and its host name"
    if "refused" in text:
        return "is the broker running and listening on mqtt.host:mqtt.port?"
    return "retrying with backoff"
