"""`detect` and `init --detect`: kernel devices, 1-Wire, read-only I2C probes, and configs that load and read."""

from __future__ import annotations

import errno
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory
from smbus2.smbus2 import I2C_FUNCS

from gateway.cli import main
from gateway.cli.detect import PROPOSALS, Detection, Found, assign_ids, detect, render_toml
from gateway.config import ID_PATTERN
from gateway.config_loader import load_config
from gateway.devices.expanders.simulators import SimulatedMcp23x
from gateway.devices.i2c.simulators import (
    Message,
    SimulatedBh1750,
    SimulatedBme280,
    SimulatedI2c,
    SimulatedIna219,
    SimulatedSht,
    attached,
)
from gateway.devices.kernel import faketree
from gateway.devices.kernel.chips import CHIPS
from gateway.devices.probe import probe_sensors
from gateway.errors import EX_FAILURE, EX_OK

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sysfs(tmp_path: Path) -> Path:
    root = tmp_path / "sys"
    root.mkdir()
    return root


@pytest.fixture
def dev(tmp_path: Path) -> Path:
    root = tmp_path / "dev"
    root.mkdir()
    return root


@pytest.fixture
def tree(sysfs: Path) -> Path:
    """The kernel route's chips, as their drivers lay them out."""
    faketree.bme280(sysfs, address=0x76)
    faketree.sht3x(sysfs, address=0x44)
    faketree.dht22(sysfs, gpio=4)
    faketree.ds18b20(sysfs, device_id="28-000000000001")
    faketree.ads1115(sysfs, address=0x48)
    return sysfs


@pytest.fixture
def sim(dev: Path) -> Iterator[SimulatedI2c]:
    """An empty simulated adapter attached as `<dev>/i2c-1`."""
    simulator = SimulatedI2c()
    with attached(simulator, dev, 1):
        yield simulator


def config_text(tmp_path: Path, sysfs: Path, dev: Path, sensors: str = "") -> str:
    """A config on mock pins whose [devices] point at the fake roots, with `sensors` appended."""
    return (
        f'[gateway]\nid = "test"\nstate_dir = "{tmp_path / "state"}"\n'
        '[gpio]\npin_factory = "mock"\nsimulate = false\n'
        f'[devices]\nsysfs_root = "{sysfs}"\ndev_root = "{dev}"\n\n{sensors}'
    )


def write_config(tmp_path: Path, sysfs: Path, dev: Path, sensors: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(config_text(tmp_path, sysfs, dev, sensors), encoding="utf-8")
    return path


def kinds_by_place(detection: Detection) -> dict[str, set[str]]:
    """`where` -> the kinds its entries propose."""
    return {f.where: {str(dict(e.fields)["kind"]) for e in f.entries} for f in detection.found}


def one(detection: Detection, where: str) -> Found:
    (found,) = [f for f in detection.found if f.where == where]
    return found


def uncommented(toml: str) -> str:
    """The TOML with every commented-out line put back (what a user does to accept a suggestion)."""
    return "\n".join(line.removeprefix("# ") for line in toml.splitlines() if not line.startswith("# something"))


class TestKernelRoute:
    def test_finds_each_fake_chip_with_its_kind(self, tree: Path, dev: Path) -> None:
        """BME280, SHT3x (hwmon), DHT22, DS18B20 and ADS1115 in a fake sysfs tree are found as their named kinds."""
        detection = detect(tree, dev)
        assert kinds_by_place(detection) == {
            "i2c-1 0x76": {"bme280"},
            "i2c-1 0x44": {"sht"},
            "GPIO4": {"dht"},
            "1-Wire 28-000000000001": {"ds18b20"},
            "i2c-1 0x48": {"ads1115"},
        }
        bme280 = one(detection, "i2c-1 0x76")
        assert [e.name for e in bme280.entries] == ["temperature", "humidity", "pressure"]
        assert all(dict(e.fields)["backend"] == "auto" for e in bme280.entries)
        assert "kernel driver bmp280" in bme280.describe()
        assert dict(one(detection, "GPIO4").entries[0].fields)["pin"] == 4

    def test_proposed_config_loads_and_every_sensor_reads(
        self, tree: Path, dev: Path, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """The proposed [[sensors]] pass load_config, and each opens and reads the fake tree's value."""
        path = write_config(tmp_path, tree, dev, render_toml(detect(tree, dev).found))
        config = load_config(path, environ={}).config
        probes = probe_sensors(mock_factory, config, config.sensors, tmp_path / "state")
        values = {p.sensor.id: p.value for p in probes if p.error is None}
        assert {p.sensor.id: p.error for p in probes if p.error} == {}
        assert values == pytest.approx(
            {
                "bme280-temperature": 21.5,
                "bme280-humidity": 45.0,
                "bme280-pressure": 1013.25,
                "sht3x-temperature": 20.9,
                "sht3x-humidity": 48.7,
                "dht22-temperature": 22.3,
                "dht22-humidity": 51.2,
                "ds18b20-temperature": 18.5,
                "ads1115-voltage0": 1.65,
            },
            abs=0.01,
        )

    def test_soc_hwmon_is_skipped(self, sysfs: Path, dev: Path) -> None:
        """A hwmon device without an I2C or DHT parent (cpu_thermal) is listed as skipped, not proposed."""
        zone = sysfs / "devices" / "virtual" / "thermal" / "thermal_zone0" / "hwmon0"
        zone.mkdir(parents=True)
        (zone / "name").write_text("cpu_thermal\n", encoding="ascii")
        (zone / "temp1_input").write_text("45000\n", encoding="ascii")
        (sysfs / "class" / "hwmon").mkdir(parents=True)
        (sysfs / "class" / "hwmon" / "hwmon0").symlink_to(zone)
        detection = detect(sysfs, dev)
        assert detection.found == []
        assert [note.split(" (")[0] for note in detection.skipped] == ["hwmon0 cpu_thermal"]

    def test_unknown_chip_is_proposed_as_generic_channels_that_read(
        self, sysfs: Path, dev: Path, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """A hwmon chip the table does not know gets one generic `hwmon` entry per channel, and they read."""
        faketree.sht3x(sysfs, address=0x18, chip="mcp9808")  # a hwmon layout under a name not in CHIPS
        (found,) = detect(sysfs, dev).found
        assert [dict(e.fields) for e in found.entries] == [
            {"kind": "hwmon", "channel": "humidity1", "bus": 1, "address": 0x18},
            {"kind": "hwmon", "channel": "temp1", "bus": 1, "address": 0x18},
        ]
        config = load_config(write_config(tmp_path, sysfs, dev, render_toml([found])), environ={}).config
        probes = probe_sensors(mock_factory, config, config.sensors, tmp_path / "state")
        assert {p.sensor.id: p.value for p in probes} == pytest.approx(
            {"mcp9808-humidity1": 48.7, "mcp9808-temp1": 20.9}
        )

    def test_repeated_chips_get_unique_valid_ids(self, sysfs: Path, dev: Path) -> None:
        """Two BME280s and two DS18B20s get ids qualified by place, all unique and valid, none already taken."""
        faketree.bme280(sysfs, address=0x76)
        faketree.bme280(sysfs, address=0x77)
        faketree.ds18b20(sysfs, device_id="28-000000000001")
        faketree.ds18b20(sysfs, device_id="28-000000000002")
        found = detect(sysfs, dev).found
        ids = [i for group in assign_ids(found, taken={"bme280-1-76-temperature"}) for i in group]
        assert len(ids) == len(set(ids)) == 8
        assert all(re.match(ID_PATTERN, i) for i in ids)
        assert {"bme280-1-76-temperature-2", "bme280-1-77-pressure", "ds18b20-28-000000000002-temperature"} <= set(ids)

    def test_every_table_chip_has_a_proposal(self) -> None:
        """Each chip of the kernel table says how it becomes config (a chip added there must be added here)."""
        assert set(CHIPS) <= set(PROPOSALS)


class TestI2cProbes:
    def test_finds_bosch_chips_writing_only_register_pointers_before_reads(
        self, sysfs: Path, dev: Path, sim: SimulatedI2c
    ) -> None:
        """BME280 and BMP280 are told apart by chip id; the only writes are one-byte id-register pointers, each
        immediately followed by a read; no register changes, no conversion and no SHT command."""
        bme280, bmp280, sht = SimulatedBme280(), SimulatedBme280(chip_id=0x58), SimulatedSht()
        sim.chips.update({0x76: bme280, 0x77: bmp280, 0x44: sht})
        registers = {0x76: bytes(bme280.registers), 0x77: bytes(bmp280.registers)}
        detection = detect(sysfs, dev)
        assert [f.describe() for f in detection.found] == [
            "BME280 at i2c-1 0x76 (user space; `dtoverlay=i2c-sensor,bme280` would bind the kernel driver)",
            "BMP280 at i2c-1 0x77 (user space; `dtoverlay=i2c-sensor,bmp280,addr=0x77` would bind the kernel driver)",
        ]
        for index, message in enumerate(sim.log):
            if message.write:
                assert message.data == b"\xd0"  # the id register's address, one byte
                following = sim.log[index + 1]
                assert (following.address, following.write, len(following.data)) == (message.address, False, 1)
        assert [m for m in sim.log if m.write] == [Message(0x76, True, b"\xd0"), Message(0x77, True, b"\xd0")]
        assert {0x76: bytes(bme280.registers), 0x77: bytes(bmp280.registers)} == registers
        assert (bme280.conversions, bmp280.conversions, sht.measurements) == (0, 0, 0)
        # An idle SHT3x NACKs a read (it answers only after a command), so it was read once and stays unreported.
        assert sim.transactions[0x44] == 1
        assert not [m for m in sim.log if m.address == 0x44]

    def test_user_space_proposals_load_and_read(
        self, sysfs: Path, dev: Path, sim: SimulatedI2c, tmp_path: Path, mock_factory: MockFactory
    ) -> None:
        """The proposed BME280/BMP280 entries load and read through our own driver on the same simulated bus."""
        sim.chips.update({0x76: SimulatedBme280(temperature=19.0), 0x77: SimulatedBme280(chip_id=0x58)})
        config = load_config(write_config(tmp_path, sysfs, dev, render_toml(detect(sysfs, dev).found)), environ={})
        probes = probe_sensors(mock_factory, config.config, config.config.sensors, tmp_path / "state")
        assert {p.sensor.id: p.error for p in probes} == dict.fromkeys(
            ["bme280-temperature", "bme280-humidity", "bme280-pressure", "bmp280-temperature", "bmp280-pressure"]
        )
        assert next(p.value for p in probes if p.sensor.id == "bme280-temperature") == pytest.approx(19.0, abs=0.01)

    def test_chips_without_id_register_are_unconfirmed_and_never_written(
        self, sysfs: Path, dev: Path, sim: SimulatedI2c, tmp_path: Path
    ) -> None:
        """A BH1750 and an INA219 answer a plain read: "something answers", tables commented out (valid once
        uncommented), and not one write reaches them."""
        light, power = SimulatedBh1750(), SimulatedIna219()
        sim.chips.update({0x23: light, 0x45: power})
        detection = detect(sysfs, dev)
        assert [f.describe().split(":")[0] for f in detection.found] == [
            "something answers at i2c-1 0x23 (BH1750?)",
            "something answers at i2c-1 0x45 (INA219/INA226/SHT3x/SHT4x?)",
        ]
        assert not [m for m in sim.log if m.write]
        assert (light.measurements, light.powered, power.conversions) == (0, False, 0)
        toml = render_toml(detection.found)
        assert tomllib.loads(toml) == {}  # every table is commented out
        sensors = load_config(write_config(tmp_path, sysfs, dev, uncommented(toml)), environ={}).config.sensors
        assert {(s.id, s.kind) for s in sensors} == {
            ("bh1750-illuminance", "bh1750"),
            ("ina219-voltage", "ina219"),
            ("ina219-current", "ina219"),
            ("ina219-power", "ina219"),
        }

    def test_an_expander_is_found_by_a_plain_read_and_never_written(
        self, sysfs: Path, dev: Path, sim: SimulatedI2c, tmp_path: Path
    ) -> None:
        """An MCP23017 at 0x20 answers a plain read: an [[expanders]] table is proposed (commented out, valid once
        uncommented), and no byte is written to it (a write would drive a PCF8574's pins)."""
        chip = SimulatedMcp23x("mcp23017")
        sim.chips[0x20] = chip
        detection = detect(sysfs, dev)
        assert [f.describe().split(":")[0] for f in detection.found] == [
            "something answers at i2c-1 0x20 (MCP23017/MCP23008/PCF8574/PCF8575?)"
        ]
        assert not [m for m in sim.log if m.write]
        assert chip.output_history == []
        expanders = load_config(write_config(tmp_path, sysfs, dev, uncommented(render_toml(detection.found))), {})
        assert [(e.id, e.chip, e.address) for e in expanders.config.expanders] == [("expander-20", "mcp23017", 0x20)]

    def test_address_a_kernel_driver_owns_is_not_probed(self, sysfs: Path, dev: Path, sim: SimulatedI2c) -> None:
        """With the kernel's bmp280 bound at 1-0076, nothing goes to 0x76: it is reported once, by the kernel route."""
        faketree.bme280(sysfs, address=0x76)
        sim.chips.update({0x76: SimulatedBme280(), 0x77: SimulatedBme280(chip_id=0x58)})
        detection = detect(sysfs, dev)
        assert sim.transactions[0x76] == 0
        assert [m.address for m in sim.log] == [0x77, 0x77]
        assert [(f.where, f.how.split(";")[0]) for f in detection.found] == [
            ("i2c-1 0x76", "kernel driver bmp280, iio:device0"),
            ("i2c-1 0x77", "user space"),
        ]

    def test_unknown_bosch_chip_id_is_reported_without_tables(self, sysfs: Path, dev: Path, sim: SimulatedI2c) -> None:
        """A chip id none of ours has (0x61, a BME680) is "something answers", with no table proposed."""
        sim.chips[0x77] = SimulatedBme280(chip_id=0x61)
        (found,) = detect(sysfs, dev).found
        assert (found.confirmed, found.entries) == (False, ())
        assert "chip id 0x61" in found.describe()

    def test_a_bus_error_other_than_nothing_there_stops_that_bus(
        self, sysfs: Path, dev: Path, sim: SimulatedI2c
    ) -> None:
        """A timeout (SDA held low) is one problem line and ends that bus's scan; a NACK is silence."""
        sim.fail(0x23, errno.ETIMEDOUT)
        sim.chips[0x76] = SimulatedBme280()
        detection = detect(sysfs, dev)
        assert detection.found == []
        assert len(detection.problems) == 1
        assert "ETIMEDOUT" in detection.problems[0]
        assert sim.transactions[0x76] == 0

    def test_bus_without_permission_is_one_line_with_the_fix(
        self, sysfs: Path, dev: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A bus that refuses to open (EACCES) is one stderr line naming the i2c group; nothing is probed."""

        class Denied(SimulatedI2c):
            def ioctl(self, fd: int, request: int, arg: Any) -> int:
                if request == I2C_FUNCS:
                    raise PermissionError(errno.EACCES, "Permission denied")
                return super().ioctl(fd, request, arg)

        denied = Denied()
        with attached(denied, dev, 1):
            assert main(["-c", str(write_config(tmp_path, sysfs, dev)), "detect"]) == EX_FAILURE
        errors = [line for line in capsys.readouterr().err.splitlines() if "EACCES" in line]
        assert errors == [
            "i2c-1: EACCES (permission denied: add the user to the 'i2c' group): "
            "`sudo usermod -aG i2c $USER`, then log in again"
        ]
        assert not denied.log


class TestCommand:
    def test_nothing_found_exits_1_with_the_plain_message(
        self, sysfs: Path, dev: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """No device anywhere: exit 1, nothing on stdout, "No sensors found" naming where it looked, with hints."""
        assert main(["-c", str(write_config(tmp_path, sysfs, dev)), "detect"]) == EX_FAILURE
        out, err = capsys.readouterr()
        assert out == ""
        assert err.startswith(f"No sensors found: looked at 0 IIO/hwmon device(s) in {sysfs}/bus/iio/devices")
        assert f"no I2C bus in {dev}" in err
        assert "`dtparam=i2c_arm=on`" in err
        assert "`dtoverlay=w1-gpio`" in err

    def test_report_lists_devices_then_tables(
        self, tree: Path, dev: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The human output lists each device with how it is read, then the [[sensors]] tables."""
        assert main(["-c", str(write_config(tmp_path, tree, dev)), "detect"]) == EX_OK
        out = capsys.readouterr().out
        assert out.startswith("Found 5 device(s):\n  BME280 at i2c-1 0x76 (kernel driver bmp280, iio:device0)\n")
        assert "Skipped" not in out
        assert out.index("DS18B20 at 1-Wire 28-000000000001") < out.index("[[sensors]]")

    def test_toml_output_parses(
        self, tree: Path, dev: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`detect --toml` prints only TOML, which tomllib parses into the proposed sensors."""
        assert main(["-c", str(write_config(tmp_path, tree, dev)), "detect", "--toml"]) == EX_OK
        sensors = tomllib.loads(capsys.readouterr().out)["sensors"]
        assert [s["id"] for s in sensors] == [
            "bme280-temperature",
            "bme280-humidity",
            "bme280-pressure",
            "dht22-temperature",
            "dht22-humidity",
            "ads1115-voltage0",
            "sht3x-temperature",
            "sht3x-humidity",
            "ds18b20-temperature",
        ]

    def test_missing_config_file_means_default_roots_with_environment_overrides(
        self, tree: Path, dev: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without a config file detect uses the defaults, which GATEWAY__DEVICES__* override as for a file."""
        monkeypatch.setenv("GATEWAY__DEVICES__SYSFS_ROOT", str(tree))
        monkeypatch.setenv("GATEWAY__DEVICES__DEV_ROOT", str(dev))
        assert main(["-c", str(tmp_path / "absent.toml"), "detect", "--toml"]) == EX_OK
        assert len(tomllib.loads(capsys.readouterr().out)["sensors"]) == 9

    def test_init_detect_writes_a_config_load_config_accepts(
        self, tree: Path, dev: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`init --detect` writes the example plus the detected tables; it loads, and it is never overwritten."""
        monkeypatch.setenv("GATEWAY__DEVICES__SYSFS_ROOT", str(tree))
        monkeypatch.setenv("GATEWAY__DEVICES__DEV_ROOT", str(dev))
        path = tmp_path / "etc" / "config.toml"
        assert main(["-c", str(path), "init", "--detect"]) == EX_OK
        assert "detected: BME280 at i2c-1 0x76" in capsys.readouterr().out
        ids = [s.id for s in load_config(path).config.sensors]
        assert ids[:2] == ["cpu", "load"]  # the example's own
        assert {"bme280-pressure", "sht3x-humidity", "dht22-temperature", "ds18b20-temperature"} <= set(ids)
        written = path.read_text(encoding="utf-8")
        assert main(["-c", str(path), "init", "--detect"]) == EX_FAILURE
        assert path.read_text(encoding="utf-8") == written

    def test_init_detect_with_nothing_found_writes_the_example(
        self,
        sysfs: Path,
        dev: Path,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Finding nothing is no failure of init: the plain example is written and the message says why."""
        monkeypatch.setenv("GATEWAY__DEVICES__SYSFS_ROOT", str(sysfs))
        monkeypatch.setenv("GATEWAY__DEVICES__DEV_ROOT", str(dev))
        path = tmp_path / "config.toml"
        assert main(["-c", str(path), "init", "--detect"]) == EX_OK
        assert "No sensors found" in capsys.readouterr().err
        example = (ROOT / "gateway" / "data" / "config.example.toml").read_text(encoding="utf-8")
        assert path.read_text(encoding="utf-8") == example
