"""Microchip MCP23017 (16 pins, ports A and B) and MCP23008 (8 pins) I2C GPIO expanders.

Register map (MCP23017 datasheet DS20001952 table 3-1 with IOCON.BANK=0, the power-on default that we keep;
MCP23008 datasheet DS21919 table 1-3): eleven registers in the order IODIR, IPOL, GPINTEN, DEFVAL, INTCON,
IOCON, GPPU, INTF, INTCAP, GPIO, OLAT. The MCP23008 has them at 0x00..0x0A; the MCP23017 interleaves the ports,
register n of port A at 2n and of port B at 2n + 1 (IODIRA 0x00, IODIRB 0x01, ..., GPIOA 0x12, OLATA 0x14).
Power-on: IODIR 0xFF (all inputs), OLAT 0x00, everything else 0x00.

How we drive it:
- IOCON = MIRROR | ODR: one INT pin serves both ports (MCP23017), open-drain and active low, so several
  chips can share one Pi pin, which must have a pull-up (`DigitalInputDevice(pin, pull_up=True)`).
  SEQOP stays 0 so a block read walks consecutive registers.
- Inputs: IODIR bit 1, GPPU bit per pin, GPINTEN 1 with INTCON 0 (interrupt on any change from the previous
  value). `read_port()` is ONE block read of INTF, INTCAP and GPIO of every port (they are consecutive:
  0x0E..0x13 on the MCP23017, 0x07..0x09 on the MCP23008); reading INTCAP/GPIO clears the interrupt.
- Outputs: writes go to the output latch OLAT, read-modify-write under the bus lock, so two outputs of one
  chip never clobber each other; at set-up OLAT gets the initial level BEFORE the IODIR bit is cleared, so the
  pin never drives the power-on latch value (0) even for an instant.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.devices.expanders.port import Snapshot, pin_index
from gateway.devices.i2c.bus import I2cBus
from gateway.errors import DeviceError

REGISTERS = ("IODIR", "IPOL", "GPINTEN", "DEFVAL", "INTCON", "IOCON", "GPPU", "INTF", "INTCAP", "GPIO", "OLAT")
IOCON_MIRROR = 0x40  # INTA and INTB are one (MCP23017 only)
IOCON_SEQOP = 0x20  # 1 would disable the address pointer's increment
IOCON_ODR = 0x04  # INT is open-drain (overrides INTPOL)
IOCON_INTPOL = 0x02  # active-high INT when push-pull

CHIPS: dict[str, tuple[str, ...]] = {
    "mcp23017": tuple(f"{port}{bit}" for port in "AB" for bit in range(8)),
    "mcp23008": tuple(str(bit) for bit in range(8)),
}
# Boards print the MCP23008's GP0..GP7 as GP0 or GPA0: accept both.
MCP23008_ALIASES = {f"{prefix}{bit}": str(bit) for prefix in ("A", "GP", "GPA") for bit in range(8)}


def register(name: str, port: int, ports: int) -> int:
    """The address of register `name` of `port` (0 = A) with IOCON.BANK=0 on a chip with `ports` ports."""
    return REGISTERS.index(name) * ports + port


class Mcp23x:
    """An MCP23017 or MCP23008 at `address`: one object per chip, shared by all its pins.

    Opening writes IOCON (MIRROR on the MCP23017, ODR): a missing chip is a DeviceError here.
    """

    def __init__(self, bus: I2cBus, address: int = 0x20, chip: str = "mcp23017") -> None:
        if chip not in CHIPS:
            raise DeviceError(f"unknown MCP23x chip {chip!r} (choose from {', '.join(CHIPS)})")
        self.bus, self.address, self.chip = bus, address, chip
        self.pins = CHIPS[chip]
        self.ports = len(self.pins) // 8
        iocon = IOCON_ODR | (IOCON_MIRROR if self.ports == 2 else 0)
        self.bus.write_byte_data(address, register("IOCON", 0, self.ports), iocon)

    def setup_input(self, pin: str, *, pull_up: bool = True) -> None:
        """Input with its 100 kΩ pull-up (or none), interrupting on any change."""
        bit = self._bit(pin)
        with self.bus.locked():
            self._update("IODIR", bit, True)
            self._update("GPPU", bit, pull_up)
            self._update("INTCON", bit, False)  # compare with the previous value, not DEFVAL
            self._update("GPINTEN", bit, True)

    def setup_output(self, pin: str, level: bool) -> None:
        """Output at `level`: the latch first, then the direction, so it never drives the old latch value."""
        bit = self._bit(pin)
        with self.bus.locked():
            self._update("GPINTEN", bit, False)
            self._update("OLAT", bit, level)
            self._update("IODIR", bit, False)

    def write(self, pin: str, level: bool) -> None:
        """Drive an output: read OLAT, change this bit, write OLAT, all under the bus lock."""
        self._update("OLAT", self._bit(pin), level)

    def read_port(self) -> Snapshot:
        """INTF, INTCAP and GPIO of every port in one block read; it clears the interrupt."""
        data = self.bus.read_block(self.address, register("INTF", 0, self.ports), 3 * self.ports)
        flags, captured, levels = (
            int.from_bytes(data[i : i + self.ports], "little") for i in range(0, len(data), self.ports)
        )
        return Snapshot(
            levels={name: bool(levels >> bit & 1) for bit, name in enumerate(self.pins)},
            captured={name: bool(captured >> bit & 1) for bit, name in enumerate(self.pins) if flags >> bit & 1},
        )

    def add_write_listener(self, listener: Callable[[], None]) -> None:
        """Never called: a write to OLAT does not touch the input interrupt logic."""

    def remove_write_listener(self, listener: Callable[[], None]) -> None:
        """Nothing to forget."""

    def _bit(self, pin: str) -> int:
        aliases = MCP23008_ALIASES if self.chip == "mcp23008" else None
        return pin_index(self.chip, self.pins, pin, aliases)

    def _update(self, name: str, bit: int, value: bool) -> None:
        """Read-modify-write one bit of one register under the bus lock (skipped if already right)."""
        address = register(name, bit // 8, self.ports)
        mask = 1 << (bit % 8)
        with self.bus.locked():
            old = self.bus.read_byte_data(self.address, address)
            new = old | mask if value else old & ~mask
            if new != old:
                self.bus.write_byte_data(self.address, address, new)


class Mcp23017(Mcp23x):
    """An MCP23017: pins A0..A7 (GPA) and B0..B7 (GPB), one mirrored INT."""

    def __init__(self, bus: I2cBus, address: int = 0x20) -> None:
        super().__init__(bus, address, "mcp23017")


class Mcp23008(Mcp23x):
    """An MCP23008: pins 0..7 (GP0..GP7; "A0".."A7" and "GP0".."GP7" are aliases)."""

    def __init__(self, bus: I2cBus, address: int = 0x20) -> None:
        super().__init__(bus, address, "mcp23008")
