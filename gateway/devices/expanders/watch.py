"""The input side of an expander for the gateway: report each input pin's changes, by INT edge or slow poll.

With an INT pin wired (a gpiozero `DigitalInputDevice(pin, pull_up=True)`: the expander's INT is open-drain,
active low), each falling edge is served on gpiozero's thread by ONE port read (one I2C transaction), which
also clears INT. If INT is still low after the read (an input changed again meanwhile) the port is read again,
at most `max_reads` times, then every `poll_interval` until it is released. Any input change after a read
re-asserts INT, so the last state reported for a pin is always its final state. Idle, nothing touches the bus.

With no INT pin, a thread reads the port every `poll_interval` seconds (0.5 s by default): a change shows up
within one period, at one transaction per period.

A read that fails (a NACK, a bus timeout) is counted in `errors`, handed to `on_error`, and retried (one read
per `poll_interval`) until a read succeeds and INT is released: a glitch on the bus never leaves INT stuck low.
INT staying low while no input changes (a shorted line) is reported once, then retried the same slow way.

`on_change(pin, level, epoch_seconds)` runs on gpiozero's thread, the poll thread, or (PCF857x) the thread
that wrote an output; calls are serialised and in order. It should only hand the change over
(`loop.call_soon_threadsafe`). Levels are electrical (True = high).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import gpiozero

from gateway.devices.expanders.port import Expander
from gateway.errors import DeviceError

ChangeCallback = Callable[[str, bool, float], None]
ErrorCallback = Callable[[DeviceError], None]


def interrupt_input(pin: int | str, factory: Any = None) -> Any:
    """The Pi pin an expander's INT is wired to: an input with the pull-up its open-drain output needs."""
    try:
        return gpiozero.DigitalInputDevice(pin, pull_up=True, pin_factory=factory)
    except Exception as exc:
        raise DeviceError(f"expander INT pin {pin}: cannot set up: {exc}") from exc


class ExpanderWatch:
    """Watches `pins` (inputs already set up) of `expander`; see the module docstring."""

    def __init__(
        self,
        expander: Expander,
        pins: Iterable[str],
        on_change: ChangeCallback,
        *,
        interrupt: Any = None,
        poll_interval: float = 0.5,
        on_error: ErrorCallback | None = None,
        max_reads: int = 8,
    ) -> None:
        if poll_interval <= 0 or max_reads < 1:
            raise DeviceError("expander watch: poll_interval must be > 0 and max_reads >= 1")
        self.expander, self.pins = expander, tuple(pins)
        unknown = [pin for pin in self.pins if pin not in expander.pins]
        if unknown:
            raise DeviceError(f"{expander.chip} 0x{expander.address:02x}: no pin(s) {', '.join(unknown)}")
        self.interrupt, self.poll_interval, self.max_reads = interrupt, poll_interval, max_reads
        self._on_change, self._on_error = on_change, on_error
        self.reads = 0  # successful port reads
        self.errors = 0  # failed ones (and INT stuck after max_reads)
        self.last_error: DeviceError | None = None
        self._reported: dict[str, bool] = {}
        self._lock = threading.RLock()  # one read-and-report at a time, so reports stay in order
        self._stopping = threading.Event()
        self._retry = threading.Event()  # INT mode: a read failed, the worker retries until it succeeds
        self._thread: threading.Thread | None = None
        self._stuck = False  # INT low with nothing changing: reported once

    def start(self) -> dict[str, bool]:
        """Read the pins once (DeviceError if that fails), start watching, and return their levels now.

        The INT callback is attached before the first read: an edge in between is served after it.
        """
        with self._lock:
            if self._thread is not None:
                raise DeviceError("expander watch: already started")
            self._stopping.clear()
            self._retry.clear()
            if self.interrupt is not None:
                self.interrupt.when_activated = self._serve
            try:
                snapshot = self.expander.read_port()
            except DeviceError:
                self._detach()
                raise
            self.reads += 1
            self._reported = {pin: snapshot.levels[pin] for pin in self.pins}
            self.expander.add_write_listener(self._after_write)
            self._thread = threading.Thread(target=self._work, name=f"expander-{self.expander.address:02x}")
            self._thread.start()
            initial = dict(self._reported)
        if self.interrupt is not None and self.interrupt.is_active:
            self._serve()  # INT went low before the callback was attached: no edge will come
        return initial

    def stop(self) -> None:
        """Detach the INT callback, stop and join the worker; no report starts after this returns. Idempotent."""
        self._stopping.set()
        self._retry.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._detach()
        self.expander.remove_write_listener(self._after_write)
        if thread is not threading.current_thread():
            thread.join()
        with self._lock:  # wait for a read in progress on another thread to finish
            pass

    def _detach(self) -> None:
        if self.interrupt is not None:
            self.interrupt.when_activated = None

    @property
    def states(self) -> dict[str, bool]:
        """The last level reported (or read at start) for each watched pin."""
        with self._lock:
            return dict(self._reported)

    def _work(self) -> None:
        """Poll mode: read every period. INT mode: sleep until a failed read needs retrying."""
        while not self._stopping.is_set():
            if self.interrupt is not None and not self._retry.is_set():
                self._retry.wait()  # set by a failure or by stop()
                continue
            if self._stopping.wait(self.poll_interval):
                return
            self._retry.clear()
            self._serve(reads=1)  # one read per period, never a burst

    def _after_write(self) -> None:
        """An output write on the chip (PCF857x) may have cleared INT over an input change: read again."""
        if not self._stopping.is_set():
            self._serve()

    def _serve(self, reads: int | None = None) -> None:
        """Read the port; with INT wired, again while INT stays low (bounded, then the worker takes over)."""
        for _ in range(reads or self.max_reads):
            changes = self._scan()
            if changes is None:
                self._retry.set()
                return
            if self.interrupt is None or not self.interrupt.is_active or self._stopping.is_set():
                self._stuck = False
                return
        # A busy input keeps re-asserting INT (each time with a new edge): not an error. INT low while the
        # port does not change is one (a stuck line, another chip on it): said once, then retried slowly.
        if changes == 0 and not self._stuck:
            self._stuck = True
            self._fail(DeviceError(f"{self._where()}: INT stays low with no input change"))
        self._retry.set()

    def _scan(self) -> int | None:
        """One port read; report what changed, the captured level first. The number of reports, None on failure."""
        with self._lock:
            if self._stopping.is_set():
                return 0
            try:
                snapshot = self.expander.read_port()
            except DeviceError as exc:
                self._fail(exc)
                return None
            self.reads += 1
            now = time.time()
            changes = 0
            for pin in self.pins:
                captured = snapshot.captured.get(pin)
                if captured is not None:
                    changes += self._report(pin, captured, now)  # a change that may have gone since (a short press)
                changes += self._report(pin, snapshot.levels[pin], now)
            return changes

    def _report(self, pin: str, level: bool, now: float) -> int:
        if self._reported[pin] == level:
            return 0
        self._reported[pin] = level
        self._on_change(pin, level, now)
        return 1

    def _fail(self, exc: DeviceError) -> None:
        with self._lock:
            self.errors += 1
            self.last_error = exc
            if self._on_error is not None:
                self._on_error(exc)

    def _where(self) -> str:
        return f"{self.expander.chip} 0x{self.expander.address:02x}"
