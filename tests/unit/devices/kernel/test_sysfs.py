"""Locating kernel devices and reading their channels, against trees laid out as the real drivers lay them out.

Each fake tree below is written by hand with the literal file names and value formats of the driver cited beside
it; none comes from our own code (only the last test reads gateway.devices.kernel.faketree's trees).
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest

from gateway.devices.kernel import faketree
from gateway.devices.kernel.channels import Channel
from gateway.devices.kernel.chip import DHT_POLICY, I2C_POLICY, KernelChip, RetryPolicy
from gateway.devices.kernel.chips import CHIPS, open_named
from gateway.devices.kernel.locate import ByName, I2CDevice, PlatformDevice, locate
from gateway.devices.kernel.sysfs import read_attribute
from gateway.devices.kernel.w1 import W1Thermometer
from gateway.errors import DeviceError


class FailingReader:
    """A reader that raises chosen errnos for chosen files (by name), then reads the real file; counts reads."""

    def __init__(self) -> None:
        self.failures: dict[str, list[int]] = {}
        self.reads: list[str] = []

    def fail(self, filename: str, *numbers: int) -> None:
        self.failures.setdefault(filename, []).extend(numbers)

    def __call__(self, path: Path) -> str:
        self.reads.append(path.name)
        queue = self.failures.get(path.name)
        if queue:
            number = queue.pop(0)
            raise OSError(number, os.strerror(number), str(path))
        return read_attribute(path)


def write(directory: Path, files: Mapping[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="ascii")
    return directory


def i2c_client(root: Path, client: str) -> Path:
    """`/sys/devices/.../i2c-1/<client>` with its `/sys/bus/i2c/devices/<client>` symlink, as the I2C core makes it."""
    device = root / "devices" / "platform" / "soc" / "fe804000.i2c" / "i2c-1" / client
    device.mkdir(parents=True)
    (root / "bus" / "i2c" / "devices").mkdir(parents=True, exist_ok=True)
    (root / "bus" / "i2c" / "devices" / client).symlink_to(device, target_is_directory=True)
    return device


def iio_device(root: Path, parent: Path, n: int, files: Mapping[str, str]) -> Path:
    """`<parent>/iio:deviceN` with its `/sys/bus/iio/devices/iio:deviceN` symlink."""
    device = write(parent / f"iio:device{n}", files)
    (root / "bus" / "iio" / "devices").mkdir(parents=True, exist_ok=True)
    (root / "bus" / "iio" / "devices" / device.name).symlink_to(device, target_is_directory=True)
    return device


def hwmon_device(root: Path, parent: Path, n: int, files: Mapping[str, str]) -> Path:
    """`<parent>/hwmon/hwmonN` with its `/sys/class/hwmon/hwmonN` symlink."""
    device = write(parent / "hwmon" / f"hwmon{n}", files)
    (root / "class" / "hwmon").mkdir(parents=True, exist_ok=True)
    (root / "class" / "hwmon" / device.name).symlink_to(device, target_is_directory=True)
    return device


# drivers/iio/pressure/bmp280-core.c: IIO_TEMP/IIO_PRESSURE/IIO_HUMIDITYRELATIVE with BIT(IIO_CHAN_INFO_PROCESSED);
# temp `*val = comp_temp * 10` (IIO_VAL_INT, m°C), pressure `comp_press / 256000` (IIO_VAL_FRACTIONAL, kPa,
# printed "%d.%09u": the source's own example 24674867 -> 96.386199218), humidity `comp_humidity * 1000 / 1024`
# (IIO_VAL_INT, m%: its example 47445 -> 46333).
BME280 = {
    "name": "bme280\n",
    "in_temp_input": "23450\n",
    "in_pressure_input": "96.386199218\n",
    "in_humidityrelative_input": "46333\n",
}
BME280_CHANNELS = [Channel("iio", "temp"), Channel("iio", "pressure"), Channel("iio", "humidityrelative")]

# drivers/iio/humidity/dht11.c: platform device named after its DT node (dtoverlay=dht11,gpiopin=4 -> dht11@4),
# `iio->name = pdev->name`; IIO_TEMP and IIO_HUMIDITYRELATIVE with BIT(IIO_CHAN_INFO_PROCESSED); DHT22 values
# `((temp_int & 0x7f) << 8) + temp_dec) * 100` and `((hum_int << 8) + hum_dec) * 100` (milli units).
DHT22 = {"name": "dht11@4\n", "in_temp_input": "22300\n", "in_humidityrelative_input": "51200\n"}
DHT_CHANNELS = [Channel("iio", "temp"), Channel("iio", "humidityrelative")]


def dht_tree(root: Path) -> Path:
    platform = root / "devices" / "platform" / "dht11@4"
    platform.mkdir(parents=True)
    (root / "bus" / "platform" / "devices").mkdir(parents=True)
    (root / "bus" / "platform" / "devices" / "dht11@4").symlink_to(platform, target_is_directory=True)
    return iio_device(root, platform, 0, DHT22)


class TestLocate:
    def test_i2c_address_finds_iio_device_whatever_its_number(self, tmp_path: Path) -> None:
        """I2C 1-0076 resolves to bus/i2c/devices/1-0076/iio:device3: the N is found, never configured."""
        iio_device(tmp_path, i2c_client(tmp_path, "1-0076"), 3, BME280)
        found = locate(I2CDevice(1, 0x76, "iio"), tmp_path)
        assert found == tmp_path / "bus" / "i2c" / "devices" / "1-0076" / "iio:device3"

    def test_i2c_address_finds_hwmon_device(self, tmp_path: Path) -> None:
        """A hwmon driver's device is <client>/hwmon/hwmonN (drivers/hwmon/sht3x.c registers one under 1-0044)."""
        hwmon_device(tmp_path, i2c_client(tmp_path, "1-0044"), 2, {"name": "sht3x\n"})
        assert locate(I2CDevice(1, 0x44, "hwmon"), tmp_path).name == "hwmon2"

    def test_platform_device(self, tmp_path: Path) -> None:
        """dht11@4 resolves under bus/platform/devices/dht11@4 (the node dtoverlay=dht11,gpiopin=4 creates)."""
        dht_tree(tmp_path)
        assert locate(PlatformDevice("dht11@4"), tmp_path).name == "iio:device0"

    def test_name_matches_a_platform_devices_name_before_the_at(self, tmp_path: Path) -> None:
        """dht11.c names the IIO device pdev->name ("dht11@4"), so name "dht11" finds it."""
        dht_tree(tmp_path)
        assert locate(ByName("dht11", "iio"), tmp_path).name == "iio:device0"

    def test_name_matches_hwmon_class(self, tmp_path: Path) -> None:
        """hwmon devices are found by their name file under class/hwmon/hwmon*."""
        hwmon_device(tmp_path, i2c_client(tmp_path, "1-0040"), 1, {"name": "ina219\n"})
        hwmon_device(tmp_path, i2c_client(tmp_path, "1-0044"), 0, {"name": "sht3x\n"})
        assert locate(ByName("ina219", "hwmon"), tmp_path).name == "hwmon1"

    def test_two_devices_of_one_name_are_ambiguous(self, tmp_path: Path) -> None:
        """Two bme280 (0x76 and 0x77) cannot be told apart by name alone: DeviceError, not a guess."""
        iio_device(tmp_path, i2c_client(tmp_path, "1-0076"), 0, BME280)
        iio_device(tmp_path, i2c_client(tmp_path, "1-0077"), 1, BME280)
        with pytest.raises(DeviceError, match="2 devices match"):
            locate(ByName("bme280", "iio"), tmp_path)

    def test_label_narrows(self, tmp_path: Path) -> None:
        """The optional `label` file (sysfs-bus-iio, 5.8) picks one of two same-named devices."""
        iio_device(tmp_path, i2c_client(tmp_path, "1-0076"), 0, {**BME280, "label": "indoor\n"})
        iio_device(tmp_path, i2c_client(tmp_path, "1-0077"), 1, {**BME280, "label": "outdoor\n"})
        assert locate(ByName("bme280", "iio", label="outdoor"), tmp_path).name == "iio:device1"

    def test_of_node_narrows(self, tmp_path: Path) -> None:
        """The of_node symlink's target (the DT node, /sys/firmware/devicetree/base/dht11@17) picks a device."""
        nodes = write(tmp_path / "firmware" / "devicetree" / "base" / "dht11@17", {"name": "dht11"}).parent
        write(nodes / "dht11@4", {"name": "dht11"})
        for n, gpio in enumerate((4, 17)):
            platform = tmp_path / "devices" / "platform" / f"dht11@{gpio}"
            device = iio_device(tmp_path, platform, n, {**DHT22, "name": f"dht11@{gpio}\n"})
            (device / "of_node").symlink_to(nodes / f"dht11@{gpio}", target_is_directory=True)
        assert locate(ByName("dht11", "iio", of_node="dht11@17"), tmp_path).name == "iio:device1"

    def test_missing_client_says_what_to_check(self, tmp_path: Path) -> None:
        """No 1-0076 at all: the error names the path and the overlay line to check."""
        with pytest.raises(DeviceError, match=r"1-0076 does not exist .*dtoverlay"):
            locate(I2CDevice(1, 0x76, "iio"), tmp_path)

    def test_client_without_bound_driver(self, tmp_path: Path) -> None:
        """The I2C client exists but no driver registered an IIO device under it."""
        i2c_client(tmp_path, "1-0076")
        with pytest.raises(DeviceError, match="no iio device under"):
            locate(I2CDevice(1, 0x76, "iio"), tmp_path)


class TestChannels:
    def test_bme280_processed(self, tmp_path: Path) -> None:
        """bmp280-core.c processed values become °C, hPa (kPa x10) and %."""
        iio_device(tmp_path, i2c_client(tmp_path, "1-0076"), 0, BME280)
        sample = KernelChip(tmp_path, I2CDevice(1, 0x76, "iio"), BME280_CHANNELS).sample()
        assert sample == pytest.approx({"temperature": 23.45, "pressure": 963.86199218, "humidity": 46.333})

    def test_dht22(self, tmp_path: Path) -> None:
        """dht11.c milli-unit processed values of a DHT22 found by name."""
        dht_tree(tmp_path)
        chip = KernelChip(tmp_path, ByName("dht11", "iio"), DHT_CHANNELS, policy=DHT_POLICY)
        assert chip.sample() == pytest.approx({"temperature": 22.3, "humidity": 51.2})

    def test_htu21_shared_by_type_processed(self, tmp_path: Path) -> None:
        """htu21.c: info_mask_shared_by_type PROCESSED -> in_temp_input, in_humidityrelative_input (milli)."""
        # drivers/iio/humidity/htu21.c: `case IIO_TEMP: /* in milli °C */`,
        # `case IIO_HUMIDITYRELATIVE: /* in milli %RH */`
        files = {"name": "htu21\n", "in_temp_input": "24810\n", "in_humidityrelative_input": "39125\n"}
        iio_device(tmp_path, i2c_client(tmp_path, "1-0040"), 0, files)
        chip = KernelChip(tmp_path, I2CDevice(1, 0x40, "iio"), DHT_CHANNELS)
        assert chip.sample() == pytest.approx({"temperature": 24.81, "humidity": 39.125})

    def test_si7020_raw_scale_offset(self, tmp_path: Path) -> None:
        """si7020.c: raw with per-channel scale and offset; value = (raw + offset) * scale (m°C, m%)."""
        # drivers/iio/humidity/si7020.c: IIO_CHAN_INFO_SCALE temp 175720 / (65536 >> 2) and humidity
        # 125 * 1000 / (65536 >> 2) (IIO_VAL_FRACTIONAL -> "10.725097656", "7.629394531"); IIO_CHAN_INFO_OFFSET
        # -4368 and -786; indio_dev->name = dev_name(&client->dev), i.e. "1-0040".
        files = {
            "name": "1-0040\n",
            "in_temp_raw": "6700\n",
            "in_temp_scale": "10.725097656\n",
            "in_temp_offset": "-4368\n",
            "in_humidityrelative_raw": "7000\n",
            "in_humidityrelative_scale": "7.629394531\n",
            "in_humidityrelative_offset": "-786\n",
        }
        iio_device(tmp_path, i2c_client(tmp_path, "1-0040"), 0, files)
        sample = KernelChip(tmp_path, I2CDevice(1, 0x40, "iio"), DHT_CHANNELS).sample()
        assert sample == pytest.approx(
            {"temperature": 2332 * 10.725097656 / 1000, "humidity": 6214 * 7.629394531 / 1000}
        )

    def test_ads1115_single_ended_and_differential(self, tmp_path: Path) -> None:
        """ti-ads1015.c: in_voltage0_raw and in_voltage0-voltage1_raw times their own _scale, in mV."""
        # drivers/iio/adc/ti-ads1015.c: IIO_CHAN_INFO_SCALE = ads1015_fullscale_range[pga] / 2^(realbits - 1),
        # IIO_VAL_FRACTIONAL_LOG2; ADS1115 realbits 16: pga 1 (4096 mV, the ads1115 overlay's default cha_gain)
        # -> "0.125000000", pga 0 (6144 mV) -> "0.187500000". ADS1015_DRV_NAME "ads1015" names both chips.
        files = {
            "name": "ads1015\n",
            "in_voltage0_raw": "13200\n",
            "in_voltage0_scale": "0.125000000\n",
            "in_voltage0-voltage1_raw": "-800\n",
            "in_voltage0-voltage1_scale": "0.187500000\n",
        }
        iio_device(tmp_path, i2c_client(tmp_path, "1-0048"), 0, files)
        channels = [Channel("iio", "voltage0"), Channel("iio", "voltage0-voltage1", key="difference")]
        sample = KernelChip(tmp_path, I2CDevice(1, 0x48, "iio"), channels).sample()
        assert sample == pytest.approx({"voltage": 1.65, "difference": -0.15})

    def test_scale_shared_by_type(self, tmp_path: Path) -> None:
        """sysfs-bus-iio: with no in_voltage2_scale, the shared in_voltage_scale applies ("Y ... not present")."""
        files = {"name": "adc\n", "in_voltage2_raw": "1000\n", "in_voltage_scale": "0.5\n", "in_voltage_offset": "10\n"}
        iio_device(tmp_path, i2c_client(tmp_path, "1-0048"), 0, files)
        sample = KernelChip(tmp_path, I2CDevice(1, 0x48, "iio"), [Channel("iio", "voltage2")]).sample()
        assert sample == pytest.approx({"voltage": 0.505})

    def test_bh1750_raw_and_scale(self, tmp_path: Path) -> None:
        """bh1750.c: in_illuminance_raw times in_illuminance_scale, in lux."""
        # drivers/iio/light/bh1750.c: IIO_LIGHT RAW | SCALE; scale = mtreg_to_scale / mtreg = 57500000 / 69 = 833333
        # as IIO_VAL_INT_PLUS_MICRO -> "0.833333".
        files = {"name": "bh1750\n", "in_illuminance_raw": "300\n", "in_illuminance_scale": "0.833333\n"}
        iio_device(tmp_path, i2c_client(tmp_path, "1-0023"), 0, files)
        sample = KernelChip(tmp_path, I2CDevice(1, 0x23, "iio"), [Channel("iio", "illuminance")]).sample()
        assert sample == pytest.approx({"illuminance": 249.9999})

    def test_sht3x_hwmon(self, tmp_path: Path) -> None:
        """sht3x.c: temp1_input "%d" m°C and humidity1_input "%u" pcm."""
        # drivers/hwmon/sht3x.c: temp1_input_show sprintf(buf, "%d\n", data->temperature),
        # humidity1_input_show sprintf(buf, "%u\n", data->humidity); hwmon name = client->name "sht3x".
        files = {"name": "sht3x\n", "temp1_input": "-4250\n", "humidity1_input": "48250\n"}
        hwmon_device(tmp_path, i2c_client(tmp_path, "1-0044"), 0, files)
        channels = [Channel("hwmon", "temp1"), Channel("hwmon", "humidity1")]
        sample = KernelChip(tmp_path, I2CDevice(1, 0x44, "hwmon"), channels).sample()
        assert sample == pytest.approx({"temperature": -4.25, "humidity": 48.25})

    @pytest.mark.parametrize(("kernel", "percent"), [("-2500", 0.0), ("103125", 100.0)])
    def test_humidity_is_clamped_to_0_100(self, tmp_path: Path, kernel: str, percent: float) -> None:
        """sht4x.c computes `((15625 * rh_ticks) >> 13) - 6000`, i.e. -6 %..119 %: physics clamps it to 0..100."""
        hwmon_device(tmp_path, i2c_client(tmp_path, "1-0044"), 0, {"name": "sht4x\n", "humidity1_input": kernel})
        chip = KernelChip(tmp_path, I2CDevice(1, 0x44, "hwmon"), [Channel("hwmon", "humidity1")])
        assert chip.sample() == {"humidity": percent}

    def test_ina219(self, tmp_path: Path) -> None:
        """ina2xx.c: in1_input bus mV, curr1_input mA, power1_input µW; in0 shunt mV under its own key."""
        # drivers/hwmon/ina2xx.c: SENSOR_DEVICE_ATTR(in0_input ... INA2XX_SHUNT_VOLTAGE), in1_input (BUS_VOLTAGE),
        # curr1_input (CURRENT, "LSB=1mA"), power1_input (POWER, power_lsb 20000 uW), shunt_resistor 10000 uOhm.
        files = {
            "name": "ina219\n",
            "in0_input": "5\n",
            "in1_input": "5104\n",
            "curr1_input": "512\n",
            "power1_input": "2600000\n",
            "shunt_resistor": "10000\n",
        }
        hwmon_device(tmp_path, i2c_client(tmp_path, "1-0040"), 0, files)
        channels = [Channel("hwmon", name) for name in ("in1", "curr1", "power1")]
        sample = KernelChip(
            tmp_path, I2CDevice(1, 0x40, "hwmon"), [*channels, Channel("hwmon", "in0", "shunt")]
        ).sample()
        assert sample == pytest.approx({"voltage": 5.104, "current": 0.512, "power": 2.6, "shunt": 0.005})

    def test_missing_channel_lists_what_is_there(self, tmp_path: Path) -> None:
        """A channel the device does not have is a DeviceError listing the channels it does have."""
        iio_device(tmp_path, i2c_client(tmp_path, "1-0076"), 0, BME280)
        with pytest.raises(DeviceError, match=r"no in_illuminance_raw .*in_temp_input"):
            KernelChip(tmp_path, I2CDevice(1, 0x76, "iio"), [Channel("iio", "illuminance")])

    def test_not_a_channel_name(self, tmp_path: Path) -> None:
        """`iio:device0` or a path is not a channel name."""
        iio_device(tmp_path, i2c_client(tmp_path, "1-0076"), 0, BME280)
        with pytest.raises(DeviceError, match="not a kernel channel name"):
            KernelChip(tmp_path, I2CDevice(1, 0x76, "iio"), [Channel("hwmon", "temp")])

    def test_close_is_idempotent_and_final(self, tmp_path: Path) -> None:
        """After close (twice), sample is a DeviceError."""
        iio_device(tmp_path, i2c_client(tmp_path, "1-0076"), 0, BME280)
        chip = KernelChip(tmp_path, I2CDevice(1, 0x76, "iio"), BME280_CHANNELS)
        chip.close()
        chip.close()
        with pytest.raises(DeviceError, match="after close"):
            chip.sample()


class TestErrno:
    def dht(self, root: Path, reader: FailingReader, policy: RetryPolicy = DHT_POLICY) -> KernelChip:
        dht_tree(root)
        return KernelChip(root, ByName("dht11", "iio"), DHT_CHANNELS, policy=policy, reader=reader)

    @pytest.mark.parametrize("number", [errno.EIO, errno.ETIMEDOUT])
    def test_dht_failure_is_retried_within_the_sample(self, tmp_path: Path, number: int) -> None:
        """dht11.c returns -ETIMEDOUT ("Only %d signal edges detected") or -EIO (checksum) routinely: retried twice."""
        reader = FailingReader()
        chip = self.dht(tmp_path, reader)
        reader.fail("in_temp_input", number, number)
        assert chip.sample() == pytest.approx({"temperature": 22.3, "humidity": 51.2})

    def test_dht_gives_up_after_two_more_tries(self, tmp_path: Path) -> None:
        """A third ETIMEDOUT in one sample is a DeviceError naming the file and the errno, from the OSError."""
        reader = FailingReader()
        chip = self.dht(tmp_path, reader)
        reader.fail("in_temp_input", errno.ETIMEDOUT, errno.ETIMEDOUT, errno.ETIMEDOUT)
        with pytest.raises(DeviceError, match=r"in_temp_input: ETIMEDOUT") as caught:
            chip.sample()
        assert isinstance(caught.value.__cause__, OSError)
        assert reader.reads.count("in_temp_input") == 3

    @pytest.mark.parametrize("number", [errno.EBUSY, errno.EAGAIN, errno.ENODATA])
    def test_i2c_transient_errnos_get_one_more_try(self, tmp_path: Path, number: int) -> None:
        """EBUSY/EAGAIN/ENODATA (sht4x.c returns -ENODATA on a short read) are retried once for I2C chips."""
        reader = FailingReader()
        hwmon_device(tmp_path, i2c_client(tmp_path, "1-0044"), 0, {"name": "sht4x\n", "temp1_input": "21000\n"})
        chip = KernelChip(tmp_path, I2CDevice(1, 0x44, "hwmon"), [Channel("hwmon", "temp1")], reader=reader)
        reader.fail("temp1_input", number)
        assert chip.sample() == {"temperature": 21.0}

    def test_non_transient_errno_fails_at_once(self, tmp_path: Path) -> None:
        """ENXIO (nothing answers at the address) is not retried: one read, a DeviceError naming ENXIO."""
        reader = FailingReader()
        hwmon_device(tmp_path, i2c_client(tmp_path, "1-0044"), 0, {"name": "sht4x\n", "temp1_input": "21000\n"})
        chip = KernelChip(tmp_path, I2CDevice(1, 0x44, "hwmon"), [Channel("hwmon", "temp1")], reader=reader)
        reader.fail("temp1_input", errno.ENXIO)
        with pytest.raises(DeviceError, match=r"temp1_input: ENXIO"):
            chip.sample()
        assert reader.reads.count("temp1_input") == 1

    def test_scale_is_reread_after_an_error_only(self, tmp_path: Path) -> None:
        """Scale is read at open and cached; after an error it is read again (a driver may change the gain)."""
        reader = FailingReader()
        files = {"name": "ads1015\n", "in_voltage0_raw": "8000\n", "in_voltage0_scale": "0.125000000\n"}
        device = iio_device(tmp_path, i2c_client(tmp_path, "1-0048"), 0, files)
        chip = KernelChip(tmp_path, I2CDevice(1, 0x48, "iio"), [Channel("iio", "voltage0")], reader=reader)
        (device / "in_voltage0_scale").write_text("0.062500000\n")  # gain 2 (2048 mV / 2^15)
        assert chip.sample() == pytest.approx({"voltage": 1.0})
        reader.fail("in_voltage0_raw", errno.EIO)
        assert chip.sample() == pytest.approx({"voltage": 0.5})

    def test_device_that_comes_back_as_another_number_is_relocated(self, tmp_path: Path) -> None:
        """Driver rebind: iio:device0 vanishes mid-run and returns as iio:device1; the next sample finds it."""
        client = i2c_client(tmp_path, "1-0076")
        old = iio_device(tmp_path, client, 0, BME280)
        chip = KernelChip(tmp_path, I2CDevice(1, 0x76, "iio"), BME280_CHANNELS)
        shutil.rmtree(old)
        (tmp_path / "bus" / "iio" / "devices" / "iio:device0").unlink()
        iio_device(tmp_path, client, 1, {**BME280, "in_temp_input": "24000\n"})
        assert chip.sample()["temperature"] == pytest.approx(24.0)
        assert chip.device.name == "iio:device1"

    def test_device_gone_for_good(self, tmp_path: Path) -> None:
        """The files vanished and nothing came back: one DeviceError naming ENOENT and the failed re-locate."""
        old = iio_device(tmp_path, i2c_client(tmp_path, "1-0076"), 0, BME280)
        chip = KernelChip(tmp_path, I2CDevice(1, 0x76, "iio"), BME280_CHANNELS)
        shutil.rmtree(old)
        with pytest.raises(DeviceError, match=r"in_temp_input: ENOENT .*and again: no iio device"):
            chip.sample()

    def test_enodev_relocates_once(self, tmp_path: Path) -> None:
        """ENODEV (driver unbinding) re-locates once and retries; a second ENODEV is reported."""
        reader = FailingReader()
        iio_device(tmp_path, i2c_client(tmp_path, "1-0076"), 0, BME280)
        chip = KernelChip(tmp_path, I2CDevice(1, 0x76, "iio"), BME280_CHANNELS, reader=reader)
        reader.fail("in_pressure_input", errno.ENODEV)
        assert chip.sample()["pressure"] == pytest.approx(963.86199218)
        reader.fail("in_pressure_input", errno.ENODEV, errno.ENODEV)
        with pytest.raises(DeviceError, match="in_pressure_input: ENODEV"):
            chip.sample()

    def test_empty_value_is_a_device_error(self, tmp_path: Path) -> None:
        """A value file that reads empty is a DeviceError, not a zero."""
        iio_device(tmp_path, i2c_client(tmp_path, "1-0076"), 0, {**BME280, "in_temp_input": ""})
        chip = KernelChip(tmp_path, I2CDevice(1, 0x76, "iio"), BME280_CHANNELS, policy=I2C_POLICY)
        with pytest.raises(DeviceError, match="read nothing"):
            chip.sample()


class TestNamedChips:
    def test_every_named_chip_has_known_units(self) -> None:
        """Every channel in the chips table converts to one of our quantities."""
        assert all(channel.unit.quantity for info in CHIPS.values() for channel in info.channels)

    def test_open_named_bme280_at_its_overlay_default_address(self, tmp_path: Path) -> None:
        """kind "bme280" needs no channel names: 0x76 (the i2c-sensor overlay's default) and its three channels."""
        iio_device(tmp_path, i2c_client(tmp_path, "1-0076"), 0, BME280)
        assert set(open_named("bme280", root=tmp_path).sample()) == {"temperature", "pressure", "humidity"}


def test_faketree_devices_read_as_the_kernel_route_reads_sysfs(tmp_path: Path) -> None:
    """faketree's trees read back through the kernel route, and update() changes what the next sample sees."""
    bme = faketree.bme280(tmp_path)
    dht = faketree.dht22(tmp_path)
    faketree.sht3x(tmp_path)
    faketree.ina219(tmp_path)
    faketree.ads1115(tmp_path)
    faketree.bh1750(tmp_path)
    faketree.ds18b20(tmp_path)
    bme.update({"temperature": 19.25, "pressure": 1001.5, "humidity": 60.0})
    dht.update({"humidity": 55.5})
    assert open_named("bme280", root=tmp_path).sample() == pytest.approx(
        {"temperature": 19.25, "pressure": 1001.5, "humidity": 60.0}
    )
    assert open_named("dht22", root=tmp_path).sample() == pytest.approx({"temperature": 22.3, "humidity": 55.5})
    assert open_named("sht3x", root=tmp_path).sample() == pytest.approx({"temperature": 20.9, "humidity": 48.7})
    assert open_named("ina219", root=tmp_path).sample() == pytest.approx(
        {"voltage": 5.1, "current": 0.5, "power": 2.55}
    )
    assert open_named("ads1115", root=tmp_path).sample() == pytest.approx({"voltage": 1.65})
    assert open_named("bh1750", root=tmp_path).sample() == pytest.approx({"illuminance": 250.0}, abs=0.5)
    assert W1Thermometer("28-000000000001", tmp_path).sample() == {"temperature": 18.5}
