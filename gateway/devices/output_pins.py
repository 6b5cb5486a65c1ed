"""Output drivers over gpiozero: on/off pins (relay, LED, buzzer) and PWM.

Every gpiozero error is translated once into DeviceError; nothing above sees gpiozero's types.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gpiozero
from gpiozero.pins.mock import MockFactory, MockPWMPin

from gateway.config import BuzzerConfig, LedConfig, OutputConfig, PwmConfig, SwitchOutputBase
from gateway.devices.expander_pins import ExpanderSwitch, expander_of
from gateway.devices.hardware import Hardware
from gateway.errors import DeviceError


class OutputDriver:
    """One output pin. `value` is 0.0/1.0 for on/off outputs and 0..1 for PWM."""

    def __init__(self, config: OutputConfig, device: Any) -> None:
        self.config = config
        self.pwm = isinstance(config, PwmConfig)
        self._device = device

    @property
    def value(self) -> float:
        """The output's level now (what gpiozero drives, not what was last asked for)."""
        return float(self._device.value)

    def set(self, value: float) -> None:
        """Drive the output: any value > 0 is on for an on/off output."""
        try:
            if self.pwm:
                self._device.value = value
            elif value > 0:
                self._device.on()
            else:
                self._device.off()
        except Exception as exc:
            raise DeviceError(f"output {self.config.id!r}: cannot set {value}: {exc}") from exc

    def close(self) -> None:
        """Release the pin (gpiozero leaves it as an input)."""
        self._device.close()


def open_output(config: OutputConfig, factory: Any, hardware: Hardware | None = None) -> OutputDriver:
    """The driver for one configured output, built on `factory` (or an expander of `hardware`), at its `initial`
    state."""
    if config.expander is not None and isinstance(config, SwitchOutputBase):
        hardware = hardware or Hardware(factory)
        return OutputDriver(config, ExpanderSwitch(config, expander_of(config, hardware.expanders), hardware))
    options: dict[str, Any] = {"active_high": config.active_high, "pin_factory": factory}
    if isinstance(config, PwmConfig):
        device_class: Any = gpiozero.PWMOutputDevice
        options |= {"initial_value": config.initial, "frequency": config.frequency}
    else:
        device_class = {LedConfig: gpiozero.LED, BuzzerConfig: gpiozero.Buzzer}.get(
            type(config), gpiozero.DigitalOutputDevice
        )
        options["initial_value"] = config.initial == "ON"
    with _mock_pwm_pins(factory, isinstance(config, PwmConfig)):
        try:
            return OutputDriver(config, device_class(config.gpio(), **options))
        except Exception as exc:
            raise DeviceError(f"output {config.id!r}: cannot set up {device_class.__name__}: {exc}") from exc


@contextmanager
def _mock_pwm_pins(factory: Any, pwm: bool) -> Iterator[None]:
    """On a MockFactory a PWM device needs a MockPWMPin: gpiozero builds the pin with `factory.pin_class`."""
    if not (pwm and isinstance(factory, MockFactory)):
        yield
        return
    previous, factory.pin_class = factory.pin_class, MockPWMPin
    try:
        yield
    finally:
        factory.pin_class = previous
