"""Pulse counters on MockPins: the total survives a restart, set/reset, unusable files, and the rate."""

from __future__ import annotations

from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from gateway.config import CounterConfig
from gateway.counter import Counter, RateMeter, counter_path, load_total
from gateway.devices.sensors import PulseInput
from gateway.errors import DeviceError
from gateway.reading import ReadingFactory

CONFIG = CounterConfig(id="water", kind="counter", pin=17)


def pulse(factory: MockFactory, times: int) -> None:
    """`times` pulses on the pulled-up pin 17 (active low)."""
    pin = factory.pin(17)
    for _ in range(times):
        pin.drive_low()
        pin.drive_high()


class TestCounter:
    def test_the_total_survives_a_restart(self, tmp_path: Path, mock_factory: MockFactory) -> None:
        """Pulses read once are saved; a new Counter on the same file continues from that total."""
        path = counter_path(tmp_path, "water")
        first = Counter(PulseInput(CONFIG, mock_factory), path)
        pulse(mock_factory, 7)
        assert first.read() == 7
        first.close()
        assert load_total(path) == 7
        second = Counter(PulseInput(CONFIG, mock_factory), path)
        pulse(mock_factory, 3)
        assert second.read() == 10
        second.close()

    def test_set_and_reset(self, tmp_path: Path, mock_factory: MockFactory) -> None:
        """set_total replaces the total (saved at once); pulses after it count from there."""
        path = counter_path(tmp_path, "water")
        counter = Counter(PulseInput(CONFIG, mock_factory), path)
        pulse(mock_factory, 5)
        counter.set_total(1000)
        assert load_total(path) == 1000
        pulse(mock_factory, 2)
        assert counter.read() == 1002
        counter.set_total(0)
        assert counter.read() == 0
        counter.close()

    def test_an_unreadable_saved_total_fails_every_read_until_set(
        self, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """A corrupt counter file is never silently replaced by 0: reads fail (offline) until a command sets it."""
        path = counter_path(tmp_path, "water")
        path.parent.mkdir(parents=True)
        path.write_text("{not json", encoding="utf-8")
        counter = Counter(PulseInput(CONFIG, mock_factory), path)
        with pytest.raises(DeviceError, match="cannot be read"):
            counter.read()
        counter.set_total(42)
        assert counter.read() == 42
        counter.close()

    def test_a_total_that_cannot_be_saved_is_not_read(self, tmp_path: Path, mock_factory: MockFactory) -> None:
        """When the state directory cannot be written, the read fails rather than publish an unsaved total."""
        path = counter_path(tmp_path, "water")
        counter = Counter(PulseInput(CONFIG, mock_factory), path)
        (path / "obstacle").mkdir(parents=True)  # the file's place is taken: the rename fails (root ignores modes)
        pulse(mock_factory, 1)
        with pytest.raises(DeviceError, match="cannot save"):
            counter.read()
        counter.close()


class TestRateMeter:
    def test_rate_between_totals(self) -> None:
        """30 pulses in 60 s is 30 per minute; the first total has no rate; a lower total restarts it."""
        meter = RateMeter(CONFIG, "pi-mqtt-gateway/gw/sensor/water", None)
        make = ReadingFactory("water", None, binary=False).make
        assert meter.feed(make(100.0, 0), now=0.0) is None
        rate = meter.feed(make(130.0, 60), now=60.0)
        assert rate is not None
        assert (rate.value, rate.unit) == (30.0, "pulses/minute")
        assert meter.feed(make(0.0, 70), now=70.0) is None  # reset to 0
        assert meter.topic == "pi-mqtt-gateway/gw/sensor/water/rate"
