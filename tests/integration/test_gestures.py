"""Button gestures in a running gateway: events on `<sensor topic>/event` at a real subscriber."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from tests.conftest import make_config
from tests.integration.broker import Broker
from tests.integration.conftest import subscribe
from tests.integration.gateway_runner import broker_config, running_gateway

EVENTS = "pi-mqtt-gateway/gest/sensor/bell/event"


class TestGestures:
    async def test_double_single_and_long_presses_become_events(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """Two quick presses are `double`, one is `single`, holding is `long`; events are not retained."""
        sensor = {"id": "bell", "kind": "button", "pin": 17, "gestures": {"double_ms": 300, "long_ms": 500}}
        config = make_config(tmp_path, [sensor], gateway={"id": "gest"}, mqtt=broker_config(broker.host, broker.port))
        pin = mock_factory.pin(17)
        async with subscribe(broker, EVENTS) as received, running_gateway(config, mock_factory):
            for _ in range(2):  # pressed = pulled-up pin driven low
                pin.drive_low()
                pin.drive_high()
            await received.wait_for(lambda r: len(r.messages) == 1)
            pin.drive_low()
            pin.drive_high()
            await received.wait_for(lambda r: len(r.messages) == 2)
            pin.drive_low()
            await received.wait_for(lambda r: len(r.messages) == 3)
            pin.drive_high()
        events = [json.loads(payload) for _topic, payload, _retained in received.messages]
        assert [e["event"] for e in events] == ["double", "single", "long"]
        assert {e["sensor"] for e in events} == {"bell"}
        assert not any(retained for _t, _p, retained in received.messages)
        async with subscribe(broker, "pi-mqtt-gateway/gest/sensor/bell/#") as later:
            # The retained reading arrives with whatever else is retained under the subscription.
            await later.wait_for(lambda r: len(r.payloads("pi-mqtt-gateway/gest/sensor/bell")) == 1)
        assert later.payloads(EVENTS) == []  # no event was kept for a late subscriber

    @pytest.mark.slow
    async def test_the_simulation_presses_single_double_and_long(
        self, broker: Broker, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """With simulated pins a button with gestures shows all three events (the demo's doorbell)."""
        sensor = {"id": "bell", "kind": "button", "pin": 17, "gestures": {}}
        config = make_config(
            tmp_path,
            [sensor],
            gateway={"id": "gest-sim"},
            gpio={"simulate": True},
            mqtt=broker_config(broker.host, broker.port),
        )
        topic = "pi-mqtt-gateway/gest-sim/sensor/bell/event"
        kinds = {"single", "double", "long"}
        async with subscribe(broker, topic) as received, running_gateway(config, mock_factory):
            await received.wait_for(lambda r: kinds <= {json.loads(p)["event"] for p in r.payloads(topic)}, timeout=90)
        assert {json.loads(p)["event"] for p in received.payloads(topic)} == kinds
