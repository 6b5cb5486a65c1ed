"""Expander pins as inputs and outputs of the gateway: one hub per expander, shared by its pins.

An input on an expander behaves as one on a Pi pin: it reports its state at start, then every change (from one
port read per INT edge, or a slow poll without INT), on a thread the sampler's edge bridge already handles; after
a burst the last report equals the pin's final state (the watcher reads again until nothing changed). An output
is set at its initial state before it becomes an output, and writes the latch by read-modify-write under the bus
lock, so two outputs of one chip never undo each other. Hubs are kept per process by (adapter, bus, address): a
reload that reopens the inputs while the outputs stay finds the same chip.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

from gateway.config import ExpanderConfig, PinInput, SwitchOutputBase
from gateway.devices.expanders import Expander, ExpanderOutput, ExpanderWatch, interrupt_input, open_expander
from gateway.devices.expanders.mcp23x import MCP23008_ALIASES
from gateway.devices.hardware import Hardware
from gateway.errors import DeviceError

log = structlog.get_logger(component="expanders")
ERROR_LOG_INTERVAL = 60.0  # seconds between log lines about one expander's failed reads
OnChange = Callable[[bool, float], None]  # (active, epoch seconds), as EdgeInput's callbacks
_HUBS: dict[tuple[object, ...], ExpanderHub] = {}
_HUBS_LOCK = threading.Lock()


class ExpanderHub:
    """One opened expander: its bus, its driver, and the watcher of its inputs (made when the first starts)."""

    def __init__(self, config: ExpanderConfig, hardware: Hardware, key: tuple[object, ...]) -> None:
        self.config, self._hardware, self._key = config, hardware, key
        self._bus = hardware.i2c_bus(config.bus)
        try:
            self.chip: Expander = open_expander(config.chip, self._bus, config.address)
        except BaseException:
            self._bus.close()
            raise
        self._inputs: dict[str, OnChange] = {}  # pin -> its callback, once started
        self._levels_to_active: dict[str, bool] = {}  # pin -> the level that means active
        self._watch: ExpanderWatch | None = None
        self._interrupt: Any = None
        self._lock = threading.Lock()
        self._last_error_log = -ERROR_LOG_INTERVAL
        self.users = 0

    def adopt(self, config: ExpanderConfig) -> None:
        """A reload changed this expander's settings (its INT pin, its poll): the next watcher uses them."""
        self.config = config

    def add_input(self, pin: str, *, pull_up: bool, active_level: bool) -> None:
        """Make `pin` an input (before the watcher starts)."""
        self.chip.setup_input(pin, pull_up=pull_up)
        self._levels_to_active[pin] = active_level

    def start_input(self, pin: str, on_change: OnChange) -> bool:
        """Report `pin`'s changes to `on_change` (active, ts) from now on; return whether it is active now.

        DeviceError when the watcher cannot start (the chip does not answer): nothing is left held.
        """
        with self._lock:
            if self._watch is None:
                self._watch = self._start_watch()
            self._inputs[pin] = on_change
            return self._watch.states[pin] == self._levels_to_active[pin]

    def read_input(self, pin: str) -> bool:
        """Whether `pin` is active now (the watcher's view once it runs, else one read of the port)."""
        level = self._watch.states[pin] if self._watch is not None else self.chip.read_port().levels[pin]
        return level == self._levels_to_active[pin]

    def stop_input(self, pin: str) -> None:
        """`pin` is closed: no more reports; the last input stops the watcher."""
        with self._lock:
            self._inputs.pop(pin, None)
            self._levels_to_active.pop(pin, None)
            if not self._levels_to_active and self._watch is not None:
                self._stop_watch()

    def _start_watch(self) -> ExpanderWatch:
        if self.config.interrupt_pin is not None:
            self._interrupt = interrupt_input(self.config.interrupt_pin, self._hardware.pin_factory)
        watch = ExpanderWatch(
            self.chip,
            list(self._levels_to_active),
            self._changed,
            interrupt=self._interrupt,
            poll_interval=self.config.poll_interval,
            on_error=self._failed,
        )
        try:
            watch.start()
        except BaseException:
            if self._interrupt is not None:  # the INT pin must not stay held for a retry
                self._interrupt.close()
                self._interrupt = None
            raise
        return watch

    def _failed(self, error: DeviceError) -> None:
        # On the watcher's thread: it retries slowly by itself; say so, at most once a minute per chip.
        now = time.monotonic()
        if now - self._last_error_log >= ERROR_LOG_INTERVAL:
            self._last_error_log = now
            log.warning("expander read failed", expander=self.config.id, error=str(error))

    def _stop_watch(self) -> None:
        assert self._watch is not None  # noqa: S101 - only called while one runs
        self._watch.stop()
        self._watch = None
        if self._interrupt is not None:
            self._interrupt.close()
            self._interrupt = None

    def _changed(self, pin: str, level: bool, timestamp: float) -> None:
        # On the watcher's thread (gpiozero's for an INT edge): hand over as a Pi pin's edge would be.
        callback = self._inputs.get(pin)
        if callback is not None and pin in self._levels_to_active:
            callback(level == self._levels_to_active[pin], timestamp)

    def close(self) -> None:
        """Stop the watcher and close the bus (the outputs' latch stays as it is: no relay drops)."""
        with self._lock:
            if self._watch is not None:
                self._stop_watch()
        self._bus.close()


def acquire(config: ExpanderConfig, hardware: Hardware) -> ExpanderHub:
    """The hub of `config`'s chip (opened on first use), with one more user."""
    key = (id(hardware.simulated_i2c), config.bus, config.address)
    with _HUBS_LOCK:
        hub = _HUBS.get(key)
        if hub is None or hub.config.chip != config.chip:
            hub = _HUBS[key] = ExpanderHub(config, hardware, key)
        elif hub.config != config:
            hub.adopt(config)  # a reload reopens the inputs while the outputs hold the chip
        hub.users += 1
        return hub


def release(hub: ExpanderHub) -> None:
    """One user fewer; the last one closes the hub."""
    with _HUBS_LOCK:
        hub.users -= 1
        if hub.users > 0:
            return
        if _HUBS.get(hub._key) is hub:  # noqa: SLF001 - the pool owns its hubs' keys
            del _HUBS[hub._key]  # noqa: SLF001
    hub.close()


class ExpanderInput:
    """A binary input on an expander pin, with EdgeInput's shape: `start`, `read`, `close`."""

    def __init__(self, config: PinInput, expander: ExpanderConfig, hardware: Hardware) -> None:
        self.config = config
        self._pin = chip_pin(expander.chip, str(config.pin))
        self._hub = acquire(expander, hardware)
        # Pulled up: a button to ground is active low; a floating pin says which level is active.
        active_level = config.active_state == "high" if config.pull == "none" else False
        try:
            self._hub.add_input(self._pin, pull_up=config.pull == "up", active_level=active_level)
        except BaseException:
            release(self._hub)
            raise

    def start(self, on_change: OnChange) -> bool:
        """Report changes to `on_change(active, epoch seconds)` from the watcher's thread; the state now."""
        return self._hub.start_input(self._pin, on_change)

    def read(self) -> bool:
        """The input's state now."""
        return self._hub.read_input(self._pin)

    def close(self) -> None:
        """Stop reporting; the last pin of the chip releases it."""
        self._hub.stop_input(self._pin)
        release(self._hub)


class ExpanderSwitch:
    """An on/off output on an expander pin, with gpiozero's DigitalOutputDevice shape for OutputDriver."""

    def __init__(self, config: SwitchOutputBase, expander: ExpanderConfig, hardware: Hardware) -> None:
        self._hub = acquire(expander, hardware)
        try:
            pin = chip_pin(expander.chip, str(config.pin))
            self._output = ExpanderOutput(
                self._hub.chip, pin, active_high=config.active_high, initial=config.initial == "ON"
            )
        except BaseException:
            release(self._hub)
            raise
        self._closed = False

    @property
    def value(self) -> int:
        """1 when on."""
        return self._output.value

    def on(self) -> None:
        """Switch on."""
        self._output.on()

    def off(self) -> None:
        """Switch off."""
        self._output.off()

    def close(self) -> None:
        """Leave the latch as it is and release the chip (idempotent)."""
        if not self._closed:
            self._closed = True
            release(self._hub)


def chip_pin(chip: str, name: str) -> str:
    """The driver's name of a configured pin (the config says GP3 for an MCP23008's bit 3, the driver 3)."""
    return MCP23008_ALIASES.get(name, name) if chip == "mcp23008" else name


def expander_of(config: PinInput | SwitchOutputBase, expanders: tuple[ExpanderConfig, ...]) -> ExpanderConfig:
    """The [[expanders]] entry a pin names (the config checked that it exists)."""
    for expander in expanders:
        if expander.id == config.expander:
            return expander
    raise DeviceError(f"{config.pin!r}: expander {config.expander!r} is not configured")
