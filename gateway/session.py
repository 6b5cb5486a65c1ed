"""What the gateway needs from a broker connection, without aiomqtt: a session protocol, inbound messages and
the hints for connection errors. `gateway.mqtt` implements it; the publisher, the outputs and Home Assistant
depend only on this module, so none of them loads aiomqtt (and a fake session can stand in for tests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import NoReturn, Protocol

from gateway.errors import AuthenticationError, NoConnackError, PublishRefusedError, TransportError


@dataclass(frozen=True)
class InboundMessage:
    """A message the broker delivered to us; `retained` means it was stored before we subscribed."""

    topic: str
    payload: bytes
    retained: bool


class Session(Protocol):
    """One live connection to the broker."""

    async def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        """Publish; return once acknowledged (QoS > 0) or written. TransportError: outcome unknown."""

    async def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        """Subscribe to a topic filter."""

    def messages(self) -> AsyncIterator[InboundMessage]:
        """Incoming messages until the connection is lost (then TransportError)."""

    async def wait_closed(self, on_message: Callable[[InboundMessage], None] | None = None) -> NoReturn:
        """Raise TransportError once the connection is lost, handing incoming messages to `on_message`."""


class Transport(Protocol):
    """Makes connections: each `connect()` is one session, judged by its own CONNACK."""

    @property
    def node(self) -> str:
        """`host:port` of the broker node the current (or next) connection is with."""

    def connect(self) -> AbstractAsyncContextManager[Session]:
        """Connect (raising TransportError/AuthenticationError) and yield a session until the block ends."""


def connection_error_hint(error: TransportError) -> str:  # noqa: PLR0911 - one answer per cause
    """A short hint for a user reading the log line of a connection failure."""
    text = str(error).lower()
    if isinstance(error, AuthenticationError):
        return "check mqtt.username and the password (file or $CREDENTIALS_DIRECTORY)"
    if isinstance(error, NoConnackError):
        if error.maybe_not_mqtt5:
            return 'the broker may not speak MQTT 5: set mqtt.protocol = "3.1.1"'
        return "something accepts connections on mqtt.host:mqtt.port but does not answer as an MQTT broker"
    if isinstance(error, PublishRefusedError):
        return "the broker refused one reading (ACL or size limit?); it is retried, then quarantined"
    if "certificate" in text or "ssl" in text or "tls" in text:
        return "check [mqtt.tls] ca_file, the broker's certificate and its host name"
    if "before answering connect" in text:
        return "a proxy or load balancer with no broker behind it, or a broker refusing this client"
    if "broker refused the connection" in text:
        return "the broker's reason code says why"
    if "connection refused" in text:
        return "is the broker running and listening on mqtt.host:mqtt.port?"
    return "retrying with backoff"
