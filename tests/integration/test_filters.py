"""Filters in a running gateway against a real mosquitto: a bouncing contact is published once."""

from __future__ import annotations

from pathlib import Path

from gpiozero.pins.mock import MockFactory

from tests.conftest import make_config, toggle
from tests.integration.broker import Broker
from tests.integration.conftest import subscribe, wait_until
from tests.integration.gateway_runner import broker_config, running_gateway

TOPIC = "pi-mqtt-gateway/filters/sensor/contact"


class TestDebounceEndToEnd:
    async def test_a_bouncing_contact_is_published_once_and_ends_in_the_pin_state(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """Eleven edges within microseconds (a bounce) give one change at the subscriber: the final level."""
        sensor = {
            "id": "contact",
            "kind": "digital_input",
            "pin": 27,
            "retain": False,
            "filters": [{"type": "debounce", "ms": 30}],
        }
        config = make_config(
            tmp_path, [sensor], gateway={"id": "filters"}, mqtt=broker_config(broker.host, broker.port)
        )
        async with subscribe(broker, TOPIC) as received, running_gateway(config, mock_factory) as gateway:
            await received.wait_for(lambda r: len(r.messages) == 1)
            toggle(mock_factory, 27, 11)  # odd: the pin ends on the other level
            await received.wait_for(lambda r: len(r.messages) == 2)
            await wait_until(lambda: gateway.buffered == 0, what="the outbox empty")
            toggle(mock_factory, 27, 10)  # even: a bounce that ends where it started publishes nothing
            toggle(mock_factory, 27, 1)  # ... and a clean change after it does
            await received.wait_for(lambda r: len(r.messages) == 3)
        values = [reading["value"] for reading in received.readings(TOPIC)]
        assert values == [values[0], not values[0], values[0]]
        assert values[-1] == (mock_factory.pin(27).state is False)  # pulled up: active (True) when low
