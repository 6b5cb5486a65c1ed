"""Where the gateway keeps its state (DESIGN.md: Names, state directory)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

SYSTEM_STATE_DIR = Path("/var/lib/pi-mqtt-gateway")


def resolve_state_dir(configured: Path | None, environ: Mapping[str, str] | None = None) -> Path:
    """`gateway.state_dir`, else `$STATE_DIRECTORY` (systemd), else /var/lib/... when writable, else ~/.local."""
    environ = os.environ if environ is None else environ
    if configured is not None:
        return configured
    if environ.get("STATE_DIRECTORY"):
        # systemd passes a colon-separated list when the unit names several directories.
        return Path(environ["STATE_DIRECTORY"].split(":")[0])
    if _writable(SYSTEM_STATE_DIR):
        return SYSTEM_STATE_DIR
    home = Path(environ.get("HOME") or Path.home())
    return Path(environ.get("XDG_STATE_HOME") or home / ".local" / "state") / "pi-mqtt-gateway"


def _writable(path: Path) -> bool:
    if path.exists():
        return os.access(path, os.W_OK | os.X_OK)
    return os.access(path.parent, os.W_OK | os.X_OK)
