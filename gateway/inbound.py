"""Inbound messages to their receivers: commands to the outputs, Home Assistant's `online` to the announcer.

The publisher owns the connection and hands every inbound message here; a receiver must never raise for a bad
payload (the publisher logs it if one does, and the connection stays up).
"""

from __future__ import annotations

from typing import Protocol

from gateway.session import InboundMessage
from gateway.topics import topic_matches


class CommandReceiver(Protocol):
    """Where commands go (the outputs): it must never raise for a bad payload."""

    @property
    def subscriptions(self) -> list[str]:
        """The topic filters to subscribe to on every connection (maybe none)."""

    def receive(self, message: InboundMessage) -> None:
        """Handle one incoming message."""

    def link_changed(self, connected: bool) -> None:
        """The broker connection came (True) or went (False)."""


class Receivers:
    """Several receivers behind one: each message goes to those whose subscriptions match its topic."""

    def __init__(self, *receivers: CommandReceiver) -> None:
        self._receivers = receivers

    @property
    def subscriptions(self) -> list[str]:
        """Every receiver's filters."""
        return [topic for receiver in self._receivers for topic in receiver.subscriptions]

    def receive(self, message: InboundMessage) -> None:
        """Hand the message to each receiver with a matching filter."""
        for receiver in self._receivers:
            if any(topic_matches(pattern, message.topic) for pattern in receiver.subscriptions):
                receiver.receive(message)

    def link_changed(self, connected: bool) -> None:
        """Tell every receiver."""
        for receiver in self._receivers:
            receiver.link_changed(connected)
