"""A recorder of watcher reports and a two-thread toggler (the simulated adapter and its bus come from
tests/unit/devices/conftest.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from gateway.devices.expanders.port import ExpanderOutput
from gateway.errors import DeviceError

WAIT = 20.0  # generous: the events come in milliseconds, but CI is a loaded 2-core machine


class Reports:
    """Collects `on_change(pin, level, timestamp)` and `on_error(exc)` calls; tests wait on them."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, bool]] = []
        self.errors: list[DeviceError] = []
        self._condition = threading.Condition()

    def on_change(self, pin: str, level: bool, timestamp: float) -> None:
        with self._condition:
            self.changes.append((pin, level))
            self._condition.notify_all()

    def on_error(self, exc: DeviceError) -> None:
        with self._condition:
            self.errors.append(exc)
            self._condition.notify_all()

    def last(self, pin: str) -> bool | None:
        """The last level reported for `pin` (None if none)."""
        with self._condition:
            return next((level for name, level in reversed(self.changes) if name == pin), None)

    def wait(self, predicate: Callable[[Reports], bool], timeout: float = WAIT) -> None:
        """Block until `predicate(self)` holds (checked on every report); fail after `timeout`."""
        with self._condition:
            assert self._condition.wait_for(lambda: predicate(self), timeout), (self.changes, self.errors)


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    """Poll a condition no callback announces (a chip's INT level), every 5 ms."""
    done = threading.Event()
    for _ in range(int(timeout / 0.005)):
        if predicate():
            return
        done.wait(0.005)
    raise AssertionError("condition not reached")


@pytest.fixture
def reports() -> Reports:
    return Reports()


def toggle_at_once(outputs: dict[str, ExpanderOutput], times: int = 300) -> dict[str, bool]:
    """Switch each output on, off, on... `times` times, each from a thread of its own, all at once; returns the
    state each was last commanded to."""
    commanded: dict[str, bool] = {}

    def toggle(pin: str) -> None:
        for i in range(times):
            (outputs[pin].on if i % 2 == 0 else outputs[pin].off)()
            commanded[pin] = i % 2 == 0

    threads = [threading.Thread(target=toggle, args=(pin,)) for pin in outputs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return commanded
