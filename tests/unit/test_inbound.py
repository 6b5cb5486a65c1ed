"""Inbound messages reach exactly the receivers whose subscriptions match; connection changes reach all."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.inbound import Receivers
from gateway.session import InboundMessage


@dataclass
class Recorder:
    """A receiver that records what reaches it."""

    filters: list[str]
    received: list[str] = field(default_factory=list)
    links: list[bool] = field(default_factory=list)

    @property
    def subscriptions(self) -> list[str]:
        """Its topic filters."""
        return self.filters

    def receive(self, message: InboundMessage) -> None:
        """Record the topic."""
        self.received.append(message.topic)

    def link_changed(self, connected: bool) -> None:
        """Record the change."""
        self.links.append(connected)


class TestReceivers:
    def test_each_message_goes_only_where_a_filter_matches(self) -> None:
        """A command goes to the outputs, Home Assistant's status to the announcer, an unrelated topic nowhere."""
        outputs = Recorder(["pi-mqtt-gateway/shed/output/+/set"])
        announcer = Recorder(["homeassistant/status"])
        receivers = Receivers(outputs, announcer)
        for topic in ("pi-mqtt-gateway/shed/output/pump/set", "homeassistant/status", "elsewhere/x"):
            receivers.receive(InboundMessage(topic, b"ON", retained=False))
        assert outputs.received == ["pi-mqtt-gateway/shed/output/pump/set"]
        assert announcer.received == ["homeassistant/status"]
        assert receivers.subscriptions == ["pi-mqtt-gateway/shed/output/+/set", "homeassistant/status"]

    def test_connection_changes_reach_every_receiver(self) -> None:
        """Connected and disconnected are told to all of them, in order."""
        first, second = Recorder([]), Recorder([])
        receivers = Receivers(first, second)
        receivers.link_changed(True)
        receivers.link_changed(False)
        assert first.links == second.links == [True, False]
