"""The service installer into a temporary root: every file, its content and its mode; uninstall keeps data."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.cli.install import (
    CONFIG_DIR,
    CONFIG_PATH,
    CREDENTIAL_PATH,
    CREDENTIALS_DROP_IN,
    STATE_DIR,
    SYSUSERS_PATH,
    UNIT_PATH,
)

REPO = Path(__file__).resolve().parents[2]
SECRET = "sentinel-Pw-5c1f"


def install(root: Path, *extra: str) -> int:
    return main(["install-service", "--root", str(root), *extra])


def installed_with_password(tmp_path: Path) -> Path:
    """Install under `tmp_path/root` with a password file holding SECRET (exit 0 checked); the root."""
    source = tmp_path / "pw"
    source.write_text(SECRET, encoding="utf-8")
    root = tmp_path / "root"
    assert install(root, "--password-file", str(source)) == 0
    return root


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def analyze() -> str:
    found = shutil.which("systemd-analyze")
    assert found is not None, "systemd-analyze ships with systemd on every Debian machine"
    return found


class TestInstall:
    def test_every_file_in_place_with_its_mode(self, tmp_path: Path) -> None:
        """The unit, the sysusers file and the example config are written with modes 644/644/640 (dir 750)."""
        assert install(tmp_path) == 0
        unit = (tmp_path / UNIT_PATH).read_text(encoding="utf-8")
        exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
        assert exec_start == f"ExecStart={sys.prefix}/bin/pi-mqtt-gateway --config /etc/pi-mqtt-gateway/config.toml run"
        shipped_sysusers = (REPO / "systemd/pi-mqtt-gateway.sysusers").read_text(encoding="utf-8")
        assert (tmp_path / SYSUSERS_PATH).read_text(encoding="utf-8") == shipped_sysusers
        example = (REPO / "config/config.example.toml").read_text(encoding="utf-8")
        assert (tmp_path / CONFIG_PATH).read_text(encoding="utf-8") == example
        modes = {path: mode(tmp_path / path) for path in (UNIT_PATH, SYSUSERS_PATH, CONFIG_DIR, CONFIG_PATH)}
        assert modes == {UNIT_PATH: 0o644, SYSUSERS_PATH: 0o644, CONFIG_DIR: 0o750, CONFIG_PATH: 0o640}
        assert not (tmp_path / CREDENTIALS_DROP_IN).exists()  # no password, no LoadCredential

    def test_an_existing_config_is_never_overwritten(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A second install (an upgrade) keeps the user's config byte for byte and says so."""
        assert install(tmp_path) == 0
        (tmp_path / CONFIG_PATH).write_text('[gateway]\nid = "shed"\n', encoding="utf-8")
        assert install(tmp_path) == 0
        assert (tmp_path / CONFIG_PATH).read_text(encoding="utf-8") == '[gateway]\nid = "shed"\n'
        assert "kept" in capsys.readouterr().out

    def test_a_password_goes_to_a_root_only_credential(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--password-file: a 600 file in a 700 directory, a LoadCredential drop-in, and the secret never printed."""
        root = installed_with_password(tmp_path)
        credential = root / CREDENTIAL_PATH
        assert credential.read_text(encoding="utf-8") == SECRET
        assert (mode(credential), mode(credential.parent)) == (0o600, 0o700)
        drop_in = (root / CREDENTIALS_DROP_IN).read_text(encoding="utf-8")
        assert "LoadCredential=mqtt_password:/etc/pi-mqtt-gateway/credentials/mqtt_password" in drop_in
        output = capsys.readouterr()
        assert SECRET not in output.out + output.err

    def test_a_missing_password_file_is_a_clear_error(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A password file that does not exist fails with exit 1 and names it."""
        assert install(tmp_path / "root", "--password-file", str(tmp_path / "nope")) == 1
        assert "cannot read the password file" in capsys.readouterr().err


class TestUninstall:
    def test_removes_the_service_and_keeps_config_and_state(self, tmp_path: Path) -> None:
        """Uninstall removes the unit, drop-ins and sysusers file; config and state stay."""
        root = installed_with_password(tmp_path)
        (root / STATE_DIR).mkdir(parents=True)
        (root / STATE_DIR / "outbox.db").write_bytes(b"rows")
        assert main(["uninstall-service", "--root", str(root)]) == 0
        for gone in (UNIT_PATH, CREDENTIALS_DROP_IN, SYSUSERS_PATH):
            assert not (root / gone).exists(), gone
        assert (root / CONFIG_PATH).exists()
        assert (root / CREDENTIAL_PATH).exists()
        assert (root / STATE_DIR / "outbox.db").read_bytes() == b"rows"

    def test_purge_removes_config_and_state_too(self, tmp_path: Path) -> None:
        """--purge leaves nothing of ours in the tree."""
        assert install(tmp_path) == 0
        (tmp_path / STATE_DIR).mkdir(parents=True)
        assert main(["uninstall-service", "--root", str(tmp_path), "--purge"]) == 0
        left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
        assert left == []
        assert not (tmp_path / CONFIG_DIR).exists()
        assert not (tmp_path / STATE_DIR).exists()
