"""Tests of the remaining commands through the entry point, in process and as subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.errors import EX_CONFIG, EX_OK, EX_USAGE

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "config" / "demo.toml")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


class TestSensors:
    def test_list(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`sensors list` is a table with every sensor, its pins, interval and topic."""
        assert main(["-c", DEMO, "sensors", "list"]) == EX_OK
        out = capsys.readouterr().out
        assert out.splitlines()[0].split() == ["id", "kind", "pins", "interval", "filters", "topic"]
        assert "pin=GPIO17" in out
        assert "pi-mqtt-gateway/demo/sensor/soil" in out

    def test_read_one(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """`sensors read soil` reads the simulated ADC once, without a broker."""
        monkeypatch.setenv("GATEWAY__GATEWAY__STATE_DIR", str(tmp_path))
        assert main(["-c", DEMO, "sensors", "read", "soil"]) == EX_OK
        row = capsys.readouterr().out.splitlines()[2].split()
        assert row[0] == "soil"
        assert 0.0 <= float(row[2]) <= 100.0
        assert row[-1] == "ok"

    def test_read_unknown_id_exits_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An unknown sensor id is a usage error listing the configured ones."""
        assert main(["-c", DEMO, "sensors", "read", "nope"]) == EX_USAGE
        assert "configured: doorbell" in capsys.readouterr().err

    def test_read_on_a_machine_that_is_not_a_pi(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """With pin_factory = auto off a Pi, the error explains and suggests mock (exit 1, no traceback)."""
        path = tmp_path / "c.toml"
        path.write_text('[[sensors]]\nid = "b"\nkind = "button"\npin = 17\n', encoding="utf-8")
        assert main(["-c", str(path), "sensors", "read"]) == 1
        err = capsys.readouterr().err
        assert 'pin_factory = "mock"' in err
        assert "Traceback" not in err


class TestCompletion:
    @pytest.mark.parametrize("shell", ["bash", "zsh"])
    def test_scripts_name_every_command(self, shell: str, capsys: pytest.CaptureFixture[str]) -> None:
        """The completion script offers every command and sub-command."""
        assert main(["completion", shell]) == EX_OK
        script = capsys.readouterr().out
        for word in ("run", "check", "watch", "status", "pins", "show get set path schema", "list read"):
            assert word in script

    def test_bash_script_is_valid_bash(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`bash -n` accepts the generated script."""
        main(["completion", "bash"])
        result = subprocess.run(["bash", "-n"], input=capsys.readouterr().out, text=True, check=False)
        assert result.returncode == 0


class TestAsSubprocess:
    @pytest.mark.parametrize(
        ("args", "code", "expected"),
        [
            (["version"], EX_OK, "pi-mqtt-gateway 0."),
            (["-c", DEMO, "config", "get", "sensors.soil.unit"], EX_OK, '"%"'),
            (["-c", DEMO, "config", "path"], EX_OK, "demo.toml"),
            (["-c", DEMO, "sensors", "list"], EX_OK, "water-level"),
            (["-c", DEMO, "pins"], EX_OK, "GPIO17"),
            (["completion", "bash"], EX_OK, "complete -F"),
            (["-c", "/nonexistent/config.toml", "config", "show"], EX_CONFIG, "pi-mqtt-gateway init"),
            (["-c", DEMO, "config", "get", "nope"], EX_USAGE, "no key 'nope'"),
            (["frobnicate"], EX_USAGE, "invalid choice"),
        ],
    )
    def test_commands_run_as_processes(self, args: list[str], code: int, expected: str) -> None:
        """Each command works through `python -m gateway`, with the documented exit code."""
        result = run(*args)
        assert result.returncode == code, result.stderr
        assert expected in result.stdout + result.stderr
        assert "Traceback" not in result.stderr

    def test_init_then_set_then_schema_as_processes(self, tmp_path: Path) -> None:
        """`init`, `config set` and `config schema` as processes: a file is written, edited and described."""
        path = str(tmp_path / "etc" / "config.toml")
        assert run("-c", path, "init").returncode == EX_OK
        assert run("-c", path, "init").returncode == 1  # never overwrites
        edited = run("-c", path, "config", "set", "mqtt.host", "broker.lan")
        assert edited.returncode == EX_OK, edited.stderr
        assert 'host = "broker.lan"' in Path(path).read_text(encoding="utf-8")
        assert '"properties"' in run("config", "schema").stdout

    def test_sensors_read_as_a_process(self, tmp_path: Path) -> None:
        """`sensors read` builds the simulated devices in a fresh process and reads each once."""
        result = subprocess.run(
            [sys.executable, "-m", "gateway", "-c", DEMO, "sensors", "read"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "GATEWAY__GATEWAY__STATE_DIR": str(tmp_path)},
        )
        assert result.returncode == EX_OK, result.stdout + result.stderr
        sensors = len(tomllib.loads(Path(DEMO).read_text(encoding="utf-8"))["sensors"])
        assert result.stdout.count(" ok") == sensors  # every sensor of the demo read once

    def test_help_imports_neither_gpiozero_nor_aiomqtt(self) -> None:
        """`--help` stays fast: the hardware and MQTT libraries (and pydantic) are not imported."""
        code = (
            "import sys\nfrom gateway.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('gpiozero', 'aiomqtt', 'paho', 'pydantic') if m in sys.modules))"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert result.stdout.strip().splitlines()[-1] == "[]"
