"""Compiled dependencies: which ones a config needs, and a clear message (not a traceback) when one is missing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gateway.cli.config_edit import render_toml
from gateway.native import LGPIO, SPIDEV, SQLITE, SSL, native_problems, needed_modules
from tests.conftest import make_config


def run_without(module: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh interpreter where `module` cannot be imported (as on a CPU without a wheel)."""
    code = f"import sys; sys.modules[{module!r}] = None; from gateway.cli import main; sys.exit(main({argv!r}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60)


class TestNeededModules:
    def test_mock_pins_need_only_sqlite(self, tmp_path: Path) -> None:
        """A plain config on mock pins needs SQLite and nothing that drives hardware."""
        assert needed_modules(make_config(tmp_path)) == [(SQLITE, True)]

    def test_tls_lgpio_and_spi_are_needed_when_configured(self, tmp_path: Path) -> None:
        """TLS needs _ssl; lgpio is required for pin_factory lgpio; spidev is optional (software SPI)."""
        config = make_config(
            tmp_path,
            [{"id": "soil", "kind": "mcp3008", "channel": 0}],
            gpio={"pin_factory": "lgpio", "simulate": False},
            mqtt={"tls": {}},
        )
        assert needed_modules(config) == [(SQLITE, True), (SSL, True), (LGPIO, True), (SPIDEV, False)]

    def test_lgpio_missing_under_auto_is_a_warning_not_a_failure(self, tmp_path: Path) -> None:
        """Off a Pi (here) lgpio does not import: under `auto` it is reported as optional, with the apt remedy."""
        problems = native_problems(make_config(tmp_path, gpio={"pin_factory": "auto", "simulate": False}))
        assert [(p.module, p.required) for p in problems] == [(LGPIO, False)]
        assert "apt install python3-lgpio" in str(problems[0])


class TestMissingAtRunTime:
    def test_missing_pydantic_core_is_one_line_with_the_piwheels_remedy(self) -> None:
        """Without pydantic-core any command exits 1 with one line naming piwheels, no traceback."""
        result = run_without("pydantic_core", ["config", "path"])
        assert result.returncode == 1
        assert "piwheels" in result.stderr
        assert "Traceback" not in result.stderr

    def test_check_fails_when_sqlite_is_missing(self, tmp_path: Path) -> None:
        """`check` prints a FAIL line for a required module that does not import, and exits 1."""
        path = tmp_path / "config.toml"
        config = {"gateway": {"state_dir": str(tmp_path)}, "gpio": {"pin_factory": "mock"}, "mqtt": {"port": 9}}
        path.write_text(render_toml(config), encoding="utf-8")
        result = run_without("_sqlite3", ["--config", str(path), "check", "--timeout", "1"])
        assert result.returncode == 1
        assert "[FAIL] native module _sqlite3 cannot be imported" in result.stdout
        assert "Traceback" not in result.stdout + result.stderr
