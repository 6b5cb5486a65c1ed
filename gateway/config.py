"""The configuration models: frozen, strict, `extra="forbid"`, a discriminated union on `kind`.

The models only describe and validate; reading files, the environment and secrets is `gateway.config_loader`.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints, model_validator

from gateway.homeassistant.units import sensor_classes, unit_problem
from gateway.quantities import QUANTITIES, Quantity
from gateway.topics import Topics, topic_problem

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
# A path given as a TOML string: strict mode would refuse `str`, so paths alone are lax.
LaxPath = Annotated[Path, Field(strict=False)]
Qos = Literal[0, 1, 2]
BcmPin = Annotated[int, Field(ge=0, le=27, description="BCM (GPIO) number of a 40-pin header pin")]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]

# SPI0 / SPI1 on the 40-pin header (BCM numbers), as gpiozero's SPI_HARDWARE_PINS.
SPI_BUS_PINS: dict[int, tuple[int, int, int]] = {0: (11, 10, 9), 1: (21, 20, 19)}  # clock, mosi, miso
SPI_SELECT_PINS: dict[int, tuple[int, ...]] = {0: (8, 7), 1: (18, 17, 16)}
ADC_CHANNELS: dict[str, int] = {
    "mcp3002": 2,
    "mcp3004": 4,
    "mcp3008": 8,
    "mcp3202": 2,
    "mcp3204": 4,
    "mcp3208": 8,
}


# Expander pins by chip, as the config names them (the datasheets' names: GPA0..GPB7 -> A0..B7, P00..P17).
EXPANDER_PINS: dict[str, tuple[str, ...]] = {
    "mcp23017": tuple(f"{port}{n}" for port in "AB" for n in range(8)),
    "mcp23008": tuple(f"GP{n}" for n in range(8)),
    "pcf8574": tuple(f"P{n}" for n in range(8)),
    "pcf8575": tuple(f"P{port}{n}" for port in "01" for n in range(8)),
}
ExpanderPinName = Annotated[str, StringConstraints(pattern=r"^[A-Z]{1,2}[0-9]{1,2}$")]


def spi_bus_pins(port: int, device: int) -> dict[str, int]:
    """The BCM pins of hardware SPI `port` with chip select `device`, by role."""
    clock, mosi, miso = SPI_BUS_PINS[port]
    return {"clock": clock, "mosi": mosi, "miso": miso, "select": SPI_SELECT_PINS[port][device]}


def default_gateway_id() -> str:
    """The hostname, lower-cased and reduced to `[a-z0-9_-]` (docs/mqtt-contract.md: Names)."""
    cleaned = re.sub(r"[^a-z0-9_-]", "-", socket.gethostname().lower()).strip("-_")
    return (cleaned or "gateway")[:64]


class Model(BaseModel):
    """Base of every config model: immutable, strict, unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, defer_build=True)


class GatewaySection(Model):
    """`[gateway]`: identity, topics and lifecycle."""

    id: Identifier = Field(default_factory=default_gateway_id)
    topic_prefix: Annotated[str, StringConstraints(pattern=r"^[^/#+$\x00-\x1f][^#+\x00-\x1f]{0,127}$")] = (
        "pi-mqtt-gateway"
    )
    state_dir: LaxPath | None = None
    stats_interval: Seconds = 60.0
    shutdown_timeout: Seconds = 5.0

    @model_validator(mode="after")
    def _prefix_has_no_empty_levels(self) -> Self:
        if any(level == "" for level in self.topic_prefix.split("/")):
            raise ValueError("topic_prefix must not start or end with '/' or contain '//'")
        return self


class GpioSection(Model):
    """`[gpio]`: which gpiozero pin factory drives the pins."""

    pin_factory: Literal["auto", "lgpio", "rpigpio", "pigpio", "native", "mock"] = "auto"
    simulate: bool | None = Field(
        default=None, description="drive mock pins with simulated signals (default: true with mock)"
    )

    @model_validator(mode="after")
    def _simulate_needs_mock(self) -> Self:
        if self.simulate and self.pin_factory != "mock":
            raise ValueError('simulate = true needs pin_factory = "mock"')
        return self

    @property
    def simulated(self) -> bool:
        """Whether the gateway drives its own mock pins with simulated signals."""
        return self.pin_factory == "mock" and self.simulate is not False


class DevicesSection(Model):
    """`[devices]`: where the kernel's device files are (tests and simulation point these at fake trees)."""

    sysfs_root: LaxPath = Field(default=Path("/sys"), description="read by every kernel-route sensor kind")
    dev_root: LaxPath = Field(default=Path("/dev"), description="where /dev/i2c-N are")


class TlsSection(Model):
    """`[mqtt.tls]`: present means TLS is on; the broker's certificate and host name are always verified."""

    ca_file: LaxPath | None = Field(default=None, description="CA bundle; none means the system CAs")
    cert_file: LaxPath | None = None
    key_file: LaxPath | None = None
    insecure_no_verify: bool = Field(
        default=False,
        description="INSECURE: accept any certificate for any host (anyone on the path can read and forge)",
    )

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together: set both or neither")
        return self


BrokerNode = Annotated[str, StringConstraints(pattern=r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]{1,253})(:[0-9]{1,5})?$")]


class MqttSection(Model):
    """`[mqtt]`: the broker connection."""

    host: Annotated[str, StringConstraints(min_length=1, max_length=253)] = "localhost"
    port: Annotated[int, Field(ge=1, le=65535)] | None = Field(default=None, description="1883, 8883 with TLS")
    hosts: Annotated[tuple[BrokerNode, ...], Field(strict=False, max_length=16)] = Field(
        default=(), description="broker nodes in failover order, `host` or `host:port` (then `host` is not used)"
    )
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    username: Annotated[str, StringConstraints(min_length=1)] | None = None
    password: SecretStr | None = None
    password_file: LaxPath | None = None
    keepalive: Annotated[int, Field(ge=2, le=3600)] = 30
    protocol: Literal["3.1.1", "5"] = "3.1.1"
    qos: Qos = 1
    publish_timeout: Seconds = 10.0
    max_inflight: Annotated[int, Field(ge=1, le=1000, description="publishes awaiting their PUBACK at once")] = 10
    max_payload_bytes: Annotated[int, Field(ge=256, le=268_435_455, description="keep below the broker's")] = 65_536
    max_topic_bytes: Annotated[int, Field(ge=16, le=65_535)] = 1_024
    reconnect_min: Seconds = 0.5
    reconnect_max: Seconds = 30.0
    tls: TlsSection | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.password is not None and self.password_file is not None:
            raise ValueError("set password or password_file, not both")
        if self.reconnect_min > self.reconnect_max:
            raise ValueError("reconnect_min must not exceed reconnect_max")
        return self

    @property
    def effective_port(self) -> int:
        """The configured port, or the MQTT default for plain or TLS connections."""
        if self.port is not None:
            return self.port
        return 8883 if self.tls is not None else 1883

    @property
    def nodes(self) -> tuple[tuple[str, int], ...]:
        """(host, port) of every broker node in failover order: `hosts`, else `host` and `port`."""
        if not self.hosts:
            return ((self.host, self.effective_port),)
        return tuple(_node(text, self.effective_port) for text in self.hosts)

    @model_validator(mode="after")
    def _nodes_valid(self) -> Self:
        for host, port in self.nodes:
            if not 1 <= port <= 65535:
                raise ValueError(f"hosts: port {port} of {host!r} is not 1..65535")
        if len(set(self.nodes)) != len(self.nodes):
            raise ValueError("hosts: a node is listed twice")
        return self


def _node(text: str, default_port: int) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]` or `[v6]:port` as (host, port)."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest else default_port
    host, colon, port = text.rpartition(":")
    return (host, int(port)) if colon else (text, default_port)


class OutboxSection(Model):
    """`[outbox]`: how many readings wait while the broker is away, and what gives when it is full."""

    max_readings: Annotated[int, Field(ge=1, le=10_000_000)] = 100_000
    max_bytes: Annotated[int, Field(ge=4096, le=4 * 2**30, description="topics and payloads, bytes")] = 32 * 2**20
    on_full: Literal["drop_oldest", "reject_new"] = "drop_oldest"
    commit_readings: Annotated[int, Field(ge=1, le=10_000, description="readings per group commit, at most")] = 10
    commit_interval: Annotated[float, Field(gt=0, le=60, description="seconds a reading waits for its commit")] = 1.0
    max_attempts: Annotated[int, Field(ge=1, le=1000, description="refusals before a reading is quarantined")] = 5
    memory_readings: Annotated[
        int, Field(ge=1, le=1_000_000, description="the in-memory bound while the disk cannot be written")
    ] = 10_000


class HomeAssistantSection(Model):
    """`[homeassistant]`: MQTT discovery of every sensor, event, counter, output and the gateway's health."""

    enabled: bool = False
    discovery_prefix: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]+(/[a-zA-Z0-9_-]+)*$")] = "homeassistant"
    device_discovery: bool = Field(
        default=False, description="one <prefix>/device/<gw>/config with all components (HA 2024.11+)"
    )
    device_name: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None, description="the device's name in Home Assistant; default: the gateway id"
    )


class HaOverrides(Model):
    """Per-sensor overrides of the discovery defaults of its kind."""

    device_class: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,40}$")] | None = None
    state_class: Literal["measurement", "total", "total_increasing"] | None = None
    unit_of_measurement: Annotated[str, StringConstraints(max_length=16)] | None = None
    icon: Annotated[str, StringConstraints(pattern=r"^mdi:[a-z0-9-]{1,64}$")] | None = None
    suggested_display_precision: Annotated[int, Field(ge=0, le=10)] | None = Field(
        default=None, description="decimals Home Assistant shows; default: by kind and unit"
    )


class LoggingSection(Model):
    """`[logging]`: level and renderer (`auto`: console on a TTY, JSON for journald otherwise)."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class DebounceFilter(Model):
    """A change is published only once it has stayed for `ms` milliseconds."""

    type: Literal["debounce"]
    ms: Annotated[int, Field(ge=1, le=60_000)]


class DeadbandFilter(Model):
    """Publish only when the value moved by more than `delta` (absolute) or `percent` of the last one."""

    type: Literal["deadband"]
    delta: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    percent: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _one_threshold(self) -> Self:
        if (self.delta is None) == (self.percent is None):
            raise ValueError("deadband takes exactly one of delta and percent")
        return self


class ThrottleFilter(Model):
    """At most one reading per `interval` seconds; the latest one of an interval is published at its end."""

    type: Literal["throttle"]
    interval: Seconds


class HeartbeatFilter(Model):
    """Publish the last value again after `interval` seconds without a reading."""

    type: Literal["heartbeat"]
    interval: Seconds


class MovingAverageFilter(Model):
    """The mean of the last `window` values."""

    type: Literal["moving_average"]
    window: Annotated[int, Field(ge=1, le=1000)]


class MedianFilter(Model):
    """The median of the last `window` values (drops single spikes)."""

    type: Literal["median"]
    window: Annotated[int, Field(ge=1, le=1000)]


class OffsetFilter(Model):
    """value + `value`."""

    type: Literal["offset"]
    value: Annotated[float, Field(allow_inf_nan=False)]


class MultiplyFilter(Model):
    """value * `value`."""

    type: Literal["multiply"]
    value: Annotated[float, Field(allow_inf_nan=False)]


FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
CalibrationPoint = Annotated[tuple[FiniteFloat, FiniteFloat], Field(strict=False)]  # [raw, actual] in TOML


class CalibrateLinearFilter(Model):
    """Piecewise linear through `points` = [[raw, actual], ...] (two or more), extrapolated at the ends."""

    type: Literal["calibrate_linear"]
    points: Annotated[tuple[CalibrationPoint, ...], Field(strict=False, min_length=2, max_length=100)]

    @model_validator(mode="after")
    def _distinct_raw_values(self) -> Self:
        raws = [raw for raw, _actual in self.points]
        if len(set(raws)) != len(raws):
            raise ValueError("calibrate_linear points need distinct raw values")
        return self


class ClampFilter(Model):
    """Limit the value to [`min`, `max`]."""

    type: Literal["clamp"]
    min: Annotated[float, Field(allow_inf_nan=False)] | None = None
    max: Annotated[float, Field(allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError("clamp needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("clamp min must not exceed max")
        return self


class RoundFilter(Model):
    """Round to `digits` decimal places."""

    type: Literal["round"]
    digits: Annotated[int, Field(ge=0, le=10)]


FilterConfig = Annotated[
    DebounceFilter
    | DeadbandFilter
    | ThrottleFilter
    | HeartbeatFilter
    | MovingAverageFilter
    | MedianFilter
    | OffsetFilter
    | MultiplyFilter
    | CalibrateLinearFilter
    | ClampFilter
    | RoundFilter,
    Field(discriminator="type"),
]
TIMING_FILTERS = ("debounce", "deadband", "throttle", "heartbeat")  # the only ones a binary input may use


class SensorBase(Model):
    """Keys every sensor has."""

    id: Identifier
    name: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    unit: Annotated[str, StringConstraints(max_length=16)] | None = None
    qos: Qos | None = Field(default=None, description="default: mqtt.qos")
    retain: bool = True
    filters: Annotated[tuple[FilterConfig, ...], Field(strict=False, max_length=20)] = ()
    payload: Literal["json", "value"] = Field(
        default="json", description="value: also publish the bare value on <topic>/value (Telegraf, Node-RED)"
    )
    homeassistant: HaOverrides | None = None

    def pins(self) -> dict[str, int]:
        """The BCM pins this sensor uses, by role (for conflict checks)."""
        return {}


class ExpanderConfig(Model):
    """`[[expanders]]`: an I2C GPIO expander whose pins inputs and on/off outputs may use (`expander`, `pin`)."""

    id: Identifier
    chip: Literal["mcp23017", "mcp23008", "pcf8574", "pcf8575"]
    bus: Annotated[int, Field(ge=0, le=31)] = 1
    address: Annotated[int, Field(ge=0x20, le=0x3F, description="MCP23x/PCF8574/PCF8575 0x20-0x27, PCF8574A 0x38-0x3f")]
    interrupt_pin: BcmPin | None = Field(default=None, description="the Pi pin wired to INT; none: poll the inputs")
    poll_interval: Annotated[float, Field(ge=0.05, le=60, allow_inf_nan=False)] = Field(
        default=0.5, description="seconds between reads of the inputs when no INT pin is wired"
    )

    @model_validator(mode="after")
    def _address_of_chip(self) -> Self:
        # Three address pins: MCP23x and PCF8574/5 at 0x20-0x27, the PCF8574A at 0x38-0x3f.
        allowed = (*range(0x20, 0x28), *range(0x38, 0x40)) if self.chip == "pcf8574" else tuple(range(0x20, 0x28))
        if self.address not in allowed:
            shown = "0x20-0x27" + (" or 0x38-0x3f (PCF8574A)" if self.chip == "pcf8574" else "")
            raise ValueError(f"a {self.chip} answers at {shown}, not at {self.address:#04x}")
        return self

    def pins(self) -> dict[str, int]:
        """The INT pin, when wired."""
        return {} if self.interrupt_pin is None else {"int": self.interrupt_pin}


class ExpanderPin(Model):
    """A pin that is a Pi pin (`pin = 17`) or a pin of an expander (`expander = "porch"`, `pin = "A3"`)."""

    pin: BcmPin | ExpanderPinName
    expander: Identifier | None = Field(default=None, description="an [[expanders]] id: `pin` then names its pin")

    @model_validator(mode="after")
    def _pin_fits_its_place(self) -> Self:
        if self.expander is None and not isinstance(self.pin, int):
            raise ValueError(f"pin {self.pin!r} is an expander pin name: set expander = '<its [[expanders]] id>'")
        if self.expander is not None and isinstance(self.pin, int):
            raise ValueError(f"on expander {self.expander!r}, pin names the expander's pin (A0, P3 ...), not GPIO")
        return self

    def gpio(self) -> int:
        """The BCM number (only for a Pi pin: device code asks after checking `expander is None`)."""
        if not isinstance(self.pin, int):
            raise TypeError(f"pin {self.pin!r} is on expander {self.expander!r}, not a GPIO")
        return self.pin

    def pins(self) -> dict[str, int]:
        """The Pi pin, as `pin` (an expander pin uses no Pi pin of its own)."""
        return {"pin": self.pin} if isinstance(self.pin, int) else {}


class PinInput(ExpanderPin):
    """One input pin: its pull, which level is active, and the pin library's debounce."""

    pull: Literal["up", "down", "none"] = "up"
    active_state: Literal["high", "low"] | None = Field(
        default=None, description="only with pull = 'none'; with a pull, active is the opposite level"
    )
    bounce_time: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None = Field(
        default=None, description="seconds; passed to gpiozero (hardware pin libraries only)"
    )

    @model_validator(mode="after")
    def _active_state_with_floating_pin(self) -> Self:
        if self.pull == "none" and self.active_state is None:
            raise ValueError("a floating pin (pull = 'none') needs active_state = 'high' or 'low'")
        if self.pull != "none" and self.active_state is not None:
            raise ValueError("active_state is only for pull = 'none'; a pulled pin is active at the other level")
        if self.expander is not None and self.pull == "down":
            raise ValueError("an expander pin has a pull-up or none (pull = 'up' or 'none'), no pull-down")
        if self.expander is not None and self.bounce_time is not None:
            raise ValueError("bounce_time is the Pi pin library's: on an expander pin use a debounce filter")
        return self


class BinaryInput(PinInput, SensorBase):
    """An edge-driven input: published once at start-up, then on every change (no polling)."""

    @model_validator(mode="after")
    def _filters_for_booleans(self) -> Self:
        for step in self.filters:
            if step.type not in TIMING_FILTERS:
                raise ValueError(f"filter {step.type!r} needs numbers; a binary input takes {list(TIMING_FILTERS)}")
        return self


class GesturesConfig(Model):
    """Press gestures published on `<sensor topic>/event`: single, double and long presses."""

    double_ms: Annotated[int, Field(ge=50, le=5000, description="a second press within this is a double")] = 400
    long_ms: Annotated[int, Field(ge=100, le=60_000, description="held this long is a long press")] = 800


class ButtonConfig(BinaryInput):
    """A push button (pulled up, active low by default)."""

    kind: Literal["button"]
    gestures: GesturesConfig | None = None


class DigitalInputConfig(BinaryInput):
    """A door or reed contact or any on/off signal."""

    kind: Literal["digital_input"]


class MotionConfig(BinaryInput):
    """A PIR motion sensor: its output is driven high on motion."""

    kind: Literal["motion"]
    pull: Literal["up", "down", "none"] = "down"


class LineConfig(BinaryInput):
    """A line-follower (IR reflectance) module; true while its output is active."""

    kind: Literal["line"]
    pull: Literal["up", "down", "none"] = "down"


class PolledSensor(SensorBase):
    """A sensor read every `interval` seconds; numeric readings may be bounded by `min`/`max`."""

    interval: Annotated[float, Field(ge=0.05, le=86_400, allow_inf_nan=False)] = 10.0
    min: Annotated[float, Field(allow_inf_nan=False)] | None = None
    max: Annotated[float, Field(allow_inf_nan=False)] | None = None
    offline_after: Annotated[int, Field(ge=1, le=1000, description="failed reads before `offline`")] = 3
    expire_after: Seconds | None = Field(default=None, description="seconds without a reading before `offline`")

    @model_validator(mode="after")
    def _min_below_max(self) -> Self:
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        return self

    @model_validator(mode="after")
    def _homeassistant_unit_fits(self) -> Self:
        """An override Home Assistant would refuse (its unit against its device class) is refused here."""
        if self.homeassistant is None:
            return self
        kind = str(getattr(self, "kind", ""))
        measures = self.measures()
        unit = self.unit if self.unit is not None else measures.unit if measures else None
        defaults = {"device_class": measures.device_class, "state_class": measures.state_class} if measures else {}
        keys = sensor_classes(kind, unit, defaults | self.homeassistant.model_dump(exclude_none=True))
        if problem := unit_problem(keys.get("device_class"), keys.get("unit_of_measurement")):
            raise ValueError(f"homeassistant: {problem}")
        return self

    def measures(self) -> Quantity | None:
        """What one reading is (unit, Home Assistant classes, precision); None for a kind without a quantity."""
        return None


class Mcp3xxxConfig(PolledSensor):
    """One channel of an MCP3xxx ADC on hardware SPI; value = fraction of full scale * scale + offset."""

    kind: Literal["mcp3008"]
    chip: Literal["mcp3002", "mcp3004", "mcp3008", "mcp3202", "mcp3204", "mcp3208"] = "mcp3008"
    channel: Annotated[int, Field(ge=0, le=7)]
    differential: bool = False
    port: Literal[0, 1] = 0
    device: Annotated[int, Field(ge=0, le=2)] = 0
    scale: Annotated[float, Field(allow_inf_nan=False)] = 1.0
    offset: Annotated[float, Field(allow_inf_nan=False)] = 0.0
    interval: Annotated[float, Field(ge=0.05, le=86_400, allow_inf_nan=False)] = 5.0

    @model_validator(mode="after")
    def _channel_and_select_exist(self) -> Self:
        channels = ADC_CHANNELS[self.chip]
        if self.channel >= channels:
            raise ValueError(f"channel {self.channel} does not exist on {self.chip} (0..{channels - 1})")
        selects = SPI_SELECT_PINS[self.port]
        if self.device >= len(selects):
            raise ValueError(f"SPI{self.port} has chip selects 0..{len(selects) - 1}, not {self.device}")
        return self

    def pins(self) -> dict[str, int]:
        return spi_bus_pins(self.port, self.device)

    def measures(self) -> Quantity:
        """adc value."""
        return QUANTITIES["adc_value"]


class LightConfig(PolledSensor):
    """An LDR + capacitor on one pin (gpiozero LightSensor); value 0 (dark) .. 1 (bright)."""

    kind: Literal["light"]
    pin: BcmPin
    charge_time_limit: Annotated[float, Field(gt=0, le=1)] = 0.01

    def pins(self) -> dict[str, int]:
        return {"pin": self.pin}

    def measures(self) -> Quantity:
        """light level."""
        return QUANTITIES["light_level"]


class DistanceConfig(PolledSensor):
    """An HC-SR04 ultrasonic sensor; value in metres."""

    kind: Literal["distance"]
    echo: BcmPin
    trigger: BcmPin
    max_distance: Annotated[float, Field(gt=0, le=10)] = 1.0
    interval: Annotated[float, Field(ge=0.05, le=86_400, allow_inf_nan=False)] = 1.0

    def pins(self) -> dict[str, int]:
        return {"echo": self.echo, "trigger": self.trigger}

    def measures(self) -> Quantity:
        """distance."""
        return QUANTITIES["distance"]


class CpuTemperatureConfig(PolledSensor):
    """The SoC temperature in °C from sysfs."""

    kind: Literal["cpu_temperature"]
    sensor_file: LaxPath = Path("/sys/class/thermal/thermal_zone0/temp")
    interval: Annotated[float, Field(ge=0.05, le=86_400, allow_inf_nan=False)] = 30.0

    def measures(self) -> Quantity:
        """temperature."""
        return QUANTITIES["temperature"]


class LoadAverageConfig(PolledSensor):
    """The system load average over 1, 5 or 15 minutes."""

    kind: Literal["load_average"]
    minutes: Literal[1, 5, 15] = 1
    interval: Annotated[float, Field(ge=0.05, le=86_400, allow_inf_nan=False)] = 30.0

    def measures(self) -> Quantity:
        """load average."""
        return QUANTITIES["load_average"]


class DiskUsageConfig(PolledSensor):
    """How full a file system is, in percent."""

    kind: Literal["disk_usage"]
    filesystem: LaxPath = Path("/")
    interval: Annotated[float, Field(ge=0.05, le=86_400, allow_inf_nan=False)] = 60.0

    def measures(self) -> Quantity:
        """disk used."""
        return QUANTITIES["disk_used"]


class CounterConfig(PinInput, PolledSensor):
    """A pulse counter (water, gas or energy meter): counts activations of its pin; every `interval` it
    publishes the total (persisted in the state directory) and, on `<topic>/rate`, the rate."""

    kind: Literal["counter"]
    rate_per: Literal["second", "minute", "hour"] = "minute"

    @model_validator(mode="after")
    def _counts_on_a_pi_pin(self) -> Self:
        if self.expander is not None:
            raise ValueError("a counter counts edges on a Pi pin (an expander is read per interrupt, not per pulse)")
        return self


class PluginSensorBase(PolledSensor):
    """The base of a plugin's sensor config (gateway.plugins): a polled sensor with its own `kind` and keys.

    A kind that reads a chip measuring several quantities also says which chip (`chip_key`): sensor entries
    with one key share one sample of the chip per interval. A kind on a shared bus names the bus and its pins
    (`bus_pins`), which other users of that bus may share but nothing else may use.
    """

    kind: str

    def chip_key(self) -> tuple[object, ...] | None:
        """The chip this entry reads; entries with equal keys share one sample (None: not shared)."""
        return None

    def bus_pins(self) -> tuple[str, dict[str, int]] | None:
        """(bus name, its BCM pins by role) when the sensor sits on a bus others may share (I2C1: SDA 2, SCL 3)."""
        return None

    def i2c_device(self) -> tuple[int, int] | None:
        """(bus number, address) of the I2C chip this entry reads, if it reads one."""
        return None

    def chip_name(self) -> str | None:
        """The chip's name as a person would say it (`bme280 i2c-1 0x76`): its Home Assistant device's name."""
        return None


BinaryInputConfig = ButtonConfig | DigitalInputConfig | MotionConfig | LineConfig
BUILTIN_SENSORS: tuple[type[SensorBase], ...] = (
    ButtonConfig,
    DigitalInputConfig,
    MotionConfig,
    LineConfig,
    Mcp3xxxConfig,
    LightConfig,
    DistanceConfig,
    CpuTemperatureConfig,
    LoadAverageConfig,
    DiskUsageConfig,
    CounterConfig,
)
SensorConfig = Annotated[
    ButtonConfig
    | DigitalInputConfig
    | MotionConfig
    | LineConfig
    | Mcp3xxxConfig
    | LightConfig
    | DistanceConfig
    | CpuTemperatureConfig
    | LoadAverageConfig
    | DiskUsageConfig
    | CounterConfig,
    Field(discriminator="kind"),
]


class OutputBase(ExpanderPin):
    """Keys every output has: its pin (a Pi pin or an expander's), polarity, and the safety rules of commands."""

    id: Identifier
    name: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    active_high: bool = True
    qos: Qos | None = Field(default=None, description="QoS of the published state; default: mqtt.qos")
    max_on: Seconds | None = Field(default=None, description="seconds after which an output left on is turned off")
    failsafe: Literal["off", "on", "keep"] = Field(
        default="off", description="state at shutdown, and after failsafe_after seconds without the broker"
    )
    failsafe_after: Seconds | None = Field(default=None, description="broker lost this long -> failsafe state")
    interlock: Annotated[tuple[Identifier, ...], Field(strict=False)] = Field(
        default=(), description="outputs that must never be on together with this one"
    )
    max_commands_per_second: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)] = 5.0
    retained_commands: Literal["ignore", "apply"] = Field(
        default="ignore", description="a retained `set` found at start-up (older than the gateway) is ..."
    )


class SwitchOutputBase(OutputBase):
    """An on/off output."""

    initial: Literal["ON", "OFF"] = "OFF"


class RelayConfig(SwitchOutputBase):
    """A relay module (often active low: set active_high = false)."""

    kind: Literal["relay"]


class DigitalOutputConfig(SwitchOutputBase):
    """Any on/off output pin."""

    kind: Literal["digital_output"]


class LedConfig(SwitchOutputBase):
    """An LED."""

    kind: Literal["led"]


class BuzzerConfig(SwitchOutputBase):
    """An active buzzer."""

    kind: Literal["buzzer"]


class PwmConfig(OutputBase):
    """A PWM output (dimmable LED, fan, motor driver): value 0..1 at `frequency` Hz."""

    kind: Literal["pwm"]
    initial: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False, strict=False)] = 0.0
    frequency: Annotated[int, Field(ge=1, le=40_000)] = 100

    @model_validator(mode="after")
    def _pwm_on_a_pi_pin(self) -> Self:
        if self.expander is not None:
            raise ValueError("PWM needs a Pi pin: an expander's pins are on or off")
        return self


OutputConfig = Annotated[
    RelayConfig | DigitalOutputConfig | LedConfig | BuzzerConfig | PwmConfig, Field(discriminator="kind")
]


class GatewayConfig(Model):
    """The whole configuration file."""

    gateway: GatewaySection = Field(default_factory=GatewaySection)
    gpio: GpioSection = Field(default_factory=GpioSection)
    mqtt: MqttSection = Field(default_factory=MqttSection)
    outbox: OutboxSection = Field(default_factory=OutboxSection)
    logging: LoggingSection = Field(default_factory=LoggingSection)
    homeassistant: HomeAssistantSection = Field(default_factory=HomeAssistantSection)
    devices: DevicesSection = Field(default_factory=DevicesSection)
    expanders: Annotated[tuple[ExpanderConfig, ...], Field(strict=False)] = ()
    sensors: Annotated[tuple[SensorConfig, ...], Field(strict=False)] = ()
    outputs: Annotated[tuple[OutputConfig, ...], Field(strict=False)] = ()

    @model_validator(mode="after")
    def _ids_unique(self) -> Self:
        seen: set[str] = set()
        for device in (*self.sensors, *self.outputs):
            if device.id in seen:
                raise ValueError(f"id {device.id!r} is used twice (sensor and output ids share one namespace)")
            seen.add(device.id)
        return self

    @model_validator(mode="after")
    def _topics_publishable(self) -> Self:
        """Every topic the gateway will publish to, checked once here: `check`, `config set`, `run` and a
        reload refuse the same config (a topic the broker refuses would otherwise fail only at run time)."""
        limit = self.mqtt.max_topic_bytes
        problems = [
            f"{owner} {device_id!r}: cannot publish to {topic!r}: {problem}"
            for owner, device_id, topic in published_topics(self)
            if (problem := topic_problem(topic, limit))
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _interlocks_name_outputs(self) -> Self:
        outputs = {output.id: output for output in self.outputs}
        for output in self.outputs:
            for other in output.interlock:
                if other == output.id or other not in outputs:
                    raise ValueError(f"output {output.id!r}: interlock {other!r} is not another output")
                if _initially_on(output) and _initially_on(outputs[other]):
                    raise ValueError(f"outputs {output.id!r} and {other!r} are interlocked but both start on")
        return self

    @model_validator(mode="after")
    def _pins_not_shared(self) -> Self:
        owners: dict[int, str] = {}
        spi_users: dict[tuple[int, int], str] = {}
        for sensor in (*self.sensors, *self.outputs, *self.expanders):
            if isinstance(sensor, Mcp3xxxConfig):
                # Several channels (and chips on other selects) share one SPI bus: that is not a conflict.
                bus = (sensor.port, sensor.device)
                if bus in spi_users and spi_users[bus] != sensor.chip:
                    raise ValueError(f"SPI{bus[0]}.{bus[1]} is configured as both {spi_users[bus]} and {sensor.chip}")
                spi_users[bus] = sensor.chip
                continue
            for role, pin in sensor.pins().items():
                if pin in owners:
                    raise ValueError(f"GPIO{pin} ({sensor.id}.{role}) is already used by {owners[pin]}")
                owners[pin] = f"{sensor.id}"
        for (port, device), chip in spi_users.items():
            for role, pin in spi_bus_pins(port, device).items():
                if pin in owners:
                    raise ValueError(f"GPIO{pin} is SPI{port} {role} for the {chip} but {owners[pin]} uses it")
        buses: dict[int, str] = {
            pin: f"SPI{port}" for (port, device) in spi_users for pin in spi_bus_pins(port, device).values()
        }
        for bus_name, role, pin, user in _shared_bus_pins(self.sensors, self.expanders):
            if pin in owners:
                raise ValueError(f"GPIO{pin} is {bus_name} {role} for {user!r} but {owners[pin]} uses it")
            if buses.setdefault(pin, bus_name) != bus_name:
                raise ValueError(f"GPIO{pin} is {bus_name} {role} for {user!r} but also {buses[pin]}")
        return self

    @model_validator(mode="after")
    def _expander_pins_exist_once(self) -> Self:
        """Each expander pin names a pin of a configured expander, used by one input or output."""
        expanders = {expander.id: expander for expander in self.expanders}
        if len(expanders) != len(self.expanders):
            raise ValueError("two [[expanders]] share an id")
        users: dict[tuple[str, str], str] = {}
        for device in (*self.sensors, *self.outputs):
            if not isinstance(device, ExpanderPin) or device.expander is None:
                continue
            expander = expanders.get(device.expander)
            if expander is None:
                raise ValueError(f"{device.id}: expander {device.expander!r} is not in [[expanders]]")
            names = EXPANDER_PINS[expander.chip]
            if device.pin not in names:
                raise ValueError(f"{device.id}: a {expander.chip} has pins {', '.join(names)}, not {device.pin!r}")
            place = (expander.id, str(device.pin))
            if place in users:
                raise ValueError(f"{expander.id}.{device.pin} is used by both {users[place]} and {device.id}")
            users[place] = device.id
        return self

    @model_validator(mode="after")
    def _one_chip_per_address(self) -> Self:
        """Entries at one I2C address share the chip, so they must agree on what it is."""
        chips: dict[tuple[int, int], PluginSensorBase | ExpanderConfig] = {}
        for expander in self.expanders:
            if (first := chips.setdefault((expander.bus, expander.address), expander)) is not expander:
                raise ValueError(f"expanders {first.id!r} and {expander.id!r} are both at {expander.address:#04x}")
        for sensor in self.sensors:
            where = sensor.i2c_device() if isinstance(sensor, PluginSensorBase) else None
            if where is None:
                continue
            first = chips.setdefault(where, sensor)
            kind = first.kind if isinstance(first, PluginSensorBase) else f"expander {first.chip}"
            if kind != sensor.kind:
                raise ValueError(
                    f"i2c-{where[0]} address {where[1]:#04x} is configured as {kind!r} ({first.id}) "
                    f"and as {sensor.kind!r} ({sensor.id}): one chip answers at one address"
                )
        return self

    @model_validator(mode="after")
    def _one_chip_one_setting(self) -> Self:
        """Entries that read one chip (one `chip_key`) share one opened chip: they must agree on how it is
        opened (its kind, model, backend, shunt, port ...), or the first entry would decide for the others."""
        first: dict[tuple[object, ...], PluginSensorBase] = {}
        for sensor in self.sensors:
            key = sensor.chip_key() if isinstance(sensor, PluginSensorBase) else None
            if key is None:
                continue
            other = first.setdefault(key, sensor)
            if (differs := _chip_settings_differ(other, sensor)) is not None:
                raise ValueError(f"{other.id} and {sensor.id} read one chip but disagree on {differs}")
        return self

    def output(self, output_id: str) -> OutputConfig:
        """The output with this id (KeyError when there is none)."""
        for output in self.outputs:
            if output.id == output_id:
                return output
        raise KeyError(output_id)

    def sensor(self, sensor_id: str) -> SensorConfig:
        """The sensor with this id (KeyError when there is none)."""
        for sensor in self.sensors:
            if sensor.id == sensor_id:
                return sensor
        raise KeyError(sensor_id)


KIND_PRECISION: dict[str, int] = {"counter": 0}  # kinds without a quantity: a count


def sensor_unit(sensor: SensorConfig) -> str | None:
    """The unit published with a sensor's readings: configured, else its quantity's, else the kind's default."""
    if sensor.unit is not None:
        return sensor.unit
    measures = sensor.measures() if isinstance(sensor, PolledSensor) else None
    return measures.unit if measures is not None else None


def sensor_precision(sensor: SensorConfig) -> int | None:
    """Decimals a numeric reading is published with: its quantity's, else the kind's (None: as read)."""
    measures = sensor.measures() if isinstance(sensor, PolledSensor) else None
    return measures.precision if measures is not None else KIND_PRECISION.get(sensor.kind)


def published_topics(config: GatewayConfig) -> list[tuple[str, str, str]]:
    """(`sensor`/`output`, id, topic) of every topic the gateway publishes to for its sensors and outputs."""
    topics = Topics(config.gateway.topic_prefix, config.gateway.id)
    found: list[tuple[str, str, str]] = []
    for sensor in config.sensors:
        base = topics.sensor(sensor.id)
        suffixes = [""]
        suffixes += ["/availability"] if isinstance(sensor, PolledSensor) else []
        suffixes += ["/event"] if isinstance(sensor, ButtonConfig) and sensor.gestures is not None else []
        suffixes += ["/rate"] if isinstance(sensor, CounterConfig) else []
        suffixes += ["/value"] if sensor.payload == "value" else []
        found += [("sensor", sensor.id, base + suffix) for suffix in suffixes]
    found += [("output", output.id, topics.output(output.id)) for output in config.outputs]
    return found


# What each entry of a chip sets for itself alone; everything else opens the chip and must agree.
_PER_ENTRY_KEYS = frozenset(
    {
        "id",
        "name",
        "quantity",
        "unit",
        "qos",
        "retain",
        "filters",
        "payload",
        "homeassistant",
        "interval",
        "min",
        "max",
        "offline_after",
        "expire_after",
    }
)


def _chip_settings_differ(first: PluginSensorBase, other: PluginSensorBase) -> str | None:
    """The first key two entries of one chip set differently (other than their own per-entry keys), or None."""
    if first is other:
        return None
    mine, theirs = first.model_dump(exclude=set(_PER_ENTRY_KEYS)), other.model_dump(exclude=set(_PER_ENTRY_KEYS))
    if type(first) is not type(other):
        return "kind"
    return next((key for key in mine if mine[key] != theirs.get(key)), None)


def _shared_bus_pins(
    sensors: tuple[SensorConfig, ...], expanders: tuple[ExpanderConfig, ...] = ()
) -> list[tuple[str, str, int, str]]:
    """(bus, role, pin, first user) of every shared bus a sensor or an expander sits on, once per bus."""
    found: dict[str, list[tuple[str, str, int, str]]] = {}
    for expander in expanders:
        if expander.bus == 1 and "I2C1" not in found:
            found["I2C1"] = [("I2C1", role, pin, expander.id) for role, pin in {"SDA": 2, "SCL": 3}.items()]
    for sensor in sensors:
        bus = sensor.bus_pins() if isinstance(sensor, PluginSensorBase) else None
        if bus is not None and bus[0] not in found:
            found[bus[0]] = [(bus[0], role, pin, sensor.id) for role, pin in bus[1].items()]
    return [row for rows in found.values() for row in rows]


def _initially_on(output: OutputConfig) -> bool:
    return output.initial == "ON" if isinstance(output, SwitchOutputBase) else output.initial > 0
