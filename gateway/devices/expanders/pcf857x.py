"""NXP/TI PCF8574 (8 pins P0..P7) and PCF8575 (16 pins P00..P07, P10..P17) quasi-bidirectional I2C expanders.

The chips have no registers: a write of one byte (PCF8575: two, P0x then P1x) sets every pin's latch, a read
returns every pin's level. A latch 0 drives the pin low (strong, ~25 mA sink); a latch 1 leaves it high through
a weak current source (~100 µA), which is how a pin is used as an input: written 1, pulled low by the outside.
So a relay or LED should switch on LOW (active_high=False); active-high loads get only the weak pull-up.
Power-on: all latches 1 (all pins high).

Outputs keep a shadow of the written latch byte; every write is "shadow with one bit changed", under the bus
lock, with input pins always written 1. The shadow starts as the levels read at open: after a power-on that is
all ones; after a gateway restart, outputs the chip still holds low stay low until they are set up again.

INT (open-drain, active low; pull-up on the Pi pin) asserts on any change of an input from the value at the
last read or write, and clears on a read, on a write, or when the input goes back. A write can therefore hide
an input change: after every write the write listeners run, so a watcher reads the port again.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.devices.expanders.port import Snapshot, pin_index
from gateway.devices.i2c.bus import I2cBus
from gateway.errors import DeviceError

CHIPS: dict[str, tuple[str, ...]] = {
    "pcf8574": tuple(f"P{bit}" for bit in range(8)),
    "pcf8575": tuple(f"P{port}{bit}" for port in range(2) for bit in range(8)),
}


class Pcf857x:
    """A PCF8574 or PCF8575 at `address` (PCF8574 0x20..0x27, PCF8574A 0x38..0x3F); one object per chip.

    Opening reads the port once (a missing chip is a DeviceError here) to seed the latch shadow.
    """

    def __init__(self, bus: I2cBus, address: int = 0x20, chip: str = "pcf8574") -> None:
        if chip not in CHIPS:
            raise DeviceError(f"unknown PCF857x chip {chip!r} (choose from {', '.join(CHIPS)})")
        self.bus, self.address, self.chip = bus, address, chip
        self.pins = CHIPS[chip]
        self._width = len(self.pins) // 8
        self._inputs = 0
        self._listeners: list[Callable[[], None]] = []
        self._shadow = self._read()

    @property
    def latch(self) -> int:
        """The latch bits last written (bit n = pin n; 1 = high / input)."""
        return self._shadow

    def setup_input(self, pin: str, *, pull_up: bool = True) -> None:
        """Input: latch 1 (the chip's weak pull-up is always on; `pull_up` is accepted for symmetry)."""
        self._write_bit(self._bit(pin), True, input_pin=True)

    def setup_output(self, pin: str, level: bool) -> None:
        """Output at `level`, in the first write that touches it."""
        self._write_bit(self._bit(pin), level, input_pin=False)

    def write(self, pin: str, level: bool) -> None:
        """Drive an output: the shadow with this bit changed (inputs kept at 1), written under the bus lock."""
        bit = self._bit(pin)
        if self._inputs >> bit & 1:
            raise DeviceError(f"{self.chip} 0x{self.address:02x}: {pin} is an input")
        self._write_bit(bit, level)

    def read_port(self) -> Snapshot:
        """Every pin's level in one read; it clears INT."""
        levels = self._read()
        return Snapshot(levels={name: bool(levels >> bit & 1) for bit, name in enumerate(self.pins)})

    def add_write_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every write (a write clears INT: a pending input change needs a read)."""
        self._listeners.append(listener)

    def remove_write_listener(self, listener: Callable[[], None]) -> None:
        """Forget a listener (no error if unknown)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _bit(self, pin: str) -> int:
        return pin_index(self.chip, self.pins, pin)

    def _read(self) -> int:
        return int.from_bytes(self.bus.read_bytes(self.address, self._width), "little")

    def _write_bit(self, bit: int, level: bool, *, input_pin: bool | None = None) -> None:
        """Shadow with one bit changed, inputs at 1, written under the bus lock; then the listeners, unlocked."""
        mask = 1 << bit
        with self.bus.locked():
            inputs = self._inputs if input_pin is None else self._inputs | mask if input_pin else self._inputs & ~mask
            new = (self._shadow | mask if level else self._shadow & ~mask) | inputs
            self.bus.write_bytes(self.address, new.to_bytes(self._width, "little"))
            self._shadow, self._inputs = new, inputs  # only once the chip has it
        # Outside the bus lock: a listener (a watcher) takes its own lock and then the bus's.
        for listener in list(self._listeners):
            listener()


class Pcf8574(Pcf857x):
    """A PCF8574 / PCF8574A: pins P0..P7."""

    def __init__(self, bus: I2cBus, address: int = 0x20) -> None:
        super().__init__(bus, address, "pcf8574")


class Pcf8575(Pcf857x):
    """A PCF8575: pins P00..P07 and P10..P17 (first byte on the wire is P0x)."""

    def __init__(self, bus: I2cBus, address: int = 0x20) -> None:
        super().__init__(bus, address, "pcf8575")
