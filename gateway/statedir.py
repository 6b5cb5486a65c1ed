"""Where the gateway keeps its state, and the lock that makes it one gateway's (README: state directory)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Mapping
from pathlib import Path

from gateway.errors import StateError

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


LOCK_FILE = "gateway.lock"


class StateDirLock:
    """One gateway per state directory: an exclusive `flock` on `<state dir>/gateway.lock`, holding our PID.

    The kernel releases the lock when the process dies, so a `kill -9` never leaves a stale lock behind.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise StateError naming the process that holds it."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise StateError(f"cannot open the lock file {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StateError(
                f"another gateway (PID {holder}) is running on the state directory {self.path.parent}; "
                "stop it first, or give this one its own gateway.state_dir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Let go of the lock (the file stays; its content is only informative)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
