"""Tests of pin factory selection."""

from __future__ import annotations

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from gateway.devices.pins import close_pin_factory, open_pin_factory
from gateway.errors import PinFactoryError


class TestPinFactory:
    def test_mock_becomes_the_default_factory(self) -> None:
        """The mock factory is installed as gpiozero's default (software SPI needs it) and removed on close."""
        factory = open_pin_factory("mock")
        assert isinstance(factory, MockFactory)
        assert Device.pin_factory is factory
        close_pin_factory(factory)
        assert Device.pin_factory is None

    def test_auto_on_a_machine_that_is_not_a_pi_explains_itself(self) -> None:
        """Off a Pi, `auto` lists why each library failed and suggests the mock factory."""
        with pytest.raises(PinFactoryError, match=r'lgpio: .*pin_factory = "mock"'):
            open_pin_factory("auto")

    def test_unusable_named_factory(self) -> None:
        """A named factory that cannot load is a PinFactoryError, not an ImportError."""
        with pytest.raises(PinFactoryError, match="pigpio"):
            open_pin_factory("pigpio")
