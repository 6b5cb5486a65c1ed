"""1-Wire thermometers read as drivers/w1/slaves/w1_therm.c serves them.

w1_slave_show(): nine scratchpad bytes "%02x ", then ": crc=%02x %s\\n" with YES or NO, then the bytes again and
"t=%d\\n" (milli °C); temperature_show(): "%d\\n" (milli °C). Both `return 0` (an empty read) when the conversion
fails. Families: W1_THERM_DS18S20 0x10, DS1822 0x22, DS18B20 0x28, DS1825 0x3B, DS28EA00 0x42.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from gateway.devices.kernel.sysfs import read_attribute
from gateway.devices.kernel.w1 import W1Thermometer
from gateway.errors import DeviceError

YES = "50 05 4b 46 7f ff 0c 10 1c : crc=1c YES\n50 05 4b 46 7f ff 0c 10 1c t=85000\n"


def w1_slave(millidegrees: int, verdict: str = "YES") -> str:
    return f"72 01 4b 46 7f ff 0e 10 57 : crc=57 {verdict}\n72 01 4b 46 7f ff 0e 10 57 t={millidegrees}\n"


def thermometer(root: Path, device_id: str, files: Mapping[str, str]) -> Path:
    """`/sys/bus/w1/devices/<id>` as the w1 core links it to `/sys/devices/w1_bus_master1/<id>`."""
    device = root / "devices" / "w1_bus_master1" / device_id
    device.mkdir(parents=True)
    for name, text in files.items():
        (device / name).write_text(text, encoding="ascii")
    (root / "bus" / "w1" / "devices").mkdir(parents=True, exist_ok=True)
    (root / "bus" / "w1" / "devices" / device_id).symlink_to(device, target_is_directory=True)
    return device


class Replies:
    """A reader that answers a file with queued texts (one per read), or raises a queued errno, then the file."""

    def __init__(self, *replies: str | int) -> None:
        self.replies = list(replies)

    def __call__(self, path: Path) -> str:
        if not self.replies:
            return read_attribute(path)
        reply = self.replies.pop(0)
        if isinstance(reply, int):
            raise OSError(reply, os.strerror(reply), str(path))
        return reply


@pytest.mark.parametrize(
    "device_id", ["10-000802b5a3c1", "22-000000a1b2c3", "28-0316a2795aff", "3b-0000001a2b3c", "42-00000023d5e6"]
)
def test_every_w1_therm_family_reads_w1_slave(tmp_path: Path, device_id: str) -> None:
    """Each w1_therm family's w1_slave "t=23125" is 23.125 °C."""
    thermometer(tmp_path, device_id, {"w1_slave": w1_slave(23125)})
    assert W1Thermometer(device_id, tmp_path).sample() == {"temperature": 23.125}


def test_temperature_file_is_preferred(tmp_path: Path) -> None:
    """Where the kernel has the `temperature` attribute, it is read instead of w1_slave."""
    thermometer(tmp_path, "28-0316a2795aff", {"temperature": "-10125\n", "w1_slave": w1_slave(23125)})
    assert W1Thermometer("28-0316a2795aff", tmp_path).sample() == {"temperature": -10.125}


def test_crc_no_is_retried_then_read(tmp_path: Path) -> None:
    """A "crc=.. NO" line is a failed read: the next try within the same sample is used."""
    thermometer(tmp_path, "28-0316a2795aff", {"w1_slave": w1_slave(21500)})
    chip = W1Thermometer("28-0316a2795aff", tmp_path, reader=Replies(w1_slave(99000, "NO")))
    assert chip.sample() == {"temperature": 21.5}


def test_crc_no_every_time_fails(tmp_path: Path) -> None:
    """Three NO answers (two retries) are a DeviceError about the CRC."""
    thermometer(tmp_path, "28-0316a2795aff", {"w1_slave": w1_slave(21500, "NO")})
    with pytest.raises(DeviceError, match=r"CRC check failed .*3 tries"):
        W1Thermometer("28-0316a2795aff", tmp_path).sample()


def test_power_on_85_is_a_failed_read(tmp_path: Path) -> None:
    """t=85000 with a good CRC is the scratchpad's power-on reset value, not 85 °C."""
    thermometer(tmp_path, "28-0316a2795aff", {"w1_slave": YES})
    with pytest.raises(DeviceError, match="85 °C power-on"):
        W1Thermometer("28-0316a2795aff", tmp_path, retries=0).sample()


def test_85_then_a_real_value(tmp_path: Path) -> None:
    """A power-on 85 °C is retried within the sample."""
    thermometer(tmp_path, "28-0316a2795aff", {"temperature": "19000\n"})
    chip = W1Thermometer("28-0316a2795aff", tmp_path, reader=Replies("85000\n"))
    assert chip.sample() == {"temperature": 19.0}


@pytest.mark.parametrize("filename", ["temperature", "w1_slave"])
def test_empty_read_is_a_failed_conversion(tmp_path: Path, filename: str) -> None:
    """temperature_show()/w1_slave_show() `return 0` on a failed conversion: an empty read fails the sample."""
    thermometer(tmp_path, "28-0316a2795aff", {filename: ""})
    with pytest.raises(DeviceError, match="empty read"):
        W1Thermometer("28-0316a2795aff", tmp_path).sample()


def test_oserror_names_the_errno(tmp_path: Path) -> None:
    """An OSError reading w1_slave is a DeviceError naming the file and the errno, raised from it."""
    thermometer(tmp_path, "28-0316a2795aff", {"w1_slave": w1_slave(20000)})
    with pytest.raises(DeviceError, match="w1_slave: EIO") as caught:
        W1Thermometer("28-0316a2795aff", tmp_path, reader=Replies(errno.EIO)).sample()
    assert isinstance(caught.value.__cause__, OSError)


def test_unknown_family_is_refused(tmp_path: Path) -> None:
    """An id of a family w1_therm does not drive (a DS2413 switch, 3a-) is refused, listing the families."""
    with pytest.raises(DeviceError, match=r"not a w1_therm thermometer id .*28- DS18B20"):
        W1Thermometer("3a-000000123456", tmp_path)


def test_missing_device(tmp_path: Path) -> None:
    """No such device under bus/w1/devices: DeviceError pointing at the w1-gpio overlay."""
    with pytest.raises(DeviceError, match="w1-gpio"):
        W1Thermometer("28-0316a2795aff", tmp_path)


def test_close_is_final(tmp_path: Path) -> None:
    """After close, sample is a DeviceError."""
    thermometer(tmp_path, "28-0316a2795aff", {"w1_slave": w1_slave(20000)})
    chip = W1Thermometer("28-0316a2795aff", tmp_path)
    chip.close()
    chip.close()
    with pytest.raises(DeviceError, match="after close"):
        chip.sample()
