"""MH-Z19B driver against the Winsen user manual's commands, checksum and example, over a real pty."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from gateway.devices.uart.mhz19 import SET_ABC, Mhz19, checksum, command
from gateway.devices.uart.simulators import SimulatedMhz19
from gateway.errors import DeviceError

pytestmark = pytest.mark.timeout(30)

TIMEOUT = 0.5
# Winsen MH-Z19B user manual, "0x86 - Read CO2 concentration", example: send FF 01 86 00 00 00 00 00 79,
# return FF 86 02 20 00 00 00 00 58: 0x02 * 256 + 0x20 = 544 ppm.
READ_COMMAND = bytes([0xFF, 0x01, 0x86, 0x00, 0x00, 0x00, 0x00, 0x00, 0x79])
EXAMPLE_ANSWER = bytes([0xFF, 0x86, 0x02, 0x20, 0x00, 0x00, 0x00, 0x00, 0x58])
# "0x79 - On/Off self-calibration for zero point": ON FF 01 79 A0 00 00 00 00 E6, OFF FF 01 79 00 00 00 00 00 86.
ABC_ON = bytes([0xFF, 0x01, 0x79, 0xA0, 0x00, 0x00, 0x00, 0x00, 0xE6])
ABC_OFF = bytes([0xFF, 0x01, 0x79, 0x00, 0x00, 0x00, 0x00, 0x00, 0x86])


@pytest.fixture
def sim() -> Iterator[SimulatedMhz19]:
    with SimulatedMhz19(co2=544) as simulated:
        yield simulated


@pytest.fixture
def chip(sim: SimulatedMhz19) -> Iterator[Mhz19]:
    opened = Mhz19.open(sim.path, timeout=TIMEOUT)
    yield opened
    opened.close()


class TestProtocol:
    @pytest.mark.parametrize(
        ("packet", "expected"),
        [(READ_COMMAND, 0x79), (EXAMPLE_ANSWER, 0x58), (ABC_ON, 0xE6), (ABC_OFF, 0x86)],
        ids=["read", "answer", "abc-on", "abc-off"],
    )
    def test_checksum_matches_the_manual(self, packet: bytes, expected: int) -> None:
        """The manual's checksum byte of each of its example packets: 0x79, 0x58, 0xE6, 0x86."""
        assert checksum(packet) == expected == packet[8]

    def test_commands_are_the_manual_bytes(self) -> None:
        """The read and ABC on/off commands are built byte for byte as the manual lists them."""
        assert command(0x86) == READ_COMMAND
        assert command(SET_ABC, b"\xa0") == ABC_ON
        assert command(SET_ABC, b"\x00") == ABC_OFF

    def test_simulator_answers_as_the_manual_example(self, sim: SimulatedMhz19) -> None:
        """At 544 ppm the simulator's answer is the manual's example answer, byte for byte."""
        assert sim.answer() == EXAMPLE_ANSWER


class TestSample:
    def test_reads_the_manual_example(self, chip: Mhz19, sim: SimulatedMhz19) -> None:
        """sample() sends the read command and decodes FF 86 02 20 ... 58 as 544 ppm."""
        assert chip.sample() == {"carbon_dioxide": 544.0}
        assert sim.commands == [READ_COMMAND]

    def test_values_follow_the_sensor(self, chip: Mhz19, sim: SimulatedMhz19) -> None:
        """Each sample is a new read: HIGH*256 + LOW of the current answer, up to 5000 ppm."""
        sim.co2 = 5000
        assert chip.sample() == {"carbon_dioxide": 5000.0}

    def test_bad_checksum_is_a_device_error(self, chip: Mhz19, sim: SimulatedMhz19) -> None:
        """An answer whose checksum byte does not match is a DeviceError showing the bytes."""
        sim.bad_checksum = True
        with pytest.raises(DeviceError, match=r"^MH-Z19 on .*: bad checksum in answer ff 86 02 20 00 00 00 00 a7"):
            chip.sample()

    def test_garbage_before_the_answer_is_skipped(self, chip: Mhz19, sim: SimulatedMhz19) -> None:
        """Noise before FF 86 (including a lone FF) is skipped and the answer read."""
        sim.garbage = b"\x00\x86\xff\x01\xff"
        assert chip.sample() == {"carbon_dioxide": 544.0}

    def test_endless_garbage_is_a_device_error(self, chip: Mhz19, sim: SimulatedMhz19) -> None:
        """More than two answers' worth of bytes without FF 86 is a DeviceError, not a wait for the timeout."""
        sim.garbage = bytes(range(0x20, 0x40))
        with pytest.raises(DeviceError, match=r"no answer in \d+ bytes received"):
            chip.sample()

    def test_partial_answer_is_a_device_error(self, chip: Mhz19, sim: SimulatedMhz19) -> None:
        """An answer cut after 4 bytes: DeviceError 'incomplete answer' with what came, after the timeout."""
        sim.partial = 4
        with pytest.raises(DeviceError, match=r"incomplete answer within 0\.5 s \(4 of 9 bytes: ff 86 02 20\)"):
            chip.sample()

    def test_silence_is_a_device_error_after_the_timeout(self, chip: Mhz19, sim: SimulatedMhz19) -> None:
        """A sensor that does not answer: DeviceError 'no answer within 0.5 s', raised after about 0.5 s."""
        sim.silent = True
        started = time.monotonic()
        with pytest.raises(DeviceError, match=r"^MH-Z19 on .*: no answer within 0\.5 s"):
            chip.sample()
        assert TIMEOUT <= time.monotonic() - started < TIMEOUT + 5  # generous: a loaded 2-core machine

    def test_a_stale_answer_is_not_taken_for_the_new_one(self, chip: Mhz19, sim: SimulatedMhz19) -> None:
        """An answer already waiting before sample() (to an earlier command) is discarded."""
        # 999 ppm, a valid answer: checksum by hand 0x86 + 0x03 + 0xE7 = 0x170 -> 0x70; 0xFF - 0x70 + 1 = 0x90.
        sim.send(bytes([0xFF, 0x86, 0x03, 0xE7, 0, 0, 0, 0, 0x90]))
        assert chip.sample() == {"carbon_dioxide": 544.0}


class TestAbc:
    def test_abc_off_is_sent_at_open(self, sim: SimulatedMhz19) -> None:
        """abc=False sends the manual's OFF command once, before any read."""
        chip = Mhz19.open(sim.path, timeout=TIMEOUT, abc=False)
        try:
            assert chip.sample() == {"carbon_dioxide": 544.0}  # commands are served in order: ABC first
            assert sim.commands == [ABC_OFF, READ_COMMAND]
            assert sim.abc is False
        finally:
            chip.close()

    def test_abc_on_is_sent_at_open(self, sim: SimulatedMhz19) -> None:
        """abc=True sends the manual's ON command."""
        sim.abc = False
        chip = Mhz19.open(sim.path, timeout=TIMEOUT, abc=True)
        try:
            chip.sample()
            assert sim.commands[0] == ABC_ON
            assert sim.abc is True
        finally:
            chip.close()

    def test_abc_none_leaves_the_sensor_setting(self, chip: Mhz19, sim: SimulatedMhz19) -> None:
        """abc=None (the default) sends no ABC command."""
        chip.sample()
        assert sim.commands == [READ_COMMAND]


def test_missing_device_is_a_clear_device_error() -> None:
    """No such serial device: the port's ENOENT DeviceError, with the enable_uart fix."""
    with pytest.raises(DeviceError, match=r"^/dev/ttyNOSUCH: ENOENT .*enable_uart=1"):
        Mhz19.open("/dev/ttyNOSUCH", abc=False)
