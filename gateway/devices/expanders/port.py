"""What every GPIO expander driver offers the gateway: pins by name, inputs, outputs and one-transaction reads.

Pin names are the chip's own datasheet names, so a wiring diagram and the config agree:

- MCP23017: "A0".."A7" (GPA0..7) and "B0".."B7" (GPB0..7).
- MCP23008: "0".."7" (GP0..7); "A0".."A7" are accepted as aliases (boards often print GPA).
- PCF8574: "P0".."P7".  PCF8575: "P00".."P07" and "P10".."P17".

Levels are electrical (True = high). Which level means "active" (a button to ground reads False when pressed;
a relay board may switch on low) is the caller's choice: `ExpanderOutput(active_high=...)` for outputs, the
gateway's binary-sensor mapping for inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from gateway.errors import DeviceError


@dataclass(frozen=True)
class Snapshot:
    """One read of an expander's port(s), taken in one I2C transaction.

    `levels`: every pin's level now. `captured`: for the pins that raised the interrupt being served, their
    level when it was raised (MCP23x INTCAP); a change that came and went before the read shows up here.
    """

    levels: dict[str, bool]
    captured: dict[str, bool] = field(default_factory=dict)


class Expander(Protocol):
    """One chip at one address, shared by all its pins (its output bits live in one register)."""

    chip: str
    address: int
    pins: tuple[str, ...]

    def setup_input(self, pin: str, *, pull_up: bool = True) -> None:
        """Make `pin` an input (with its pull-up where the chip has one) that raises INT when it changes."""
        ...

    def setup_output(self, pin: str, level: bool) -> None:
        """Make `pin` an output driven at `level` from the first instant it drives anything."""
        ...

    def write(self, pin: str, level: bool) -> None:
        """Drive an output pin, leaving every other pin of the chip as it is."""
        ...

    def read_port(self) -> Snapshot:
        """Every pin's level (and what raised the interrupt), in one transaction; this clears INT."""
        ...

    def add_write_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener` after any output write that may have cleared a pending input interrupt."""
        ...

    def remove_write_listener(self, listener: Callable[[], None]) -> None:
        """Forget a listener (no error if unknown)."""
        ...


def pin_index(chip: str, pins: tuple[str, ...], pin: str, aliases: dict[str, str] | None = None) -> int:
    """The bit number of `pin` on `chip`; DeviceError naming the valid pins otherwise."""
    name = (aliases or {}).get(pin.upper(), pin.upper())
    try:
        return pins.index(name)
    except ValueError:
        raise DeviceError(f"{chip}: no pin {pin!r} (pins are {', '.join(pins)})") from None


class ExpanderOutput:
    """An on/off output (relay, LED) on an expander pin, shaped like gpiozero's DigitalOutputDevice.

    The pin is set up at `initial` (True = on) before it drives anything, so a relay never clicks at start-up.
    """

    def __init__(self, expander: Expander, pin: str, *, active_high: bool = True, initial: bool = False) -> None:
        self.expander, self.pin, self.active_high = expander, pin, active_high
        self._on = initial
        expander.setup_output(pin, self._level(initial))

    @property
    def value(self) -> int:
        """1 if on, 0 if off: what was last driven (the latch), as gpiozero reports it."""
        return int(self._on)

    def on(self) -> None:
        """Switch on (drive the active level)."""
        self._set(True)

    def off(self) -> None:
        """Switch off."""
        self._set(False)

    def close(self) -> None:
        """Leave the pin driven as it is: releasing it could switch a relay (the chip keeps its latch)."""

    def _set(self, on: bool) -> None:
        self.expander.write(self.pin, self._level(on))
        self._on = on

    def _level(self, on: bool) -> bool:
        return on == self.active_high
