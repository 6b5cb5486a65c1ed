"""For the device tests: a simulated I2C adapter attached as `i2c-1` under a temporary dev root, and an I2cBus on it
(the real smbus2, its ioctls routed to the simulator)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.devices.i2c.bus import I2cBus
from gateway.devices.i2c.simulators import SimulatedI2c, attached


@pytest.fixture
def sim() -> SimulatedI2c:
    return SimulatedI2c()


@pytest.fixture
def bus(sim: SimulatedI2c, tmp_path: Path) -> Iterator[I2cBus]:
    with attached(sim, tmp_path, 1):
        opened = I2cBus(1, dev_root=tmp_path)
        yield opened
        opened.close()
