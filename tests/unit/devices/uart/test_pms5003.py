"""PMS5003 driver against the Plantower data manual's frame layout and published captures, over a real pty."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from gateway.devices.uart.pms5003 import Frame, Pms5003, checksum, decode
from gateway.devices.uart.simulators import SimulatedPms5003, build_frame
from gateway.errors import DeviceError

pytestmark = pytest.mark.timeout(30)

TIMEOUT = 0.5

# A PMS5003 frame captured on a Raspberry Pi-class board (Stack Overflow question 56384070, "Decoding endian data
# from a sensor": 424D001C0017002000200016001F0020117C04D300AB00080000000097000405), read with the data manual.
# Checksum by hand: 0x42 + 0x4D = 143; + 0x1C = 171; + the PM words 23 + 32 + 32 + 22 + 31 + 32 = 172 -> 343;
# + 0x11 + 0x7C = 141 -> 484; + 0x04 + 0xD3 = 215 -> 699; + 0xAB = 171 -> 870; + 0x08 -> 878; + 0x97 -> 1029 = 0x0405.
# fmt: off
CAPTURE = bytes([
    0x42, 0x4D,  # start characters
    0x00, 0x1C,  # frame length 28 = 2*13 + 2
    0x00, 0x17,  # data 1: PM1.0 CF=1 = 23
    0x00, 0x20,  # data 2: PM2.5 CF=1 = 32
    0x00, 0x20,  # data 3: PM10  CF=1 = 32
    0x00, 0x16,  # data 4: PM1.0 atmospheric = 22
    0x00, 0x1F,  # data 5: PM2.5 atmospheric = 31
    0x00, 0x20,  # data 6: PM10  atmospheric = 32
    0x11, 0x7C,  # data 7: > 0.3 µm per 0.1 L = 4476
    0x04, 0xD3,  # data 8: > 0.5 µm = 1235
    0x00, 0xAB,  # data 9: > 1.0 µm = 171
    0x00, 0x08,  # data 10: > 2.5 µm = 8
    0x00, 0x00,  # data 11: > 5.0 µm = 0
    0x00, 0x00,  # data 12: > 10 µm = 0
    0x97, 0x00,  # data 13: reserved
    0x04, 0x05,  # checksum = 1029
])
# A truncated frame from a PMS5003 (Pimoroni forum, "PMS5003 sensor appears to be sending truncated messages"):
# 30 bytes of a frame, then the next frame's start where the checksum should be.
TRUNCATED = bytes([66, 77, 0, 28, 0, 4, 0, 5, 0, 5, 0, 4, 0, 5, 0, 3, 126, 0, 226, 0, 23, 0, 2, 0, 0, 0, 0, 151, 0, 2])
# fmt: on


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sim() -> Iterator[SimulatedPms5003]:
    # No timer: frames come only right after the driver's flush, so each fault lands exactly where intended.
    with SimulatedPms5003(pm1=4, pm25=9, pm10=15, interval=None) as simulated:
        yield simulated


@pytest.fixture
def chip(sim: SimulatedPms5003) -> Iterator[Pms5003]:
    opened = Pms5003.open(sim.path, timeout=TIMEOUT, warmup=0)
    yield opened
    opened.close()


class TestFrameLayout:
    def test_published_capture_decodes_per_the_data_manual(self) -> None:
        """The capture gives CF=1 (23, 32, 32), atmospheric (22, 31, 32) µg/m³ and the six counts per 0.1 L."""
        assert decode(CAPTURE) == Frame(
            standard=(23, 32, 32), atmospheric=(22, 31, 32), counts=(4476, 1235, 171, 8, 0, 0), reserved=0x9700
        )

    def test_checksum_is_the_sum_of_bytes_0_to_29(self) -> None:
        """Data manual: check code = start character 1 + start character 2 + ... + data 13 low 8 bits."""
        assert checksum(CAPTURE) == 0x0405

    def test_one_wrong_bit_or_length_is_not_a_frame(self) -> None:
        """A flipped data bit (checksum mismatch) or a length other than 28 (a PMS3003's 20) decodes to None."""
        flipped = bytearray(CAPTURE)
        flipped[13] ^= 0x01
        other_length = bytearray(CAPTURE)
        other_length[3] = 20
        assert decode(bytes(flipped)) is None
        assert decode(bytes(other_length)) is None

    def test_simulator_writes_the_data_manual_layout(self) -> None:
        """The simulator's frame for the capture's values is the capture, byte for byte."""
        assert build_frame((23, 32, 32), (22, 31, 32), (4476, 1235, 171, 8, 0, 0), reserved=0x9700) == CAPTURE


class TestSample:
    def test_publishes_the_atmospheric_fields_of_the_capture(self, chip: Pms5003, sim: SimulatedPms5003) -> None:
        """The captured frame on the wire gives pm1 22, pm25 31, pm10 32: data 4-6, not the CF=1 data 1-3."""
        sim.raw = CAPTURE
        assert chip.sample() == {"pm1": 22.0, "pm25": 31.0, "pm10": 32.0}
        assert chip.last_frame is not None
        assert chip.last_frame.standard == (23, 32, 32)

    def test_values_follow_the_sensor(self, chip: Pms5003, sim: SimulatedPms5003) -> None:
        """Each sample is a new frame: a change at the sensor shows in the next sample."""
        assert chip.sample() == {"pm1": 4.0, "pm25": 9.0, "pm10": 15.0}
        sim.pm1, sim.pm25, sim.pm10 = 40, 90, 150
        assert chip.sample() == {"pm1": 40.0, "pm25": 90.0, "pm10": 150.0}

    def test_garbage_before_a_frame_is_skipped(self, chip: Pms5003, sim: SimulatedPms5003) -> None:
        """Noise, a lone 0x42 and a false start (42 4D with a PMS3003's length 20) before a frame are skipped."""
        sim.garbage = b"\x00\xff\x42\x13\x42\x4d\x00\x14\x11"
        assert chip.sample() == {"pm1": 4.0, "pm25": 9.0, "pm10": 15.0}
        assert chip.rejected == 1  # the false start
        assert chip.skipped == len(sim.garbage)

    def test_a_frame_split_across_reads_is_joined(self, chip: Pms5003, sim: SimulatedPms5003) -> None:
        """A frame arriving as two halves with a pause between them decodes whole."""
        sim.split = 0.1
        assert chip.sample() == {"pm1": 4.0, "pm25": 9.0, "pm10": 15.0}

    def test_a_published_truncated_frame_is_rejected(self, chip: Pms5003, sim: SimulatedPms5003) -> None:
        """The forum's 30-byte frame followed by a good one: its checksum fails, the good frame is read."""
        sim.garbage = TRUNCATED
        assert chip.sample() == {"pm1": 4.0, "pm25": 9.0, "pm10": 15.0}
        assert chip.rejected == 1

    def test_bad_checksum_is_rejected_and_the_next_frame_taken(self, chip: Pms5003, sim: SimulatedPms5003) -> None:
        """A frame whose checksum does not match (with other values) is dropped; the good one after it is used."""
        sim.corrupt = 1
        assert chip.sample() == {"pm1": 4.0, "pm25": 9.0, "pm10": 15.0}
        assert chip.rejected == 1

    def test_bad_data_has_a_budget(self, chip: Pms5003, sim: SimulatedPms5003) -> None:
        """Three bad frames are waded through; a fourth in a row is a DeviceError, before the timeout."""
        sim.corrupt = 3
        assert chip.sample()["pm25"] == 9.0
        sim.corrupt = 4
        with pytest.raises(DeviceError, match=r"no valid frame in 128 bytes \(128 bytes skipped, 4 bad frames"):
            chip.sample()

    def test_silence_is_a_device_error_after_the_timeout(self, chip: Pms5003, sim: SimulatedPms5003) -> None:
        """A sensor that sends nothing: DeviceError 'no frame within 0.5 s', raised after about 0.5 s."""
        sim.silent = True
        started = time.monotonic()
        with pytest.raises(DeviceError, match=r"^PMS5003 on .*: no frame within 0\.5 s \(no data"):
            chip.sample()
        assert TIMEOUT <= time.monotonic() - started < TIMEOUT + 5  # generous: a loaded 2-core machine

    def test_a_stale_backlog_is_not_published(self, chip: Pms5003, sim: SimulatedPms5003) -> None:
        """A frame received before sample() (an old reading in the tty's buffer) is discarded, not returned."""
        sim.send(build_frame((99, 99, 99), (99, 99, 99), (0, 0, 0, 0, 0, 0)))
        assert chip.sample() == {"pm1": 4.0, "pm25": 9.0, "pm10": 15.0}

    def test_reads_a_sensor_streaming_on_its_own_period(self) -> None:
        """Against a plain active-mode stream (frames on a timer only), sample() takes the next frame."""
        with SimulatedPms5003(pm25=33, interval=0.05, answer_flush=False) as streaming:
            chip = Pms5003.open(streaming.path, timeout=TIMEOUT + 2, warmup=0)
            try:
                assert chip.sample()["pm25"] == 33.0
            finally:
                chip.close()

    def test_a_vanished_sensor_is_a_device_error(self, chip: Pms5003, sim: SimulatedPms5003) -> None:
        """The device going away mid-use gives a DeviceError, and close() after it is fine."""
        sim.stop()
        with pytest.raises(DeviceError, match=r"^PMS5003 on |^/dev/"):
            chip.sample()
        chip.close()
        chip.close()


class TestWarmup:
    def test_warming_up_is_reported_then_values_come(self, sim: SimulatedPms5003) -> None:
        """For 30 s after open (data manual: stable data after 30 s), sample() is a 'warming up' DeviceError."""
        clock = FakeClock()
        chip = Pms5003.open(sim.path, timeout=TIMEOUT, clock=clock)
        try:
            with pytest.raises(DeviceError, match=r"^PMS5003 on .*: warming up \(30 s left\)$"):
                chip.sample()
            clock.now += 29.5
            with pytest.raises(DeviceError, match=r"warming up \(1 s left\)$"):
                chip.sample()
            clock.now += 0.5
            assert chip.sample() == {"pm1": 4.0, "pm25": 9.0, "pm10": 15.0}
        finally:
            chip.close()

    def test_warmup_is_configurable(self, sim: SimulatedPms5003) -> None:
        """warmup=5 reports 5 s left at open."""
        chip = Pms5003.open(sim.path, timeout=TIMEOUT, warmup=5, clock=FakeClock())
        try:
            with pytest.raises(DeviceError, match=r"warming up \(5 s left\)$"):
                chip.sample()
        finally:
            chip.close()


def test_missing_device_is_a_clear_device_error() -> None:
    """No such serial device: the port's ENOENT DeviceError, with the enable_uart fix."""
    with pytest.raises(DeviceError, match=r"^/dev/ttyNOSUCH: ENOENT .*enable_uart=1"):
        Pms5003.open("/dev/ttyNOSUCH")
