"""Serial (UART) sensors on pyserial: Plantower PMS5003/PMS7003/PMSA003 particulate matter and Winsen MH-Z19B/C CO2.

    [[sensors]]
    id = "air-pm25"
    kind = "pms5003"
    quantity = "pm25"             # pm1 | pm25 | pm10 (atmospheric, µg/m³): one entry each, one frame per interval
    device = "/dev/serial0"

    [[sensors]]
    id = "office-co2"
    kind = "mhz19"
    device = "/dev/ttyUSB0"
    abc = false                   # automatic baseline calibration: see below

The Pi's UART (GPIO14 TXD, GPIO15 RXD) needs `enable_uart=1` in config.txt and the serial console off
(`raspi-config` > Interface Options > Serial Port: login shell no, hardware yes); a USB adapter needs neither.
The MH-Z19's automatic baseline calibration assumes the sensor sees fresh air (400 ppm) at least once a day: right
outdoors or in a ventilated room, wrong in a closed room or a greenhouse where it would drift low. `abc = true` or
`false` is sent at open; left out, the sensor keeps its own setting (on from the factory). A PMS5003 needs about
30 s after power-on for stable readings: for `warmup` seconds after the port is opened (at boot, that is
power-on) it is reported unavailable, never slept through; `check` run later waits for it too.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from gateway.devices.chip import Chip
from gateway.devices.hardware import Hardware
from gateway.devices.simulated import SimulatedHardware, drift
from gateway.kinds.chip import ChipSensorConfig
from gateway.plugins import SensorPlugin, SupportedChip

SerialDevice = Annotated[str, StringConstraints(pattern=r"^/dev/[A-Za-z0-9_./-]{1,64}$")]
# The header's UART: /dev/serial0 is the alias Raspberry Pi OS makes for whichever UART the header carries.
HEADER_UARTS = ("/dev/serial0", "/dev/ttyAMA0", "/dev/ttyS0")
UART_PINS = {"TXD": 14, "RXD": 15}


class SerialSensorConfig(ChipSensorConfig):
    """A sensor on a serial port; the entries of one port share its reads."""

    device: SerialDevice = "/dev/serial0"
    timeout: Annotated[float, Field(gt=0, le=30, allow_inf_nan=False, strict=False)] = 3.0

    def chip_key(self) -> tuple[object, ...]:
        """One open port per device."""
        return ("uart", self.device)

    def chip_name(self) -> str:
        """`pms5003 /dev/serial0`."""
        return f"{self.kind} {self.device}"

    def bus_pins(self) -> tuple[str, dict[str, int]] | None:
        """GPIO14/15 when the sensor is on the header's UART (not on a USB adapter)."""
        return ("UART0", UART_PINS) if self.device in HEADER_UARTS else None


class Pms5003Config(SerialSensorConfig):
    """One particulate quantity of a PMS5003/PMS7003/PMSA003 (the same 32-byte frame)."""

    kind: Literal["pms5003"]
    quantity: Literal["pm1", "pm25", "pm10"]
    warmup: Annotated[float, Field(ge=0, le=600, allow_inf_nan=False, strict=False)] = Field(
        default=30.0, description="seconds after open during which readings are reported unavailable"
    )
    interval: Annotated[float, Field(ge=1, le=86_400, allow_inf_nan=False)] = 10.0


class Mhz19Config(SerialSensorConfig):
    """The CO2 of an MH-Z19B/C."""

    kind: Literal["mhz19"]
    quantity: Literal["carbon_dioxide"] = "carbon_dioxide"
    abc: bool | None = Field(default=None, description="automatic baseline calibration, set at open; none: keep")
    timeout: Annotated[float, Field(gt=0, le=30, allow_inf_nan=False, strict=False)] = 1.0
    interval: Annotated[float, Field(ge=1, le=86_400, allow_inf_nan=False)] = 10.0


def _open_pms(config: Pms5003Config, _hardware: Hardware) -> Chip:
    from gateway.devices.uart.pms5003 import Pms5003  # noqa: PLC0415 - pyserial only when used

    return Pms5003.open(config.device, timeout=config.timeout, warmup=config.warmup)


def _open_mhz19(config: Mhz19Config, _hardware: Hardware) -> Chip:
    from gateway.devices.uart.mhz19 import Mhz19  # noqa: PLC0415 - pyserial only when used

    return Mhz19.open(config.device, timeout=config.timeout, abc=config.abc)


def _simulate_pms(config: Pms5003Config, hardware: SimulatedHardware) -> Pms5003Config:
    """A PMS5003 on a real pseudo-terminal, streaming frames; the entry opens its slave side."""
    from gateway.devices.uart.simulators import SimulatedPms5003  # noqa: PLC0415 - simulation only

    def start() -> SimulatedPms5003:
        simulated = SimulatedPms5003(interval=1.0).start()
        hardware.on_close(simulated.stop)
        rng = hardware.rng
        pm25 = drift(rng.uniform(300, 900), 4.0, 30.0, rng.uniform(0, 6))

        def update(now: float) -> None:
            value = pm25(now)
            simulated.pm1, simulated.pm25, simulated.pm10 = round(value * 0.6), round(value), round(value * 1.5)

        hardware.every_tick(update)
        return simulated

    simulated = hardware.shared(config.chip_key(), start)
    return config.model_copy(update={"device": simulated.path, "warmup": 0.0})  # a simulator is warm at once


def _simulate_mhz19(config: Mhz19Config, hardware: SimulatedHardware) -> Mhz19Config:
    """An MH-Z19 answering read commands on a real pseudo-terminal."""
    from gateway.devices.uart.simulators import SimulatedMhz19  # noqa: PLC0415 - simulation only

    def start() -> SimulatedMhz19:
        simulated = SimulatedMhz19().start()
        hardware.on_close(simulated.stop)
        co2 = drift(hardware.rng.uniform(600, 1800), 450.0, 1400.0)

        def update(now: float) -> None:
            simulated.co2 = round(co2(now))

        hardware.every_tick(update)
        return simulated

    simulated = hardware.shared(config.chip_key(), start)
    return config.model_copy(update={"device": simulated.path})


PMS5003 = SensorPlugin(
    kind="pms5003",
    config_model=Pms5003Config,
    open_chip=_open_pms,
    simulate=_simulate_pms,
    chips=(
        SupportedChip("PMS5003, PMS7003, PMSA003", "UART 9600", "pyserial", "pm1, pm25, pm10 µg/m³", "enable_uart=1"),
    ),
)
MHZ19 = SensorPlugin(
    kind="mhz19",
    config_model=Mhz19Config,
    open_chip=_open_mhz19,
    simulate=_simulate_mhz19,
    chips=(SupportedChip("MH-Z19B, MH-Z19C", "UART 9600", "pyserial", "carbon_dioxide ppm", "enable_uart=1"),),
)
