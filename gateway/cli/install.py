"""Installing the gateway as a systemd service: unit, sysusers entry, config directory and credentials.

`scripts/install-service` makes the virtualenv (/opt/pi-mqtt-gateway/venv) and calls `install-service` from
it, so the unit's ExecStart is the `pi-mqtt-gateway` of the interpreter running this code. With `--root DIR`
every file goes under DIR (DESTDIR-style) and nothing is run: no sysusers, no chown, no systemctl.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from gateway.errors import GatewayError

SERVICE = "pi-mqtt-gateway"
UNIT_PATH = Path("etc/systemd/system") / f"{SERVICE}.service"
DROP_IN_DIR = Path("etc/systemd/system") / f"{SERVICE}.service.d"
CREDENTIALS_DROP_IN = DROP_IN_DIR / "credentials.conf"
SYSUSERS_PATH = Path("etc/sysusers.d") / f"{SERVICE}.conf"
CONFIG_DIR = Path("etc") / SERVICE
CONFIG_PATH = CONFIG_DIR / "config.toml"
CREDENTIAL_PATH = CONFIG_DIR / "credentials" / "mqtt_password"
STATE_DIR = Path("var/lib") / SERVICE
SHIPPED_EXEC = "/opt/pi-mqtt-gateway/venv/bin/pi-mqtt-gateway"


class InstallError(GatewayError):
    """Installing or removing the service failed (a file could not be written, a command failed)."""


@dataclass(frozen=True)
class InstallOptions:
    """What `install-service` was asked to do."""

    root: Path = Path("/")
    password_file: Path | None = None
    start: bool = True


def executable() -> Path:
    """The `pi-mqtt-gateway` script of the running interpreter's environment (the venv we are installed in)."""
    return Path(sys.prefix) / "bin" / SERVICE


def render_unit(exec_path: Path) -> str:
    """The shipped unit with ExecStart pointing at `exec_path`."""
    text = _shipped("pi-mqtt-gateway.service")
    if SHIPPED_EXEC not in text:
        raise InstallError(f"the shipped unit has no ExecStart={SHIPPED_EXEC} to point at {exec_path}")
    return text.replace(SHIPPED_EXEC, str(exec_path))


def credentials_drop_in() -> str:
    """A drop-in that hands the password file to the service as `$CREDENTIALS_DIRECTORY/mqtt_password`."""
    return (
        "# Written by `pi-mqtt-gateway install-service --password-file`: systemd reads the file as root and\n"
        "# gives the service a private copy; the gateway user never needs to read /etc/pi-mqtt-gateway/credentials.\n"
        "[Service]\n"
        f"LoadCredential=mqtt_password:/{CREDENTIAL_PATH}\n"
    )


def install(options: InstallOptions) -> list[str]:
    """Put every file in place (never overwriting a config), then enable the service; return what was done."""
    root, done = options.root, list[str]()
    real = root == Path("/")
    exec_path = executable()
    if not exec_path.exists():
        raise InstallError(f"{exec_path} does not exist: run this from the gateway's virtualenv")
    _write(root / UNIT_PATH, render_unit(exec_path), 0o644, done)
    _write(root / SYSUSERS_PATH, _shipped("pi-mqtt-gateway.sysusers"), 0o644, done)
    _make_dir(root / CONFIG_DIR, 0o750, done)
    if (root / CONFIG_PATH).exists():
        done.append(f"kept {root / CONFIG_PATH} (an existing config is never overwritten)")
    else:
        _write(root / CONFIG_PATH, _shipped("config.example.toml"), 0o640, done)
    if options.password_file is not None:
        _install_password(options.password_file, root, done)
    if (root / CREDENTIAL_PATH).exists():
        _write(root / CREDENTIALS_DROP_IN, credentials_drop_in(), 0o644, done)
    if not real:
        done.append("skipped systemd-sysusers, chown and systemctl (--root)")
        return done
    _run(["systemd-sysusers", str(root / SYSUSERS_PATH)])
    # The service user reads its config through the group; root keeps ownership.
    for path in (root / CONFIG_DIR, root / CONFIG_PATH):
        shutil.chown(path, user="root", group=SERVICE)
    _run(["systemctl", "daemon-reload"])
    _run(["systemctl", "enable", *(["--now"] if options.start else []), f"{SERVICE}.service"])
    done.append(f"enabled {SERVICE}.service" + (" and started it" if options.start else ""))
    return done


def uninstall(root: Path = Path("/"), *, purge: bool = False) -> list[str]:
    """Stop and remove the service; keep config and state unless `purge`. Return what was done."""
    done: list[str] = []
    real = root == Path("/")
    if real and (root / UNIT_PATH).exists():
        _run(["systemctl", "disable", "--now", f"{SERVICE}.service"])
        done.append(f"stopped and disabled {SERVICE}.service")
    for path in (root / UNIT_PATH, root / SYSUSERS_PATH):
        if path.exists():
            path.unlink()
            done.append(f"removed {path}")
    removable = [root / DROP_IN_DIR] + ([root / CONFIG_DIR, root / STATE_DIR] if purge else [])
    for directory in removable:
        if directory.exists():
            shutil.rmtree(directory)
            done.append(f"removed {directory}")
    if not purge:
        done.append(f"kept {root / CONFIG_DIR} and {root / STATE_DIR} (--purge removes them)")
    if real:
        _run(["systemctl", "daemon-reload"])
    return done


def _install_password(source: Path, root: Path, done: list[str]) -> None:
    try:
        secret = source.read_bytes()
    except OSError as exc:
        raise InstallError(f"cannot read the password file {source}: {exc.strerror}") from exc
    _make_dir((root / CREDENTIAL_PATH).parent, 0o700, done)
    _write_bytes(root / CREDENTIAL_PATH, secret, 0o600)
    done.append(f"wrote {root / CREDENTIAL_PATH} (mode 600, root only)")


def _shipped(name: str) -> str:
    return resources.files("gateway").joinpath(f"data/{name}").read_text(encoding="utf-8")


def _make_dir(path: Path, mode: int, done: list[str]) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(mode)
    except OSError as exc:
        raise InstallError(f"cannot create {path}: {exc.strerror}") from exc
    done.append(f"made {path} (mode {mode:o})")


def _write(path: Path, text: str, mode: int, done: list[str]) -> None:
    _write_bytes(path, text.encode("utf-8"), mode)
    done.append(f"wrote {path} (mode {mode:o})")


def _write_bytes(path: Path, data: bytes, mode: int) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)  # never readable by others, not even for a moment
        path.chmod(0o600)
        path.write_bytes(data)
        path.chmod(mode)
    except OSError as exc:
        raise InstallError(f"cannot write {path}: {exc.strerror}") from exc


def _run(argv: list[str]) -> None:
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise InstallError(f"{argv[0]} not found: is this a systemd machine?") from exc
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip()
        raise InstallError(f"`{' '.join(argv)}` failed ({result.returncode}): {output}")
