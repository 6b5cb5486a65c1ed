"""The gateway-wide `seq` counter, persisted so it keeps increasing across restarts.

Writing the counter per reading would cost an fsync each; instead a block of numbers is reserved ahead
(`next + block` is written durably) and the exact next value is written at a clean stop. After a crash
the counter resumes at the reserved mark, so `seq` never repeats; the gap only follows a crash.
"""

from __future__ import annotations

import os
from pathlib import Path

from gateway.errors import StateError

SEQ_FILE = "seq"


class SequenceCounter:
    """Hands out increasing integers, durable across restarts and crashes."""

    def __init__(self, state_dir: Path, block: int = 1000) -> None:
        self._path = state_dir / SEQ_FILE
        self._block = block
        self._next = self._load()
        self._reserved = self._next
        self._reserve()

    @property
    def next_value(self) -> int:
        """The value the next call to `take` returns."""
        return self._next

    def take(self) -> int:
        """The next sequence number."""
        if self._next >= self._reserved:
            self._reserve()
        value = self._next
        self._next += 1
        return value

    def close(self) -> None:
        """Record the exact next value, so a clean restart leaves no gap."""
        self._write(self._next)
        self._reserved = self._next

    def _load(self) -> int:
        try:
            text = self._path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return 1
        except OSError as exc:
            raise StateError(f"cannot read {self._path}: {exc.strerror}") from exc
        if not text.isdigit():
            raise StateError(f"{self._path} does not hold a sequence number: {text[:20]!r}")
        return max(int(text), 1)

    def _reserve(self) -> None:
        self._reserved = self._next + self._block
        self._write(self._reserved)

    def _write(self, value: int) -> None:
        tmp = self._path.with_suffix(".tmp")
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w", encoding="ascii") as handle:
                handle.write(f"{value}\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._path)
        except OSError as exc:
            raise StateError(f"cannot write {self._path}: {exc.strerror}") from exc
