"""Register-level simulators of the MCP23017/MCP23008 and PCF8574/PCF8575, for `SimulatedI2c`, and an INT wire.

Each simulated chip models what the datasheet says the pins, the registers and the INT output do:

- `set_input(pin, level)` is the outside world driving a pin (a button, a contact); it updates the levels the
  chip reads, the interrupt logic (MCP23x INTF/INTCAP, PCF857x "input differs from the last read/write") and
  the INT output, whose electrical level is reported to `on_int(level)` on every change.
- `output_history` is every output state the chip was put in, in order: after each write that can change what
  the pins drive, {pin: driven level} for the pins driving. A glitch (a relay pulled to the wrong level at
  start-up) is an entry with the wrong level; `driven(pin)` is one pin's column.

`on_int` runs under the chip's lock, inside the transaction that changed INT: it must only record the level
(drive a wire), never do I/O. `wire_interrupt` wires it to a gpiozero mock pin whose level changes at once and
whose edge callbacks run later on the pin's own thread, as gpiozero does on a Pi.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from gpiozero.pins.mock import MockPin

from gateway.devices.expanders import mcp23x, pcf857x
from gateway.devices.expanders.port import pin_index
from gateway.devices.i2c.simulators import ByteRegisters, Nack, SimulatedChip

IntCallback = Callable[[bool], None]


class _Pins:
    """Pin naming, external drive, INT reporting and the output history shared by both simulators."""

    def __init__(self, chip: str, pins: tuple[str, ...], on_int: IntCallback | None, aliases: dict[str, str]) -> None:
        self.chip, self.pins, self.on_int = chip, pins, on_int
        self.external = (1 << len(pins)) - 1  # what the outside applies: nothing pulls low at first
        self.output_history: list[dict[str, bool]] = []
        self.lock = threading.RLock()
        self._aliases = aliases
        self._int_level = True  # released (pulled up / push-pull inactive) at power-on

    def bit(self, pin: str) -> int:
        """The bit of a pin name (the drivers' names)."""
        return pin_index(self.chip, self.pins, pin, self._aliases)

    def drive_external(self, pin: str, level: bool) -> None:
        """The outside world's level on `pin`."""
        mask = 1 << self.bit(pin)
        self.external = self.external | mask if level else self.external & ~mask

    def record(self, driving: int, levels: int) -> None:
        """Append the pins driving (bit set in `driving`) and their levels to the history."""
        entry = {name: bool(levels >> bit & 1) for bit, name in enumerate(self.pins) if driving >> bit & 1}
        self.output_history.append(entry)

    def driven(self, pin: str) -> list[bool]:
        """Every level `pin` was driven at, in order (entries where it was driving)."""
        name = self.pins[self.bit(pin)]
        return [entry[name] for entry in self.output_history if name in entry]

    def report_int(self, level: bool) -> None:
        """Tell `on_int` about a new INT level (under the chip lock, so in order)."""
        if level != self._int_level:
            self._int_level = level
            if self.on_int is not None:
                self.on_int(level)

    @property
    def int_level(self) -> bool:
        """The INT pin's electrical level now (False = low)."""
        return self._int_level


class _Observed:
    """What a test (or the demo) observes of a simulated expander: its outputs over time and its INT line."""

    side: _Pins

    @property
    def output_history(self) -> list[dict[str, bool]]:
        """The pins' output states after each write that can change them, in order (False = driven low)."""
        return self.side.output_history

    def driven(self, pin: str) -> list[bool]:
        """Every level `pin` was driven at, in order."""
        return self.side.driven(pin)

    @property
    def int_level(self) -> bool:
        """INT's electrical level (open drain: False = asserted, released reads high)."""
        return self.side.int_level


class SimulatedMcp23x(_Observed, ByteRegisters):
    """An MCP23017 (`chip="mcp23017"`) or MCP23008 with IOCON.BANK=0, interrupt-on-change and INTCAP.

    Power-on (datasheet table 3-1 / 1-3): IODIR 0xFF, everything else 0. GPIO reads the pins (OLAT for
    outputs, the outside for inputs, XOR IPOL); writing GPIO writes OLAT; reading GPIO or INTCAP of a port
    clears its interrupt (INTF). INT is INTA: both ports with IOCON.MIRROR, else port A only.
    """

    def __init__(self, chip: str = "mcp23017", *, on_int: IntCallback | None = None) -> None:
        super().__init__()
        pins = mcp23x.CHIPS[chip]
        aliases = mcp23x.MCP23008_ALIASES if chip == "mcp23008" else {}
        self.side = _Pins(chip, pins, on_int, aliases)
        self.ports = len(pins) // 8
        for port in range(self.ports):
            self.registers[self._address("IODIR", port)] = 0xFF

    # -- the outside world
    def set_input(self, pin: str, level: bool) -> None:
        """Drive `pin` from outside; a change of an enabled input raises the interrupt (INTF, INTCAP, INT)."""
        with self.side.lock:
            before = self._levels()
            self.side.drive_external(pin, level)
            self._interrupt(before, self._levels())
            self._update_int()

    def register_value(self, name: str, port: int = 0) -> int:
        """A register's content by name (no side effect)."""
        return self.registers[self._address(name, port)]

    # -- the wire
    def write(self, data: bytes) -> None:
        """Pointer then values, atomically for the chip."""
        with self.side.lock:
            super().write(data)
            self._update_int()

    def read(self, length: int) -> bytes:
        """Registers from the pointer on, atomically for the chip."""
        with self.side.lock:
            data = super().read(length)
            self._update_int()
            return data

    def write_register(self, register: int, value: int) -> None:
        """GPIO writes go to OLAT; INTF/INTCAP are read-only; IOCON has two addresses on the MCP23017."""
        name, port = self._name(register)
        if name in ("INTF", "INTCAP"):
            return
        if name == "IOCON":
            for each in range(self.ports):
                self.registers[self._address("IOCON", each)] = value
            return
        if name == "GPIO":
            register, name = self._address("OLAT", port), "OLAT"
        self.registers[register] = value
        if name in ("OLAT", "IODIR"):
            self.side.record(self._word("IODIR") ^ self._mask(), self._word("OLAT"))

    def read_register(self, register: int) -> int:
        """GPIO is the pins now; reading GPIO or INTCAP clears the port's interrupt."""
        name, port = self._name(register)
        value = self._levels() >> 8 * port & 0xFF if name == "GPIO" else self.registers[register]
        if name in ("GPIO", "INTCAP"):
            self.registers[self._address("INTF", port)] = 0
        return value

    # -- internals
    def _address(self, name: str, port: int) -> int:
        return mcp23x.register(name, port, self.ports)

    def _name(self, register: int) -> tuple[str, int]:
        index, port = divmod(register, self.ports)
        if index >= len(mcp23x.REGISTERS):
            return "", port  # past OLAT: unimplemented, reads 0
        return mcp23x.REGISTERS[index], port

    def _mask(self) -> int:
        return (1 << 8 * self.ports) - 1

    def _word(self, name: str) -> int:
        return sum(self.registers[self._address(name, port)] << 8 * port for port in range(self.ports))

    def _levels(self) -> int:
        iodir = self._word("IODIR")
        pins = (self._word("OLAT") & ~iodir | self.side.external & iodir) & self._mask()
        return pins ^ (self._word("IPOL") & iodir)

    def _interrupt(self, before: int, after: int) -> None:
        """Datasheet 3.6: INTCON=0 compares with the previous value, INTCON=1 with DEFVAL; the first
        condition of a port sets INTF and captures the port into INTCAP; later ones wait for the clear."""
        enabled = self._word("GPINTEN") & self._word("IODIR")
        intcon, defval = self._word("INTCON"), self._word("DEFVAL")
        condition = enabled & ((before ^ after) & ~intcon | (after ^ defval) & intcon)
        for port in range(self.ports):
            flags = condition >> 8 * port & 0xFF
            if flags and not self.registers[self._address("INTF", port)]:
                self.registers[self._address("INTF", port)] = flags
                self.registers[self._address("INTCAP", port)] = after >> 8 * port & 0xFF

    def _update_int(self) -> None:
        iocon = self.registers[self._address("IOCON", 0)]
        ports = range(self.ports) if iocon & mcp23x.IOCON_MIRROR else range(1)
        asserted = any(self.registers[self._address("INTF", port)] for port in ports)
        if iocon & mcp23x.IOCON_ODR:
            self.side.report_int(not asserted)  # open drain: low when asserted, else the pull-up
        else:
            self.side.report_int(asserted == bool(iocon & mcp23x.IOCON_INTPOL))


class SimulatedPcf857x(_Observed, SimulatedChip):
    """A PCF8574 (`chip="pcf8574"`) or PCF8575: quasi-bidirectional pins, no registers.

    A pin's level is its latch AND the outside (latch 0 sinks hard; latch 1 is a weak pull-up the outside can
    pull low). Power-on latches are all 1. INT (open-drain, active low) is asserted while an input (latch 1)
    differs from its level at the last read or write.
    """

    def __init__(self, chip: str = "pcf8574", *, on_int: IntCallback | None = None) -> None:
        pins = pcf857x.CHIPS[chip]
        self.side = _Pins(chip, pins, on_int, {})
        self.width = len(pins) // 8
        self.latch = (1 << len(pins)) - 1
        self.writes = 0
        self._reference = self._levels()

    def set_input(self, pin: str, level: bool) -> None:
        """The outside pulls `pin` low (False) or lets it go (True)."""
        with self.side.lock:
            self.side.drive_external(pin, level)
            self._update_int()

    def levels(self) -> int:
        """The pins' levels now (bit n = pin n)."""
        return self._levels()

    def write(self, data: bytes) -> None:
        """Each byte (PCF8575: each pair, P0x first) sets the latches; the last one stays. Clears INT."""
        if len(data) % self.width:
            raise Nack
        with self.side.lock:
            for offset in range(0, len(data), self.width):
                self.latch = int.from_bytes(data[offset : offset + self.width], "little")
                self.writes += 1
                self.side.record(self._all(), self.latch)
            self._reference = self._levels()
            self._update_int()

    def read(self, length: int) -> bytes:
        """The pins' levels (repeated for longer reads); clears INT."""
        with self.side.lock:
            levels = self._levels()
            self._reference = levels
            self._update_int()
            return (levels.to_bytes(self.width, "little") * length)[:length]

    def _all(self) -> int:
        return (1 << 8 * self.width) - 1

    def _levels(self) -> int:
        return self.latch & self.side.external

    def _update_int(self) -> None:
        asserted = bool((self._levels() ^ self._reference) & self.latch)
        self.side.report_int(not asserted)


# ---------------------------------------------------------------------------------------------------------------
# The INT wire to a Pi pin


class InterruptPin(MockPin):  # type: ignore[misc]  # gpiozero is untyped
    """A MockPin behaving like a Pi GPIO with edge detection: its level changes at once (a read sees it
    immediately) while the edge callbacks run in order on the pin's own thread, as gpiozero's are."""

    def __init__(self, factory: Any, info: Any) -> None:
        super().__init__(factory, info)
        self._edge_queue: queue.SimpleQueue[tuple[float, bool] | None] = queue.SimpleQueue()
        self._drive_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.wired = False  # once an INT output drives the line, a pull-up no longer sets its level

    def drive_high(self) -> None:
        """The wire goes high."""
        self._drive(True)

    def drive_low(self) -> None:
        """The wire goes low."""
        self._drive(False)

    def close(self) -> None:
        """Stop the callback thread, then close as a MockPin."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._edge_queue.put(None)
            if thread is not threading.current_thread():
                thread.join()
        super().close()

    def _set_pull(self, value: str) -> None:
        """A pull-up on a wired open-drain line only matters when the line is released: keep the level."""
        if self.wired:
            self._pull = value
        else:
            super()._set_pull(value)

    def _drive(self, level: bool) -> None:
        with self._drive_lock:
            if self._change_state(level):
                if self._thread is None:
                    self._thread = threading.Thread(target=self._dispatch, name="mock-int-edges", daemon=True)
                    self._thread.start()
                self._edge_queue.put((self._last_change, level))

    def _dispatch(self) -> None:
        while (edge := self._edge_queue.get()) is not None:
            ticks, level = edge
            wanted = self._edges_wanted(level)
            if wanted and self._when_changed is not None:
                super(MockPin, self)._call_when_changed(ticks, level)

    def _edges_wanted(self, level: bool) -> bool:
        return str(self._edges) in ("both", "rising" if level else "falling")


def wire_interrupt(chip: SimulatedMcp23x | SimulatedPcf857x, factory: Any, pin: int | str) -> InterruptPin:
    """Connect `chip`'s INT output to the mock `pin` of `factory` (as an `InterruptPin`) and return the pin.

    Create the pin's DigitalInputDevice (pull_up=True) first or after: the wire is set to INT's level now.
    """
    mock_pin: InterruptPin = factory.pin(pin, pin_class=InterruptPin)

    def follow(level: bool) -> None:
        if level:
            mock_pin.drive_high()
        else:
            mock_pin.drive_low()

    with chip.side.lock:
        mock_pin.wired = True
        chip.side.on_int = follow
        follow(chip.int_level)
    return mock_pin
