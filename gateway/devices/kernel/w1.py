"""1-Wire thermometers of every w1_therm family, read from `<root>/bus/w1/devices/<id>/` (dtoverlay=w1-gpio).

drivers/w1/slaves/w1_therm.c serves two files per thermometer:

- `temperature`: `sprintf(buf, "%d\\n", temperature_from_RAM(...))`, milli °C (newer kernels; preferred);
- `w1_slave`: the 9 scratchpad bytes and `: crc=<xx> YES` (or `NO`), then the bytes again and `t=<milli °C>`.

Both answer a failed conversion with an empty read (`return 0;`), not an errno.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from gateway.devices.kernel.sysfs import SYS, Reader, device_error, parse_decimal, read_attribute
from gateway.errors import DeviceError

# w1_therm.c: W1_THERM_DS18S20 0x10, DS1822 0x22, DS18B20 0x28, DS1825 0x3B (also MAX31850), DS28EA00 0x42.
FAMILIES: dict[str, str] = {
    "10": "DS18S20",
    "22": "DS1822",
    "28": "DS18B20",
    "3b": "DS1825/MAX31850",
    "42": "DS28EA00",
}
DEVICE_ID = re.compile(r"^(10|22|28|3b|42)-[0-9a-f]{12}$")
POWER_ON_RESET = Decimal(85000)  # the scratchpad's reset value: the conversion never ran, not 85 °C


class _FailedReadError(Exception):
    """The thermometer answered, but with no usable temperature (CRC NO, empty, 85 °C)."""


class W1Thermometer:
    """A w1_therm thermometer: `sample()` -> {"temperature": °C}, retrying a failed conversion `retries` times."""

    def __init__(
        self,
        device_id: str,
        root: Path = SYS,
        *,
        devices: Path | None = None,
        retries: int = 2,
        reader: Reader = read_attribute,
    ) -> None:
        if not DEVICE_ID.match(device_id):
            families = ", ".join(f"{code}- {name}" for code, name in FAMILIES.items())
            raise DeviceError(f"{device_id!r} is not a w1_therm thermometer id (families: {families})")
        # `devices`: the w1 devices directory itself, when not <root>/bus/w1/devices (an older config key).
        self._device = (devices or root / "bus" / "w1" / "devices") / device_id
        if not self._device.is_dir():
            raise DeviceError(f"no 1-Wire device {device_id} in {self._device.parent} (is dtoverlay=w1-gpio set?)")
        self._retries = retries
        self._read = reader
        self._closed = False

    def sample(self) -> dict[str, float]:
        """One temperature in °C; DeviceError after `retries` more failed reads or on any OSError."""
        if self._closed:
            raise DeviceError(f"{self._device.name}: sampled after close")
        failure = ""
        for _ in range(self._retries + 1):
            try:
                return {"temperature": float(self._millidegrees() / 1000)}
            except _FailedReadError as exc:
                failure = str(exc)
        raise DeviceError(f"{self._device.name}: {failure} ({self._retries + 1} tries)")

    def close(self) -> None:
        """Nothing is held open; later samples fail. Idempotent."""
        self._closed = True

    def _millidegrees(self) -> Decimal:
        simple = self._device / "temperature"
        if simple.exists():
            value = self._text(simple).strip()
            if not value:
                raise _FailedReadError("empty read (the conversion failed)")
            return _checked(parse_decimal(simple, value))
        return _checked(_from_w1_slave(self._device / "w1_slave", self._text(self._device / "w1_slave")))

    def _text(self, path: Path) -> str:
        try:
            return self._read(path)
        except OSError as exc:
            raise device_error(path, exc) from exc


def _from_w1_slave(path: Path, text: str) -> Decimal:
    """The `t=` value of a w1_slave file whose CRC line ends in YES."""
    lines = text.splitlines()
    if len(lines) < 2:
        raise _FailedReadError("empty read (the conversion failed)" if not text.strip() else "truncated w1_slave")
    if not lines[0].rstrip().endswith("YES"):
        raise _FailedReadError("CRC check failed (noise on the bus or a loose wire)")
    _, found, value = lines[1].partition("t=")
    if not found:
        raise _FailedReadError("no t= in w1_slave")
    return parse_decimal(path, value)


def _checked(millidegrees: Decimal) -> Decimal:
    if millidegrees == POWER_ON_RESET:
        raise _FailedReadError("85 °C power-on value: the thermometer reset before converting")
    return millidegrees
