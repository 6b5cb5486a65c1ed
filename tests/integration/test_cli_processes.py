"""The command line as real processes: `python -m gateway`, the generated shell script through bash, what
`--help` and `gateway.cli.detect` import in a fresh interpreter, and the installed unit through systemd-analyze."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.cli.install import UNIT_PATH
from gateway.errors import EX_CONFIG, EX_OK, EX_USAGE
from tests.unit.test_install import analyze, installed_with_password

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


class TestCompletion:
    def test_bash_script_is_valid_bash(self, capsys: pytest.CaptureFixture[str]) -> None:
        """`bash -n` accepts the generated script."""
        main(["completion", "bash"])
        result = subprocess.run(["bash", "-n"], input=capsys.readouterr().out, text=True, check=False)
        assert result.returncode == 0


class TestRun:
    def test_run_with_malformed_config_exits_78_as_a_process(self, tmp_path: Path) -> None:
        """`python -m gateway run` with a bad file exits 78 with the problem on stderr."""
        path = tmp_path / "bad.toml"
        path.write_text("[mqtt]\nport = 0\n", encoding="utf-8")
        result = subprocess.run(
            [sys.executable, "-m", "gateway", "--config", str(path), "run"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == EX_CONFIG
        assert "mqtt.port" in result.stderr
        assert "Traceback" not in result.stderr


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


class TestLayering:
    def test_detect_does_not_load_smbus2(self) -> None:
        """Importing gateway.cli.detect loads no hardware library: smbus2 comes only with a scanned bus."""
        code = "import sys, gateway.cli.detect; print(sorted({'smbus2', 'gpiozero'} & set(sys.modules)))"
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, check=True
        )
        assert result.stdout.strip() == "[]"


class TestInstalledUnit:
    def test_the_installed_unit_verifies_and_scores_at_most_1_5(self, tmp_path: Path) -> None:
        """`systemd-analyze verify` is clean for the installed unit, and its exposure with the drop-in is <= 1.5."""
        root = installed_with_password(tmp_path)
        verify = subprocess.run(
            [analyze(), "verify", str(root / UNIT_PATH)], capture_output=True, text=True, check=False
        )
        assert (verify.returncode, verify.stdout + verify.stderr) == (0, "")
        security = subprocess.run(
            [analyze(), "security", "--offline=true", f"--root={root}", "pi-mqtt-gateway.service"],
            capture_output=True,
            text=True,
            check=False,
        )
        match = re.search(r"Overall exposure level for pi-mqtt-gateway.service: (\d+\.\d+)", security.stdout)
        assert match is not None, security.stdout[-400:] + security.stderr
        assert float(match.group(1)) <= 1.5
