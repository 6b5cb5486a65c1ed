"""The chip kinds end to end below the sampler: backend choice, one sample per interval, clear set-up errors.

The I2C chips are the register-map simulators behind the real smbus2 (its ioctl layer replaced); the kernel
route reads fake sysfs trees laid out like the kernel's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory

from gateway.config import GatewayConfig
from gateway.devices.chip import ChipPool
from gateway.devices.hardware import Hardware
from gateway.devices.i2c.simulators import SimulatedBme280, SimulatedI2c, attached
from gateway.devices.kernel import faketree
from gateway.devices.sensors import PolledInput, open_sensor
from gateway.errors import DeviceError
from gateway.plugins import config_model


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def configure(*sensors: dict[str, Any], outputs: tuple[dict[str, Any], ...] = ()) -> GatewayConfig:
    return config_model().model_validate(
        {"gpio": {"pin_factory": "mock"}, "sensors": list(sensors), "outputs": list(outputs)}
    )


def bme280_entries(**keys: Any) -> list[dict[str, Any]]:
    return [
        {"id": f"air-{quantity}", "kind": "bme280", "quantity": quantity, "interval": 10, **keys}
        for quantity in ("temperature", "humidity", "pressure")
    ]


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatedI2c]:
    adapter = SimulatedI2c()
    (tmp_path / "dev").mkdir()
    with attached(adapter, tmp_path / "dev", 1):
        yield adapter


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hardware(tmp_path: Path, mock_factory: MockFactory, clock: Clock) -> Hardware:
    return Hardware(mock_factory, sysfs_root=tmp_path / "sys", dev_root=tmp_path / "dev", chips=ChipPool(clock))


def open_all(config: GatewayConfig, hardware: Hardware) -> list[PolledInput]:
    drivers = [open_sensor(sensor, hardware) for sensor in config.sensors]
    assert all(isinstance(driver, PolledInput) for driver in drivers)
    return drivers  # type: ignore[return-value]


class TestOneSamplePerInterval:
    def test_three_quantities_cost_one_forced_measurement_per_interval(
        self, sim: SimulatedI2c, hardware: Hardware, clock: Clock
    ) -> None:
        """Three entries on one BME280 read over three intervals: three measurements on the chip, not nine."""
        chip = sim.chips[0x76] = SimulatedBme280(temperature=21.5, humidity=45.0, pressure=1013.25)
        drivers = open_all(configure(*bme280_entries(backend="i2c")), hardware)
        at_open = sim.transactions[0x76]
        per_interval = []
        for _ in range(3):
            before = sim.transactions[0x76]
            values = [driver.read() for driver in drivers]
            per_interval.append(sim.transactions[0x76] - before)
            clock.now += 10
        assert chip.conversions == 3
        assert at_open > 0
        assert per_interval[0] > 0
        assert per_interval == [per_interval[0]] * 3  # the same transfers each interval, none per extra quantity
        assert values == pytest.approx([21.5, 45.0, 1013.25], abs=0.02)
        for driver in drivers:
            driver.close()


class TestBackend:
    def test_auto_reads_the_kernel_driver_when_one_is_bound(
        self, sim: SimulatedI2c, hardware: Hardware, tmp_path: Path
    ) -> None:
        """With bmp280.c bound at 1-0076, `auto` reads its sysfs files and sends nothing on the bus."""
        tree = faketree.bme280(tmp_path / "sys", bus=1, address=0x76)
        tree.update({"temperature": 19.25, "humidity": 51.5, "pressure": 1002.5})
        sim.chips[0x76] = SimulatedBme280()
        values = [driver.read() for driver in open_all(configure(*bme280_entries()), hardware)]
        assert values == [19.25, 51.5, 1002.5]
        assert sim.transactions[0x76] == 0

    def test_auto_uses_our_driver_when_no_kernel_driver_is_bound(self, sim: SimulatedI2c, hardware: Hardware) -> None:
        """Without a bound driver, `auto` talks to the chip itself."""
        sim.chips[0x76] = SimulatedBme280(temperature=30.0)
        (driver, *_) = open_all(configure(*bme280_entries()), hardware)
        assert driver.read() == pytest.approx(30.0, abs=0.01)

    def test_our_driver_never_takes_an_address_a_kernel_driver_owns(
        self, sim: SimulatedI2c, hardware: Hardware, tmp_path: Path
    ) -> None:
        """`backend = "i2c"` on a bound address is refused at open, naming the driver, before any transfer."""
        faketree.bme280(tmp_path / "sys", bus=1, address=0x76)
        sim.chips[0x76] = SimulatedBme280()
        with pytest.raises(DeviceError, match="kernel driver 'bmp280' owns i2c-1 0x76"):
            open_all(configure(*bme280_entries(backend="i2c")), hardware)
        assert sim.transactions[0x76] == 0

    def test_kernel_without_a_bound_driver_names_the_config_txt_line(self, hardware: Hardware) -> None:
        """`backend = "kernel"` with nothing bound says which overlay line binds it, with the address parameter."""
        config = configure(
            {"id": "baro", "kind": "bmp280", "quantity": "pressure", "address": 0x77, "backend": "kernel"}
        )
        with pytest.raises(DeviceError, match=r"dtoverlay=i2c-sensor,bmp280,addr=0x77"):
            open_all(config, hardware)

    def test_a_chip_without_a_driver_of_ours_names_its_overlay_under_auto(self, hardware: Hardware) -> None:
        """An AHT20 (kernel only) with nothing bound says which overlay line binds aht10.c, not "unknown chip"."""
        config = configure({"id": "h", "kind": "sht", "chip": "aht20", "quantity": "humidity"})
        with pytest.raises(DeviceError, match=r"dtoverlay=i2c-sensor,aht10"):
            open_all(config, hardware)

    def test_a_wrong_chip_is_named_at_open(self, sim: SimulatedI2c, hardware: Hardware) -> None:
        """A BMP280 (id 0x58) where a BME280 is configured is refused when the sensor opens."""
        sim.chips[0x76] = SimulatedBme280(chip_id=0x58)
        with pytest.raises(DeviceError, match="0x58"):
            open_all(configure(*bme280_entries(backend="i2c")), hardware)


class TestIna219Shunt:
    def test_the_kernels_10_milliohm_current_is_rescaled_to_the_real_shunt(
        self, hardware: Hardware, tmp_path: Path
    ) -> None:
        """ina2xx.c divides the shunt voltage by its 10 mΩ default; with a 0.1 Ω shunt 50 mV is 0.5 A, not 5 A."""
        tree = faketree.ina219(tmp_path / "sys", bus=1, address=0x40)
        # What the driver prints for 50 mV across its assumed 10 mΩ at 12 V: 5000 mA and 60 W.
        tree.update({"shunt_voltage": 0.050, "voltage": 12.0, "current": 5.0, "power": 60.0})
        config = configure(
            *({"id": f"pump-{q}", "kind": "ina219", "quantity": q, "shunt_ohms": 0.1} for q in ("current", "power"))
        )
        current, power = (driver.read() for driver in open_all(config, hardware))
        assert current == pytest.approx(0.050 / 0.1)
        assert power == pytest.approx(12.0 * 0.5)


class TestConfig:
    @pytest.mark.parametrize(
        ("entry", "problem"),
        [
            ({"kind": "bme280", "quantity": "temperature", "address": 0x40}, "answers at 0x76, 0x77"),
            ({"kind": "bmp280", "quantity": "humidity"}, "quantity"),
            ({"kind": "sht", "chip": "htu21d", "quantity": "humidity", "address": 0x44}, "answers at 0x40"),
            ({"kind": "dht", "quantity": "humidity", "interval": 1}, "greater than or equal to 2"),
            ({"kind": "iio", "channel": "flux0", "address": 0x10}, "no known unit"),
            ({"kind": "iio", "channel": "temp", "address": 0x10, "device_name": "x"}, "not both"),
            ({"kind": "ads1115", "full_scale": 5.0}, "full_scale 5.0"),
            ({"kind": "ds18b20", "device_id": "05-0316a2795aff"}, "device_id"),
            ({"kind": "sht", "chip": "aht20", "quantity": "humidity", "backend": "i2c"}, "kernel's aht10 driver only"),
            ({"kind": "bme280", "quantity": "temperature", "unit": "°F"}, "in °C, not °F"),
        ],
    )
    def test_bad_entries_are_refused_when_the_config_loads(self, entry: dict[str, Any], problem: str) -> None:
        """Each bad entry is refused at load time (so `check` and `run` agree), saying what is wrong."""
        with pytest.raises(ValueError, match=problem):
            configure({"id": "x", **entry})

    def test_the_sht_address_follows_the_chip(self) -> None:
        """Without `address`, an SHT4x is at 0x44 and an HTU21D at 0x40 (their datasheets' fixed addresses)."""
        config = configure(
            {"id": "a", "kind": "sht", "chip": "sht4x", "quantity": "humidity"},
            {"id": "b", "kind": "sht", "chip": "htu21d", "quantity": "humidity"},
        )
        assert [sensor.address for sensor in config.sensors] == [0x44, 0x40]  # type: ignore[union-attr]

    def test_an_output_on_the_i2c_pins_is_refused(self) -> None:
        """A relay on GPIO2 with a chip on i2c-1 is a pin conflict found when the config loads."""
        with pytest.raises(ValueError, match="GPIO2 is I2C1 SDA"):
            configure(*bme280_entries(), outputs=({"id": "r", "kind": "relay", "pin": 2},))

    @pytest.mark.parametrize(
        ("entries", "problem"),
        [
            (
                [
                    {"kind": "sht", "chip": "sht3x", "quantity": "humidity"},
                    {"kind": "sht", "chip": "sht4x", "quantity": "temperature"},
                ],
                "disagree on chip",
            ),
            (
                [
                    {"kind": "ina219", "quantity": "current"},
                    {"kind": "ina219", "quantity": "power", "shunt_ohms": 0.01},
                ],
                "disagree on shunt_ohms",
            ),
            ([{"kind": "pms5003", "quantity": "pm25"}, {"kind": "mhz19"}], "disagree on kind"),
            (
                [{"kind": "dht", "quantity": "humidity", "pin": 2}, {"kind": "bme280", "quantity": "temperature"}],
                "GPIO2 is I2C1 SDA",
            ),
            ([{"kind": "dht", "quantity": "humidity", "pin": 10}, {"kind": "mcp3008", "channel": 0}], "also SPI0"),
        ],
    )
    def test_entries_sharing_a_chip_or_a_pin_must_agree(self, entries: list[dict[str, Any]], problem: str) -> None:
        """Entries of one chip that would open it differently, or two buses on one pin, are refused at load."""
        with pytest.raises(ValueError, match=problem):
            configure(*({"id": f"s{n}", **entry} for n, entry in enumerate(entries)))

    def test_two_chips_at_one_address_are_refused(self) -> None:
        """One address answers for one chip: a BME280 and an SHT at 0x76/... are refused when they collide."""
        with pytest.raises(ValueError, match="0x40 is configured as 'sht'"):
            configure(
                {"id": "a", "kind": "sht", "chip": "htu21d", "quantity": "humidity"},
                {"id": "b", "kind": "ina219", "quantity": "current"},
            )


class TestAht:
    def test_an_aht20_reads_through_the_aht10_hwmon_driver(self, hardware: Hardware, tmp_path: Path) -> None:
        """aht10.c (which serves the AHT20) registers hwmon "aht10" with temp1_input (m°C) and humidity1_input (m%)."""
        client = tmp_path / "sys" / "devices" / "platform" / "soc" / "i2c-1" / "1-0038"
        hwmon = client / "hwmon" / "hwmon3"
        hwmon.mkdir(parents=True)
        (hwmon / "name").write_text("aht10\n", encoding="ascii")
        (hwmon / "temp1_input").write_text("23456\n", encoding="ascii")
        (hwmon / "humidity1_input").write_text("51234\n", encoding="ascii")
        drivers = tmp_path / "sys" / "bus" / "i2c" / "drivers" / "aht10"
        drivers.mkdir(parents=True)
        (client / "driver").symlink_to(drivers)
        (tmp_path / "sys" / "bus" / "i2c" / "devices").mkdir(parents=True)
        (tmp_path / "sys" / "bus" / "i2c" / "devices" / "1-0038").symlink_to(client)
        config = configure(
            *({"id": q, "kind": "sht", "chip": "aht20", "quantity": q} for q in ("temperature", "humidity"))
        )
        assert [driver.read() for driver in open_all(config, hardware)] == [23.456, 51.234]
