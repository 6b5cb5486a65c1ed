"""What a sensor kind's driver opens on: the pin factory, the kernel's device trees and the I2C buses.

One `Hardware` per set of opened sensors; in simulation its roots point at fake trees and its I2C buses at
register-level chip simulators, so a kind's driver runs unchanged on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.config import ExpanderConfig
from gateway.devices.chip import ChipPool
from gateway.devices.kernel.locate import bound_driver

if TYPE_CHECKING:  # the I2C layer loads smbus2; only a kind that uses a bus pays for it
    from gateway.devices.i2c.bus import I2cBus


@dataclass
class Hardware:
    """The pin factory, the sysfs and /dev roots, the shared chips, and (in simulation) the simulated I2C."""

    pin_factory: Any
    sysfs_root: Path = Path("/sys")
    dev_root: Path = Path("/dev")
    simulated_i2c: Any | None = None  # a gateway.devices.i2c.simulators.SimulatedI2c, in simulation only
    chips: ChipPool = field(default_factory=ChipPool)
    expanders: tuple[ExpanderConfig, ...] = ()  # the [[expanders]] whose pins inputs and outputs may name

    def i2c_bus(self, number: int) -> I2cBus:
        """An open `/dev/i2c-<number>` (or the simulated bus); DeviceError when it cannot be opened."""
        from gateway.devices.i2c.bus import I2cBus  # noqa: PLC0415 - smbus2 only for kinds on a bus

        if self.simulated_i2c is not None:
            from gateway.devices.i2c.simulators import open_simulated_bus  # noqa: PLC0415 - simulation only

            self.dev_root.mkdir(parents=True, exist_ok=True)
            return open_simulated_bus(self.simulated_i2c, number, self.dev_root)
        return I2cBus(number, dev_root=self.dev_root)

    def i2c_driver(self, bus: int, address: int) -> str | None:
        """The kernel driver bound to the chip at `bus`/`address` (its `driver` link), or None."""
        return bound_driver(self.sysfs_root, bus, address)
