"""I2C GPIO expanders: MCP23017/MCP23008 and PCF8574/PCF8575 drivers, their input watcher and simulators.

bus = hardware.i2c_bus(1)
chip = open_expander("mcp23017", bus, 0x20)  # one per chip, shared by all its pins
chip.setup_input("A3")
relay = ExpanderOutput(chip, "B0", active_high=False, initial=False)  # latch before direction: no glitch
watch = ExpanderWatch(chip, ["A3"], on_change, interrupt=interrupt_input(17))
levels = watch.start()
"""

from __future__ import annotations

from gateway.devices.expanders.mcp23x import Mcp23x, Mcp23008, Mcp23017
from gateway.devices.expanders.pcf857x import Pcf857x, Pcf8574, Pcf8575
from gateway.devices.expanders.port import Expander, ExpanderOutput, Snapshot
from gateway.devices.expanders.watch import ExpanderWatch, interrupt_input
from gateway.devices.i2c.bus import I2cBus
from gateway.errors import DeviceError

CHIPS = ("mcp23017", "mcp23008", "pcf8574", "pcf8575")

__all__ = [
    "CHIPS",
    "Expander",
    "ExpanderOutput",
    "ExpanderWatch",
    "Mcp23x",
    "Mcp23008",
    "Mcp23017",
    "Pcf857x",
    "Pcf8574",
    "Pcf8575",
    "Snapshot",
    "interrupt_input",
    "open_expander",
]


def open_expander(chip: str, bus: I2cBus, address: int) -> Expander:
    """The driver for `chip` at `address` (it talks to the chip once: DeviceError if absent)."""
    if chip.startswith("mcp") and chip in CHIPS:
        return Mcp23x(bus, address, chip)
    if chip in CHIPS:
        return Pcf857x(bus, address, chip)
    raise DeviceError(f"unknown expander chip {chip!r} (choose from {', '.join(CHIPS)})")
