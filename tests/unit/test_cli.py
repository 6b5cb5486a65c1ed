"""Tests of the command line: exit codes, init, config show."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.errors import EX_CONFIG, EX_FAILURE, EX_OK, EX_USAGE
from tests.unit.test_config import MALFORMED

ROOT = Path(__file__).resolve().parents[2]


class TestExitCodes:
    @pytest.mark.parametrize(("text", "location"), MALFORMED)
    def test_malformed_config_exits_78_naming_the_key(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, location: str
    ) -> None:
        """`config show` on a malformed file exits 78 and prints the key's location."""
        path = tmp_path / "bad.toml"
        path.write_text(text, encoding="utf-8")
        assert main(["--config", str(path), "config", "show"]) == EX_CONFIG
        assert location in capsys.readouterr().err

    def test_usage_error_exits_2(self) -> None:
        """An unknown command is a usage error."""
        with pytest.raises(SystemExit) as caught:
            main(["frobnicate"])
        assert caught.value.code == EX_USAGE

    def test_version(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`version` prints the package version."""
        assert main(["version"]) == EX_OK
        assert capsys.readouterr().out.startswith("pi-mqtt-gateway 0.")


class TestInit:
    def test_writes_the_example_config(self, tmp_path: Path) -> None:
        """init writes exactly config/config.example.toml."""
        target = tmp_path / "etc" / "config.toml"
        assert main(["--config", str(target), "init"]) == EX_OK
        assert target.read_bytes() == (ROOT / "config" / "config.example.toml").read_bytes()

    def test_never_overwrites_without_force(self, tmp_path: Path) -> None:
        """init keeps an existing file unless --force is given."""
        target = tmp_path / "config.toml"
        target.write_text("# mine\n", encoding="utf-8")
        assert main(["--config", str(target), "init"]) == EX_FAILURE
        assert target.read_text(encoding="utf-8") == "# mine\n"
        assert main(["--config", str(target), "init", "--force"]) == EX_OK
        assert target.read_text(encoding="utf-8") != "# mine\n"


class TestConfigShow:
    def test_password_is_redacted(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """config show never prints the password."""
        path = tmp_path / "c.toml"
        path.write_text('[mqtt]\nusername = "u"\npassword = "hunter2-secret"\n', encoding="utf-8")
        os.chmod(path, 0o600)
        assert main(["--config", str(path), "config", "show"]) == EX_OK
        out = capsys.readouterr().out
        assert "hunter2-secret" not in out
        assert 'password = "<redacted>"' in out

    def test_output_is_loadable_toml_with_env_overrides(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The shown config is valid TOML holding the effective (overridden) values."""
        import tomllib

        monkeypatch.setenv("GATEWAY__MQTT__HOST", "from-env")
        assert main(["--config", str(ROOT / "config" / "demo.toml"), "config", "show"]) == EX_OK
        shown = tomllib.loads(capsys.readouterr().out)
        assert shown["mqtt"]["host"] == "from-env"
        demo = tomllib.loads((ROOT / "config" / "demo.toml").read_text(encoding="utf-8"))
        assert len(shown["sensors"]) == len(demo["sensors"])
        assert [o["id"] for o in shown["outputs"]] == [o["id"] for o in demo["outputs"]]
