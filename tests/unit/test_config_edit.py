"""Tests of `config get` / `config set`: effective values, in-place edits that keep comments, validation."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.cli.config_edit import KeyNotFoundError, get_key, set_key, split_key
from gateway.config_loader import load_config
from gateway.errors import EX_CONFIG, EX_OK, EX_USAGE, ConfigError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "config.example.toml"


def copy_example(tmp_path: Path) -> Path:
    target = tmp_path / "config.toml"
    target.write_bytes(EXAMPLE.read_bytes())
    os.chmod(target, 0o640)
    return target


class TestGet:
    def test_keys_by_section_index_and_id(self) -> None:
        """Dotted keys reach sections, list items by index and sensors by id."""
        loaded = load_config(ROOT / "config" / "demo.toml", environ={})
        assert get_key(loaded, "mqtt.port") == 1883
        assert get_key(loaded, "sensors[4].id") == "soil"
        assert get_key(loaded, "sensors.4.id") == "soil"
        assert get_key(loaded, "sensors.soil.unit") == "%"

    def test_effective_value_includes_environment(self) -> None:
        """`config get` shows what the gateway would use, environment included."""
        loaded = load_config(EXAMPLE, environ={"GATEWAY__MQTT__HOST": "from-env"})
        assert get_key(loaded, "mqtt.host") == "from-env"

    def test_password_is_redacted(self, tmp_path: Path) -> None:
        """A secret is never returned."""
        path = tmp_path / "c.toml"
        path.write_text('[mqtt]\npassword = "s3cret-pw"\n', encoding="utf-8")
        os.chmod(path, 0o600)
        assert get_key(load_config(path, environ={}), "mqtt.password") == "<redacted>"

    @pytest.mark.parametrize("key", ["mqtt.nope", "sensors.nope.interval", "sensors[99]", "a..b"])
    def test_unknown_key(self, key: str) -> None:
        """An unknown key is a KeyNotFoundError that lists what exists."""
        with pytest.raises(KeyNotFoundError):
            get_key(load_config(EXAMPLE, environ={}), key)

    def test_split_key(self) -> None:
        """Both index spellings are understood."""
        assert split_key("sensors[2].pin") == ["sensors", 2, "pin"] == split_key("sensors.2.pin")


class TestSet:
    def test_round_trip_keeps_every_other_byte(self, tmp_path: Path) -> None:
        """Setting a key changes only its own line; comments and layout elsewhere stay byte for byte."""
        path = copy_example(tmp_path)
        before = path.read_text(encoding="utf-8").splitlines(keepends=True)
        set_key(path, "mqtt.keepalive", "45")
        after = path.read_text(encoding="utf-8").splitlines(keepends=True)
        assert len(before) == len(after)
        changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
        assert len(changed) == 1
        assert changed[0][1].startswith("keepalive = 45 ")
        assert "# seconds" in changed[0][1]  # the line's own comment survives too

    def test_sensor_by_id_and_new_nested_table(self, tmp_path: Path) -> None:
        """A sensor is edited by id; a missing table ([mqtt.tls]) is created."""
        path = copy_example(tmp_path)
        set_key(path, "sensors.cpu.interval", "12")
        set_key(path, "mqtt.tls.ca_file", "/etc/ssl/ca.pem")
        config = load_config(path, environ={}).config
        assert config.sensor("cpu").interval == 12.0  # type: ignore[union-attr]
        assert config.mqtt.tls is not None
        assert str(config.mqtt.tls.ca_file) == "/etc/ssl/ca.pem"

    def test_invalid_result_is_refused_and_nothing_is_written(self, tmp_path: Path) -> None:
        """A value the models refuse raises ConfigError naming the key; the file is untouched."""
        path = copy_example(tmp_path)
        original = path.read_bytes()
        with pytest.raises(ConfigError, match=r"mqtt.port: .*65535"):
            set_key(path, "mqtt.port", "99999")
        assert path.read_bytes() == original
        assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]  # no temporary file left

    def test_mode_is_kept(self, tmp_path: Path) -> None:
        """The rewritten file keeps its permissions (a config holding secrets stays private)."""
        path = copy_example(tmp_path)
        set_key(path, "logging.level", '"debug"')
        assert stat.S_IMODE(path.stat().st_mode) == 0o640


class TestCommands:
    def test_get_and_set_through_the_entry_point(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`config set` then `config get` agree; output is a TOML-style value."""
        path = copy_example(tmp_path)
        assert main(["-c", str(path), "config", "set", "gateway.topic_prefix", "farm"]) == EX_OK
        assert main(["-c", str(path), "config", "get", "gateway.topic_prefix"]) == EX_OK
        assert capsys.readouterr().out.splitlines()[-1] == '"farm"'

    def test_unknown_key_exits_2_without_traceback(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A typo in the key is a usage error with one line saying what exists."""
        assert main(["-c", str(EXAMPLE), "config", "get", "mqtt.hots"]) == EX_USAGE
        err = capsys.readouterr().err
        assert "no key 'hots'" in err
        assert "Traceback" not in err

    def test_set_invalid_exits_78(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`config set` with a bad value exits 78 and says nothing was written."""
        path = copy_example(tmp_path)
        assert main(["-c", str(path), "config", "set", "mqtt.qos", "3"]) == EX_CONFIG
        assert "nothing was written" in capsys.readouterr().err

    def test_set_on_a_missing_file_says_init(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`config set` without a file points at `init` (exit 1)."""
        assert main(["-c", str(tmp_path / "none.toml"), "config", "set", "mqtt.port", "1"]) == 1
        assert "pi-mqtt-gateway init" in capsys.readouterr().err

    def test_show_names_the_source_of_each_value(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`config show` marks values from the file, the environment and the defaults."""
        monkeypatch.setenv("GATEWAY__MQTT__KEEPALIVE", "40")
        assert main(["-c", str(copy_example(tmp_path)), "config", "show"]) == EX_OK
        out = capsys.readouterr().out
        assert 'host = "localhost"  # file' in out
        assert "keepalive = 40  # env GATEWAY__MQTT__KEEPALIVE" in out
        assert "# client_id is not set; default" in out

    def test_path_and_schema(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`config path` prints the file in use; `config schema` a JSON Schema of every section."""
        import json

        assert main(["-c", str(tmp_path / "x.toml"), "config", "path"]) == EX_OK
        assert capsys.readouterr().out.strip() == str(tmp_path / "x.toml")
        assert main(["config", "schema"]) == EX_OK
        schema = json.loads(capsys.readouterr().out)
        assert {"gateway", "gpio", "mqtt", "outbox", "logging", "sensors"} <= set(schema["properties"])
