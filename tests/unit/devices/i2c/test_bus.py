"""I2cBus on the real smbus2.SMBus, with only the kernel's ioctls replaced by a SimulatedI2c."""

from __future__ import annotations

import errno
import fcntl
import threading
from pathlib import Path

import pytest
import smbus2.smbus2 as smbus2_module

from gateway.devices.i2c.bus import I2cBus, bus_lock
from gateway.devices.i2c.simulators import ByteRegisters, Message, SimulatedI2c, attached, detach, open_simulated_bus
from gateway.errors import DeviceError


@pytest.fixture
def chip(sim: SimulatedI2c) -> ByteRegisters:
    registers = ByteRegisters()
    registers.registers[0x10:0x14] = bytes([0xDE, 0xAD, 0xBE, 0xEF])
    sim.chips[0x76] = registers
    return registers


class TestTransfers:
    def test_register_byte_round_trip(self, bus: I2cBus, chip: ByteRegisters) -> None:
        """write_byte_data then read_byte_data go through SMBus byte-data transfers to the chip's register."""
        bus.write_byte_data(0x76, 0x20, 0x5A)
        assert chip.registers[0x20] == 0x5A
        assert bus.read_byte_data(0x76, 0x20) == 0x5A

    def test_read_block_is_one_transaction_with_a_repeated_start(
        self, bus: I2cBus, chip: ByteRegisters, sim: SimulatedI2c
    ) -> None:
        """read_block writes the register then reads, in one ioctl (one STOP): one transaction, two messages."""
        assert bus.read_block(0x76, 0x10, 4) == bytes([0xDE, 0xAD, 0xBE, 0xEF])
        assert sim.transactions[0x76] == 1
        assert sim.log == [Message(0x76, True, b"\x10"), Message(0x76, False, bytes([0xDE, 0xAD, 0xBE, 0xEF]))]

    def test_plain_write_and_read(self, bus: I2cBus, chip: ByteRegisters, sim: SimulatedI2c) -> None:
        """write_bytes sends the bytes as given; read_bytes reads without writing a register pointer first."""
        bus.write_bytes(0x76, [0x11])
        assert bus.read_bytes(0x76, 3) == bytes([0xAD, 0xBE, 0xEF])
        assert [m.write for m in sim.log] == [True, False]


class TestErrors:
    def test_empty_address_is_enxio(self, bus: I2cBus) -> None:
        """No chip at the address: a DeviceError naming bus, address and ENXIO, chained to the OSError."""
        with pytest.raises(DeviceError, match=r"^i2c-1 0x10: ENXIO \(no device answered at this address\)") as info:
            bus.read_byte_data(0x10, 0)
        assert isinstance(info.value.__cause__, OSError)

    def test_nack_is_eremoteio(self, bus: I2cBus, chip: ByteRegisters, sim: SimulatedI2c) -> None:
        """An injected NACK (EREMOTEIO from the ioctl) becomes a DeviceError naming bus and address."""
        sim.fail(0x76, errno.EREMOTEIO)
        with pytest.raises(DeviceError, match=r"^i2c-1 0x76: EREMOTEIO \(the device did not acknowledge"):
            bus.read_block(0x76, 0x10, 2)
        assert bus.read_block(0x76, 0x10, 2) == bytes([0xDE, 0xAD])  # only the next transaction failed

    def test_address_owned_by_a_kernel_driver(self, bus: I2cBus, chip: ByteRegisters, sim: SimulatedI2c) -> None:
        """I2C_SLAVE (never FORCE) on an address a kernel driver holds: EBUSY, reported as such."""
        sim.busy.add(0x76)
        with pytest.raises(DeviceError, match=r"i2c-1 0x76: EBUSY \(the address is in use by a kernel driver"):
            bus.read_byte_data(0x76, 0x10)

    def test_missing_device_node_says_i2c_is_not_enabled(self, tmp_path: Path) -> None:
        """No /dev/i2c-N: the error says how to enable I2C (dtparam=i2c_arm=on, raspi-config)."""
        with pytest.raises(DeviceError, match=r"^i2c-7: ENOENT .*dtparam=i2c_arm=on.*raspi-config"):
            I2cBus(7, dev_root=tmp_path)

    def test_closed_bus_refuses_transfers(self, bus: I2cBus, chip: ByteRegisters) -> None:
        """close() is idempotent and a transfer after it is a DeviceError, not an AttributeError."""
        bus.close()
        bus.close()
        with pytest.raises(DeviceError, match="closed"):
            bus.read_byte_data(0x76, 0x10)


class TestLock:
    def test_one_lock_per_bus_number(self, bus: I2cBus, tmp_path: Path) -> None:
        """Every I2cBus of a bus number shares one lock; other bus numbers have their own."""
        sim2 = SimulatedI2c()
        with attached(sim2, tmp_path, 3):
            other = I2cBus(3, dev_root=tmp_path)
            assert bus_lock(1) is bus_lock(1)
            assert bus_lock(1) is not bus_lock(3)
            with bus.locked():
                assert not _free_for_another_thread(bus_lock(1))
                assert _free_for_another_thread(bus_lock(3))
            assert _free_for_another_thread(bus_lock(1))
            other.close()

    def test_a_driver_holding_the_lock_can_still_transfer(self, bus: I2cBus, chip: ByteRegisters) -> None:
        """Transfers re-enter the lock a driver holds across "command, wait, read"."""
        with bus.locked():
            bus.write_byte_data(0x76, 0x20, 1)
            assert bus.read_byte_data(0x76, 0x20) == 1


def _free_for_another_thread(lock: threading.RLock) -> bool:
    """Whether another thread could take `lock` now (the owner itself always can: it is re-entrant)."""
    result: list[bool] = []

    def probe() -> None:
        taken = lock.acquire(blocking=False)
        result.append(taken)
        if taken:
            lock.release()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return result[0]


class TestSeam:
    def test_detaching_restores_the_kernel_ioctl(self, tmp_path: Path) -> None:
        """After the last simulated node is detached, smbus2 calls fcntl.ioctl again."""
        with attached(SimulatedI2c(), tmp_path, 4):
            assert smbus2_module.ioctl is not fcntl.ioctl  # type: ignore[attr-defined]
        assert smbus2_module.ioctl is fcntl.ioctl  # type: ignore[attr-defined]

    def test_open_simulated_bus_for_the_demo(self, tmp_path: Path) -> None:
        """open_simulated_bus gives a working I2cBus on a SimulatedI2c without any test fixture."""
        registers = ByteRegisters()
        registers.registers[0xD0] = 0x60
        sim = SimulatedI2c({0x77: registers})
        bus = open_simulated_bus(sim, 5, tmp_path)
        try:
            assert bus.read_byte_data(0x77, 0xD0) == 0x60
        finally:
            bus.close()
            detach(tmp_path / "i2c-5")
