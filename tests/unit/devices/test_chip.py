"""A chip behind several entries: one sample per interval, a failure shared too, closed with its last entry."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from gateway.devices.chip import ChipPool, ChipQuantity
from gateway.errors import DeviceError


class CountingChip:
    """A chip that counts its samples and can be told to fail."""

    def __init__(self) -> None:
        self.samples = 0
        self.closed = 0
        self.failing = False

    def sample(self) -> Mapping[str, float]:
        self.samples += 1
        if self.failing:
            raise DeviceError("EIO")
        return {"temperature": 20.0 + self.samples, "humidity": 40.0}

    def close(self) -> None:
        self.closed += 1


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def entries(pool: ChipPool, chip: CountingChip, interval: float, *names: str) -> list[ChipQuantity]:
    return [ChipQuantity(pool, ("c",), pool.acquire(("c",), lambda: chip), name, interval) for name in names]


class TestSharedChip:
    def test_entries_of_one_interval_share_one_sample(self) -> None:
        """Two quantities read in one interval cost one sample; the next interval takes the next one."""
        clock, chip = Clock(), CountingChip()
        temperature, humidity = entries(ChipPool(clock), chip, 10.0, "temperature", "humidity")
        assert (temperature.read(), humidity.read()) == (21.0, 40.0)
        clock.now = 10.0
        assert (temperature.read(), humidity.read()) == (22.0, 40.0)
        assert chip.samples == 2

    def test_a_failed_sample_fails_every_entry_once(self) -> None:
        """A chip that fails is asked once per interval, and every entry reports the failure."""
        clock, chip = Clock(), CountingChip()
        chip.failing = True
        temperature, humidity = entries(ChipPool(clock), chip, 10.0, "temperature", "humidity")
        for entry in (temperature, humidity):
            with pytest.raises(DeviceError, match="EIO"):
                entry.read()
        assert chip.samples == 1

    def test_a_quantity_the_chip_lacks_is_named(self) -> None:
        """Asking a chip for what it does not measure says what it does measure."""
        (pressure,) = entries(ChipPool(Clock()), CountingChip(), 10.0, "pressure")
        with pytest.raises(DeviceError, match=r"no pressure .*humidity, temperature"):
            pressure.read()

    def test_the_last_entry_closes_the_chip(self) -> None:
        """The chip stays open while any entry uses it; closing an entry twice counts once."""
        chip = CountingChip()
        temperature, humidity = entries(ChipPool(Clock()), chip, 10.0, "temperature", "humidity")
        temperature.close()
        temperature.close()
        assert chip.closed == 0
        humidity.close()
        assert chip.closed == 1
