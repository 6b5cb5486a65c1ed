"""Outputs under commands on gpiozero's MockFactory: states, pulses, safety rules, refusals (fake clock, no sleeps)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory, MockPin, MockPWMPin

from gateway.config import GatewayConfig
from gateway.devices.output_pins import OutputDriver, open_output
from gateway.output_policy import Outputs
from gateway.session import InboundMessage
from gateway.stats import Stats
from gateway.topics import Topics
from tests.conftest import RecordingSink, make_config

TOPICS = Topics("pi-mqtt-gateway", "gw")


@dataclass
class FakeTime:
    """A clock and a scheduler in one: `advance(s)` moves time and runs what fell due, in order."""

    now: float = 1000.0
    timers: list[tuple[float, int, Callable[[], None], list[bool]]] = field(default_factory=list)
    _count: int = 0

    def __call__(self) -> float:
        return self.now

    def schedule(self, delay: float, callback: Callable[[], None]) -> Any:
        cancelled = [False]
        self._count += 1
        self.timers.append((self.now + delay, self._count, callback, cancelled))

        class Handle:
            def cancel(self) -> None:
                cancelled[0] = True

        return Handle()

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while due := sorted(t for t in self.timers if t[0] <= end and not t[3][0]):
            at, _n, callback, cancelled = due[0]
            self.timers.remove(due[0])
            self.now = at
            cancelled[0] = True
            callback()
        self.now = end


@dataclass
class Rig:
    outputs: Outputs
    sink: RecordingSink
    stats: Stats
    time: FakeTime
    factory: MockFactory

    def send(self, output_id: str, payload: bytes | str, retained: bool = False) -> None:
        body = payload.encode() if isinstance(payload, str) else payload
        self.outputs.receive(InboundMessage(f"{TOPICS.output(output_id)}/set", body, retained))

    def pin(self, number: int, pin_class: type = MockPin) -> Any:
        return self.factory.pin(number, pin_class=pin_class)

    def published(self, output_id: str) -> list[object]:
        return [reading.value for topic, reading, _q, _r in self.sink.stored if topic == TOPICS.output(output_id)]


OUTPUTS: list[dict[str, Any]] = [
    {"id": "relay", "kind": "relay", "pin": 5, "active_high": False},
    {"id": "lamp", "kind": "led", "pin": 6, "max_on": 60.0},
    {"id": "fan", "kind": "pwm", "pin": 12, "frequency": 50},
    {"id": "heater", "kind": "digital_output", "pin": 13, "interlock": ["cooler"], "failsafe_after": 30.0},
    {"id": "cooler", "kind": "digital_output", "pin": 16, "failsafe": "keep"},
    {"id": "bell", "kind": "buzzer", "pin": 20, "retained_commands": "apply", "max_commands_per_second": 2},
]


@pytest.fixture
def rig(tmp_path: Path, mock_factory: MockFactory) -> Iterator[Rig]:
    config: GatewayConfig = make_config(tmp_path, outputs=OUTPUTS)
    drivers: list[OutputDriver] = [open_output(output, mock_factory) for output in config.outputs]
    sink, stats, fake = RecordingSink(), Stats(), FakeTime()
    outputs = Outputs(drivers, sink, TOPICS, stats, default_qos=1, clock=fake, schedule=fake.schedule)
    yield Rig(outputs, sink, stats, fake, mock_factory)
    outputs.close()


class TestStates:
    def test_initial_states_are_published_retained(self, rig: Rig) -> None:
        """At start every output's state is published, retained, as a reading of the output."""
        rig.outputs.publish_states()
        assert {topic for topic, _r, _q, retain in rig.sink.stored if retain} == {
            TOPICS.output(o["id"]) for o in OUTPUTS
        }
        assert rig.published("fan") == [0.0]
        assert rig.published("relay") == [False]

    def test_on_off_toggle_drive_the_pin_and_publish_each_change(self, rig: Rig) -> None:
        """ON, OFF and TOGGLE move the pin (active low for this relay) and publish the actual state."""
        rig.send("relay", "ON")
        assert rig.pin(5).state is False  # active low: on drives the pin low
        rig.send("relay", "off")
        rig.send("relay", '{"state": "TOGGLE"}')
        assert rig.published("relay") == [True, False, True]
        assert rig.stats.commands == 3

    def test_pwm_value_reaches_the_pwm_pin(self, rig: Rig) -> None:
        """{"value": 0.25} sets the duty cycle of a MockPWMPin; ON means 1.0."""
        rig.send("fan", '{"value": 0.25}')
        pin = rig.pin(12, MockPWMPin)
        assert pin.state == pytest.approx(0.25)
        rig.send("fan", "ON")
        assert rig.published("fan") == [0.25, 1.0]


class TestTimers:
    def test_a_pulse_returns_to_the_previous_state(self, rig: Rig) -> None:
        """{"state": "ON", "for": 2} turns on, and off again 2 s later."""
        rig.send("relay", '{"state": "ON", "for": 2}')
        rig.time.advance(1.9)
        assert rig.published("relay") == [True]
        rig.time.advance(0.2)
        assert rig.published("relay") == [True, False]

    def test_a_new_command_cancels_the_pulse(self, rig: Rig) -> None:
        """A command during a pulse wins: the pulse's end does not undo it."""
        rig.send("relay", '{"state": "ON", "for": 2}')
        rig.send("relay", "ON")
        rig.time.advance(5)
        assert rig.published("relay") == [True, True]

    def test_max_on_turns_an_output_off(self, rig: Rig) -> None:
        """An output left on longer than max_on is turned off; repeated ON does not extend it."""
        rig.send("lamp", "ON")
        rig.time.advance(59)
        rig.send("lamp", "ON")
        rig.time.advance(1.5)
        assert rig.published("lamp") == [True, True, False]
        assert rig.pin(6).state is False

    def test_failsafe_after_the_broker_is_lost(self, rig: Rig) -> None:
        """Broker lost for 30 s: the heater (failsafe_after 30) goes off; back in time, nothing happens."""
        rig.send("heater", "ON")
        rig.send("relay", "ON")  # no failsafe_after: only shutdown applies its failsafe
        rig.outputs.link_changed(False)
        rig.time.advance(10)
        rig.outputs.link_changed(True)
        rig.time.advance(60)
        assert rig.published("heater") == [True]
        rig.outputs.link_changed(False)
        rig.time.advance(31)
        assert rig.published("heater") == [True, False]
        assert rig.published("relay") == [True]

    def test_shutdown_applies_failsafe_states(self, rig: Rig) -> None:
        """At shutdown outputs go to their failsafe state (default off); `keep` stays as it is."""
        rig.send("lamp", "ON")
        rig.send("cooler", "ON")
        rig.outputs.shut_down()
        assert rig.published("lamp") == [True, False]
        assert rig.published("cooler") == [True]


class TestRefusals:
    def test_interlocked_outputs_are_never_on_together(self, rig: Rig) -> None:
        """With the cooler on, turning the heater on is refused (and the other way round)."""
        rig.send("cooler", "ON")
        rig.send("heater", "ON")
        assert rig.published("heater") == []
        rig.send("cooler", "OFF")
        rig.send("heater", "ON")
        rig.send("cooler", "ON")
        assert rig.published("cooler") == [True, False]
        assert rig.stats.commands_rejected == 2

    def test_the_rate_limit_refuses_a_burst(self, rig: Rig) -> None:
        """At 2 commands/s the third at once is refused; a second later there is room again."""
        for _ in range(3):
            rig.send("bell", "TOGGLE")
        assert rig.published("bell") == [True, False]
        rig.time.advance(1)
        rig.send("bell", "ON")
        assert rig.published("bell") == [True, False, True]
        assert rig.stats.commands_rejected == 1

    def test_retained_commands_follow_each_outputs_policy(self, rig: Rig) -> None:
        """A retained command is ignored by default and applied where retained_commands = "apply"."""
        rig.send("relay", "ON", retained=True)
        rig.send("bell", "ON", retained=True)
        assert rig.published("relay") == []
        assert rig.published("bell") == [True]

    def test_a_redelivered_command_id_is_applied_once(self, rig: Rig) -> None:
        """The same TOGGLE with the same id twice toggles once."""
        rig.send("relay", '{"state": "TOGGLE", "id": "a1"}')
        rig.send("relay", '{"state": "TOGGLE", "id": "a1"}')
        assert rig.published("relay") == [True]

    def test_unknown_outputs_and_bad_payloads_are_counted_not_raised(self, rig: Rig) -> None:
        """A command for no output, or a malformed one, changes no pin and counts one rejection each."""
        rig.send("nothing", "ON")
        rig.send("relay", b"\xff")
        rig.send("relay", '{"value": 0.5}')  # value is for pwm only
        rig.outputs.receive(InboundMessage("pi-mqtt-gateway/gw/output/a/b/set", b"ON", False))
        assert rig.stats.commands_rejected == 4
        assert rig.sink.stored == []
        assert rig.pin(5).state is True  # active low relay, still off
