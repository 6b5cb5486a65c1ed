"""Tests of the config models and of loading files, environment overrides and secrets."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from gateway.config import GatewayConfig, Mcp3xxxConfig, default_gateway_id, sensor_unit
from gateway.config_loader import apply_env_overrides, config_path, load_config
from gateway.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

# (file text, text the error must contain): each is one realistic mistake.
MALFORMED = [
    ('[mqtt]\nport = "1883"\n', "mqtt.port"),
    ("[mqtt]\nport = 70000\n", "mqtt.port"),
    ('[mqtt]\nhots = "x"\n', "mqtt.hots"),
    ('[mqtt]\nprotocol = "4"\n', "mqtt.protocol"),
    ('[gpio]\npin_factory = "rpi"\n', "gpio.pin_factory"),
    ('[[sensors]]\nid = "soil"\nkind = "mcp3008"\nchannel = 9\n', 'sensors[0] "soil" (mcp3008).channel'),
    (
        '[[sensors]]\nid = "a"\nkind = "button"\npin = 17\n[[sensors]]\nid = "b"\nkind = "thermometer"\n',
        'sensors[1] "b"',
    ),
    ('[[sensors]]\nid = "Bad Id"\nkind = "button"\npin = 17\n', 'sensors[0] "Bad Id" (button).id'),
    ('[[sensors]]\nid = "a"\nkind = "button"\n', 'sensors[0] "a" (button).pin'),
    ('[[sensors]]\nid = "t"\nkind = "cpu_temperature"\ninterval = 0\n', 'sensors[0] "t" (cpu_temperature).interval'),
    (
        '[[sensors]]\nid = "a"\nkind = "button"\npin = 17\n[[sensors]]\nid = "a"\nkind = "motion"\npin = 4\n',
        "used twice",
    ),
    ('[gateway]\ntopic_prefix = "a/#"\n', "gateway.topic_prefix"),
    ("[mqtt\nhost = 1\n", "line 1"),
]


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


class TestModels:
    def test_defaults_are_valid(self) -> None:
        """An empty file is a valid config with the documented defaults."""
        config = GatewayConfig.model_validate({})
        assert config.mqtt.host == "localhost"
        assert config.mqtt.effective_port == 1883
        assert config.gateway.topic_prefix == "pi-mqtt-gateway"
        assert config.outbox.on_full == "drop_oldest"

    def test_tls_changes_the_default_port(self) -> None:
        """With [mqtt.tls] and no port, the port is 8883."""
        config = GatewayConfig.model_validate({"mqtt": {"tls": {}}})
        assert config.mqtt.effective_port == 8883

    def test_models_are_frozen(self) -> None:
        """A loaded config cannot be changed by accident."""
        config = GatewayConfig.model_validate({})
        with pytest.raises(ValidationError):
            config.mqtt.host = "elsewhere"  # type: ignore[misc]

    def test_default_gateway_id_matches_the_topic_id_pattern(self) -> None:
        """The hostname-derived id is a valid topic id."""
        import re

        assert re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", default_gateway_id())

    def test_two_sensors_on_one_pin_are_refused(self) -> None:
        """A pin used twice is a config error, before anything touches the hardware."""
        with pytest.raises(ValidationError, match="GPIO17"):
            GatewayConfig.model_validate(
                {
                    "sensors": [
                        {"id": "a", "kind": "button", "pin": 17},
                        {"id": "b", "kind": "light", "pin": 17},
                    ]
                }
            )

    def test_a_pin_of_an_spi_bus_in_use_is_refused(self) -> None:
        """An input on GPIO 9 conflicts with an ADC on SPI0."""
        with pytest.raises(ValidationError, match="SPI0 miso"):
            GatewayConfig.model_validate(
                {
                    "sensors": [
                        {"id": "adc", "kind": "mcp3008", "channel": 0},
                        {"id": "b", "kind": "button", "pin": 9},
                    ]
                }
            )

    def test_adc_channels_share_one_bus(self) -> None:
        """Two channels of one ADC are not a pin conflict."""
        config = GatewayConfig.model_validate(
            {
                "sensors": [
                    {"id": "a", "kind": "mcp3008", "channel": 0},
                    {"id": "b", "kind": "mcp3008", "channel": 1},
                ]
            }
        )
        assert [s.id for s in config.sensors] == ["a", "b"]

    def test_channel_is_checked_against_the_chip(self) -> None:
        """Channel 4 does not exist on a 4-channel MCP3004."""
        with pytest.raises(ValidationError, match="does not exist on mcp3004"):
            Mcp3xxxConfig.model_validate({"id": "a", "kind": "mcp3008", "chip": "mcp3004", "channel": 4})

    def test_floating_pin_needs_active_state(self) -> None:
        """pull = 'none' without active_state is refused (gpiozero cannot guess)."""
        with pytest.raises(ValidationError, match="active_state"):
            GatewayConfig.model_validate({"sensors": [{"id": "a", "kind": "line", "pin": 5, "pull": "none"}]})

    def test_simulate_needs_the_mock_factory(self) -> None:
        """simulate = true on real pins is refused rather than ignored."""
        with pytest.raises(ValidationError, match="simulate"):
            GatewayConfig.model_validate({"gpio": {"pin_factory": "lgpio", "simulate": True}})

    def test_units_default_per_kind(self) -> None:
        """CPU temperature is in °C unless the config says otherwise."""
        config = GatewayConfig.model_validate(
            {
                "sensors": [
                    {"id": "cpu", "kind": "cpu_temperature"},
                    {"id": "cpu2", "kind": "cpu_temperature", "unit": "K"},
                ]
            }
        )
        assert [sensor_unit(s) for s in config.sensors] == ["°C", "K"]

    def test_shipped_configs_are_valid(self) -> None:
        """config/config.example.toml and config/demo.toml load without error."""
        for name in ("config.example.toml", "demo.toml"):
            assert load_config(ROOT / "config" / name, environ={}).config is not None


class TestLoadConfig:
    @pytest.mark.parametrize(("text", "location"), MALFORMED)
    def test_malformed_file_names_the_key(self, tmp_path: Path, text: str, location: str) -> None:
        """Each malformed file raises ConfigError whose text names the file and the key."""
        path = write(tmp_path, text)
        with pytest.raises(ConfigError) as caught:
            load_config(path, environ={})
        rendered = caught.value.render()
        assert str(path) in rendered
        assert location in rendered

    def test_every_problem_is_reported_at_once(self, tmp_path: Path) -> None:
        """Three mistakes give three problems, not one at a time."""
        path = write(tmp_path, '[mqtt]\nport = 0\nqos = 3\n[[sensors]]\nid = "x"\nkind = "button"\n')
        with pytest.raises(ConfigError) as caught:
            load_config(path, environ={})
        assert len(caught.value.problems) == 3

    def test_found_value_is_shown(self, tmp_path: Path) -> None:
        """The error says what was found."""
        path = write(tmp_path, "[mqtt]\nkeepalive = 1\n")
        with pytest.raises(ConfigError, match=r"mqtt.keepalive: .*greater than or equal to 2 \(found 1\)"):
            load_config(path, environ={})

    def test_syntax_error_has_line_and_column(self, tmp_path: Path) -> None:
        """A TOML syntax error names its line and column."""
        path = write(tmp_path, '[mqtt]\nhost = "a"\nport = = 3\n')
        with pytest.raises(ConfigError, match=r"line 3, column"):
            load_config(path, environ={})

    def test_missing_file_suggests_init(self, tmp_path: Path) -> None:
        """A missing file says how to create one."""
        with pytest.raises(ConfigError, match="pi-mqtt-gateway init"):
            load_config(tmp_path / "nope.toml", environ={})

    def test_environment_overrides_the_file(self, tmp_path: Path) -> None:
        """GATEWAY__MQTT__HOST and a list index override the file, with TOML-typed values."""
        path = write(tmp_path, '[mqtt]\nhost = "a"\n[[sensors]]\nid = "cpu"\nkind = "cpu_temperature"\n')
        env = {"GATEWAY__MQTT__HOST": "broker.lan", "GATEWAY__MQTT__PORT": "1884", "GATEWAY__SENSORS__0__INTERVAL": "5"}
        loaded = load_config(path, environ=env)
        assert loaded.config.mqtt.host == "broker.lan"
        assert loaded.config.mqtt.port == 1884
        assert loaded.config.sensors[0].interval == 5.0  # type: ignore[union-attr]

    def test_bad_environment_value_names_the_variable(self, tmp_path: Path) -> None:
        """An invalid override names the environment variable it came from."""
        path = write(tmp_path, "")
        with pytest.raises(ConfigError, match="GATEWAY__MQTT__PORT"):
            load_config(path, environ={"GATEWAY__MQTT__PORT": "many"})

    def test_override_of_a_missing_list_item_is_an_error(self) -> None:
        """GATEWAY__SENSORS__3__X with no fourth sensor is refused, not silently added."""
        with pytest.raises(ConfigError, match="no list item"):
            apply_env_overrides({"sensors": []}, {"GATEWAY__SENSORS__3__INTERVAL": "1"})

    def test_config_path_precedence(self) -> None:
        """--config beats $GATEWAY_CONFIG beats the default path."""
        assert config_path("a.toml", {"GATEWAY_CONFIG": "b.toml"}) == Path("a.toml")
        assert config_path(None, {"GATEWAY_CONFIG": "b.toml"}) == Path("b.toml")
        assert config_path(None, {}) == Path("/etc/pi-mqtt-gateway/config.toml")


class TestSecrets:
    def test_password_file_is_read(self, tmp_path: Path) -> None:
        """mqtt.password_file (mode 0600) provides the password."""
        secret = write(tmp_path, "s3cret-value\n", "pw")
        os.chmod(secret, 0o600)
        loaded = load_config(write(tmp_path, f'[mqtt]\npassword_file = "{secret}"\n'), environ={})
        assert loaded.password == "s3cret-value"
        assert loaded.secrets == ("s3cret-value",)

    def test_group_readable_password_file_is_refused(self, tmp_path: Path) -> None:
        """A password file readable by others is a config error (exit 78), and is not echoed."""
        secret = write(tmp_path, "s3cret-value\n", "pw")
        os.chmod(secret, 0o644)
        with pytest.raises(ConfigError, match="chmod 600") as caught:
            load_config(write(tmp_path, f'[mqtt]\npassword_file = "{secret}"\n'), environ={})
        assert "s3cret-value" not in caught.value.render()

    def test_credentials_directory_wins(self, tmp_path: Path) -> None:
        """systemd's $CREDENTIALS_DIRECTORY/mqtt_password is used first."""
        (tmp_path / "creds").mkdir()
        write(tmp_path / "creds", "from-systemd", "mqtt_password")
        loaded = load_config(write(tmp_path, ""), environ={"CREDENTIALS_DIRECTORY": str(tmp_path / "creds")})
        assert loaded.password == "from-systemd"

    def test_inline_password_in_world_readable_file_is_refused(self, tmp_path: Path) -> None:
        """An inline password in a file others can read is refused without echoing it."""
        path = write(tmp_path, '[mqtt]\npassword = "inline-secret"\n')
        os.chmod(path, 0o644)
        with pytest.raises(ConfigError, match="world-readable") as caught:
            load_config(path, environ={})
        assert "inline-secret" not in caught.value.render()

    def test_invalid_password_value_is_redacted(self, tmp_path: Path) -> None:
        """A password of the wrong type is reported without its value."""
        path = write(tmp_path, "[mqtt]\npassword = 123456789\n")
        os.chmod(path, 0o600)
        with pytest.raises(ConfigError) as caught:
            load_config(path, environ={})
        assert "123456789" not in caught.value.render()
        assert "<redacted>" in caught.value.render()


class TestOutputs:
    @pytest.mark.parametrize(
        ("outputs", "sensors", "message"),
        [
            ([{"id": "a", "kind": "relay", "pin": 5, "interlock": ["b"]}], [], "not another output"),
            ([{"id": "a", "kind": "relay", "pin": 5, "interlock": ["a"]}], [], "not another output"),
            (
                [
                    {"id": "a", "kind": "relay", "pin": 5, "interlock": ["b"], "initial": "ON"},
                    {"id": "b", "kind": "pwm", "pin": 6, "initial": 0.5},
                ],
                [],
                "both start on",
            ),
            ([{"id": "a", "kind": "led", "pin": 17}], [{"id": "b", "kind": "button", "pin": 17}], "GPIO17"),
            ([{"id": "a", "kind": "led", "pin": 4}], [{"id": "a", "kind": "button", "pin": 17}], "used twice"),
            ([{"id": "a", "kind": "pwm", "pin": 4, "initial": 1.5}], [], "less than or equal to 1"),
            ([{"id": "a", "kind": "relay", "pin": 4, "initial": "on"}], [], "'ON' or 'OFF'"),
            ([{"id": "a", "kind": "relay", "pin": 4, "max_commands_per_second": 0}], [], "greater than 0"),
        ],
    )
    def test_invalid_output_configs_are_refused(
        self, outputs: list[dict[str, object]], sensors: list[dict[str, object]], message: str
    ) -> None:
        """Interlocks name other outputs and never start both on; pins and ids are not shared; values in range."""
        with pytest.raises(ValidationError, match=message):
            GatewayConfig.model_validate({"outputs": outputs, "sensors": sensors})

    def test_every_output_kind_is_accepted_with_defaults(self) -> None:
        """relay, digital_output, led, buzzer and pwm build with only id and pin; safe defaults apply."""
        kinds = ["relay", "digital_output", "led", "buzzer", "pwm"]
        config = GatewayConfig.model_validate(
            {"outputs": [{"id": kind.replace("_", "-"), "kind": kind, "pin": 4 + n} for n, kind in enumerate(kinds)]}
        )
        assert [o.kind for o in config.outputs] == kinds
        assert {(o.failsafe, o.retained_commands, o.max_on) for o in config.outputs} == {("off", "ignore", None)}


class TestTopicsAtLoad:
    def test_a_topic_over_max_topic_bytes_is_a_config_error_naming_the_sensor(self, tmp_path: Path) -> None:
        """`mqtt.max_topic_bytes = 16` with sensor `soil-moisture-sensor`: refused at load (exit 78), not at run."""
        path = write(
            tmp_path,
            '[mqtt]\nmax_topic_bytes = 16\n[[sensors]]\nid = "soil-moisture-sensor"\nkind = "mcp3008"\nchannel = 0\n',
        )
        with pytest.raises(ConfigError) as caught:
            load_config(path, environ={})
        rendered = caught.value.render()
        assert "sensor 'soil-moisture-sensor': cannot publish to 'pi-mqtt-gateway/" in rendered
        assert "over mqtt.max_topic_bytes (16)" in rendered

    def test_derived_topics_count_too(self) -> None:
        """A polled sensor's `<topic>/availability` is checked as well as its reading topic."""
        sensor = {"id": "load", "kind": "load_average"}
        topic = "pi-mqtt-gateway/test/sensor/load"
        fits = {"mqtt": {"max_topic_bytes": len(topic)}, "sensors": [sensor]}
        with pytest.raises(ValidationError, match="load/availability"):
            GatewayConfig.model_validate(fits | {"gateway": {"id": "test"}})
        roomy = {"mqtt": {"max_topic_bytes": len(topic) + len("/availability")}, "sensors": [sensor]}
        assert GatewayConfig.model_validate(roomy | {"gateway": {"id": "test"}}).sensors[0].id == "load"


class TestExpanders:
    EXPANDER: ClassVar[dict[str, Any]] = {"id": "porch", "chip": "mcp23017", "address": 0x20, "interrupt_pin": 17}

    def config(self, *devices: dict[str, Any], outputs: tuple[dict[str, Any], ...] = ()) -> GatewayConfig:
        return GatewayConfig.model_validate(
            {"expanders": [self.EXPANDER], "sensors": list(devices), "outputs": list(outputs)}
        )

    def test_inputs_and_relays_name_an_expanders_pins(self) -> None:
        """A button on porch.A3 and a relay on porch.B0 load; the expander's INT pin and I2C1 are Pi pins."""
        config = self.config(
            {"id": "gate", "kind": "button", "expander": "porch", "pin": "A3"},
            outputs=({"id": "lamp", "kind": "relay", "expander": "porch", "pin": "B0"},),
        )
        assert (getattr(config.sensors[0], "pin", None), config.outputs[0].pin) == ("A3", "B0")

    @pytest.mark.parametrize(
        ("sensor", "output", "problem"),
        [
            ({"expander": "porch", "pin": "C3"}, None, "a mcp23017 has pins A0, .*B7, not 'C3'"),
            ({"expander": "garage", "pin": "A3"}, None, "expander 'garage' is not in \\[\\[expanders\\]\\]"),
            ({"pin": "A3"}, None, "is an expander pin name"),
            ({"expander": "porch", "pin": 4}, None, "names the expander's pin"),
            ({"expander": "porch", "pin": "A3", "pull": "down"}, None, "no pull-down"),
            ({"pin": 17}, None, r"GPIO17 \(porch.int\) is already used by gate"),
            ({"expander": "porch", "pin": "A3"}, {"kind": "relay", "expander": "porch", "pin": "A3"}, "used by both"),
            (None, {"kind": "pwm", "expander": "porch", "pin": "B1"}, "PWM needs a Pi pin"),
            (None, {"kind": "relay", "pin": 2}, "GPIO2 is I2C1 SDA for 'porch'"),
            ({"expander": "porch", "pin": "A3", "bounce_time": 0.01}, None, "use a debounce filter"),
        ],
    )
    def test_bad_expander_pins_are_refused_at_load(
        self, sensor: dict[str, Any] | None, output: dict[str, Any] | None, problem: str
    ) -> None:
        """Each wrong use of an expander pin is refused when the config loads, saying what is wrong."""
        sensors = [{"id": "gate", "kind": "button", **sensor}] if sensor else []
        outputs = ({"id": "lamp", **output},) if output else ()
        with pytest.raises(ValueError, match=problem):
            self.config(*sensors, outputs=outputs)

    def test_a_counter_is_refused_on_an_expander(self) -> None:
        """A pulse counter needs every edge of a Pi pin; on an expander it is refused."""
        with pytest.raises(ValueError, match="counts edges on a Pi pin"):
            self.config({"id": "meter", "kind": "counter", "expander": "porch", "pin": "A0"})


class TestBrokerNodes:
    def test_hosts_give_the_failover_order_with_default_ports(self) -> None:
        """`hosts` entries are `host`, `host:port`, `[v6]` or `[v6]:port`; a missing port is the default."""
        mqtt = GatewayConfig.model_validate(
            {"mqtt": {"hosts": ["a.lan", "b.lan:1884", "[fd00::1]", "[fd00::2]:8883"], "port": 1999}}
        ).mqtt
        assert mqtt.nodes == (("a.lan", 1999), ("b.lan", 1884), ("fd00::1", 1999), ("fd00::2", 8883))

    def test_without_hosts_the_one_node_is_host_and_port(self) -> None:
        """No `hosts`: the only node is `host` with its port (8883 with TLS)."""
        mqtt = GatewayConfig.model_validate({"mqtt": {"host": "broker", "tls": {}}}).mqtt
        assert mqtt.nodes == (("broker", 8883),)

    @pytest.mark.parametrize(
        ("hosts", "problem"),
        [(["a:0"], "port 0"), (["a", "a:1883"], "listed twice"), (["a b"], "should match pattern")],
    )
    def test_bad_hosts_are_refused(self, hosts: list[str], problem: str) -> None:
        """A port out of range, a node listed twice or a malformed entry is refused at load."""
        with pytest.raises(ValueError, match=problem):
            GatewayConfig.model_validate({"mqtt": {"hosts": hosts}})

    def test_a_prefix_with_a_dot_or_space_is_flagged_as_not_portable(self) -> None:
        """NATS closes the connection on '.' and spaces in topics (docs/brokers.md): the warning names both."""
        from gateway.topics import portability_warning

        assert portability_warning("home/garden pi") is not None
        assert "'.'" in (portability_warning("site.a") or "")
        assert portability_warning("home/garden-pi_2") is None
