"""ExpanderWatch: one port read per INT edge, the final state after a burst, a slow bounded poll, errors survived.

The chips are register-level simulators behind the real smbus2; their INT output drives a gpiozero mock pin
whose level changes at once and whose edge callbacks run on the pin's own thread, as on a Pi.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise

import pytest
from gpiozero.pins.mock import MockFactory

from gateway.devices.expanders.mcp23x import Mcp23x
from gateway.devices.expanders.pcf857x import Pcf857x
from gateway.devices.expanders.port import Expander, ExpanderOutput
from gateway.devices.expanders.simulators import InterruptPin, SimulatedMcp23x, SimulatedPcf857x, wire_interrupt
from gateway.devices.expanders.watch import ExpanderWatch, interrupt_input
from gateway.devices.i2c.bus import I2cBus
from gateway.devices.i2c.simulators import SimulatedI2c
from tests.unit.devices.expanders.conftest import Reports, wait_until

ADDRESS, INT_PIN = 0x20, 17
PINS = {"mcp23017": ("A0", "B7"), "mcp23008": ("0", "7"), "pcf8574": ("P0", "P7"), "pcf8575": ("P00", "P17")}


def reported(count: int) -> Callable[[Reports], bool]:
    """`count` changes reported so far."""
    return lambda r: len(r.changes) >= count


@dataclass
class Rig:
    driver: Expander
    chip: SimulatedMcp23x | SimulatedPcf857x
    watch: ExpanderWatch


@pytest.fixture
def make_rig(
    bus: I2cBus, sim: SimulatedI2c, mock_factory: MockFactory, reports: Reports
) -> Iterator[Callable[..., Rig]]:
    """Build chip + driver + watcher (inputs `PINS[kind]`); every watcher is stopped at teardown."""
    watches: list[ExpanderWatch] = []

    def build(kind: str, *, wired: bool = True, poll_interval: float = 0.05, int_pin: bool | None = None) -> Rig:
        chip: SimulatedMcp23x | SimulatedPcf857x
        chip = SimulatedMcp23x(kind) if kind.startswith("mcp") else SimulatedPcf857x(kind)
        sim.chips[ADDRESS] = chip
        driver: Expander = Mcp23x(bus, ADDRESS, kind) if kind.startswith("mcp") else Pcf857x(bus, ADDRESS, kind)
        for pin in PINS[kind]:
            driver.setup_input(pin)
        interrupt = None
        if wired:
            wire_interrupt(chip, mock_factory, INT_PIN)
        if wired or int_pin:
            mock_factory.pin(INT_PIN, pin_class=InterruptPin)
            interrupt = interrupt_input(INT_PIN, mock_factory)
        watch = ExpanderWatch(
            driver, PINS[kind], reports.on_change, interrupt=interrupt, poll_interval=poll_interval,
            on_error=reports.on_error,
        )  # fmt: skip
        watches.append(watch)
        return Rig(driver, chip, watch)

    yield build
    for watch in watches:
        watch.stop()


class TestInterrupt:
    def test_one_edge_one_read(self, make_rig: Callable[..., Rig], sim: SimulatedI2c, reports: Reports) -> None:
        """An input change -> INT falls -> exactly one port read (one transaction) -> the new state reported."""
        rig = make_rig("mcp23017")
        assert rig.watch.start() == {"A0": True, "B7": True}
        sim.transactions.clear()
        rig.chip.set_input("B7", False)
        reports.wait(lambda r: r.last("B7") is False)
        rig.watch.stop()
        assert (sim.transactions[ADDRESS], reports.changes, rig.chip.int_level) == (1, [("B7", False)], True)

    @pytest.mark.parametrize("kind", list(PINS))
    def test_states_in_order(self, make_rig: Callable[..., Rig], reports: Reports, kind: str) -> None:
        """Changes on both pins (both ports of 16-pin chips) are reported once each, in the order they happened."""
        rig = make_rig(kind)
        rig.watch.start()
        first, last = PINS[kind]
        steps = [(first, False), (last, False), (first, True), (last, True)]
        for count, (pin, level) in enumerate(steps, 1):
            rig.chip.set_input(pin, level)
            reports.wait(reported(count))
        assert reports.changes == steps

    @pytest.mark.parametrize("kind", list(PINS))
    def test_burst_ends_at_the_final_state(self, make_rig: Callable[..., Rig], reports: Reports, kind: str) -> None:
        """1,001 toggles from a thread, faster than reads: the last state reported is the pin's final one."""
        rig = make_rig(kind)
        rig.watch.start()
        pin = PINS[kind][1]

        def burst() -> None:
            for i in range(1001):
                rig.chip.set_input(pin, i % 2 == 1)  # starts high: ends low

        toggler = threading.Thread(target=burst)
        toggler.start()
        toggler.join()
        reports.wait(lambda r: r.last(pin) is False)
        wait_until(lambda: rig.chip.int_level)  # the last INT served
        rig.watch.stop()
        assert (reports.last(pin), rig.watch.states[pin]) == (False, False)
        levels = [level for name, level in reports.changes if name == pin]
        assert all(a != b for a, b in pairwise(levels))  # every report is a change

    def test_short_press_is_reported(
        self, make_rig: Callable[..., Rig], mock_factory: MockFactory, reports: Reports
    ) -> None:
        """A press released before the read is still reported (INTCAP), then the release (GPIO)."""
        rig = make_rig("mcp23017", wired=False, int_pin=True)
        rig.watch.start()
        rig.chip.set_input("A0", False)
        rig.chip.set_input("A0", True)
        line = mock_factory.pin(INT_PIN)
        line.drive_low()  # the INT edge, served late
        line.drive_high()
        reports.wait(lambda r: len(r.changes) == 2)
        assert reports.changes == [("A0", False), ("A0", True)]

    def test_int_stuck_low_is_bounded(
        self, make_rig: Callable[..., Rig], mock_factory: MockFactory, sim: SimulatedI2c, reports: Reports
    ) -> None:
        """INT held low with nothing changing: max_reads reads, one error, then one read per period until released."""
        rig = make_rig("mcp23017", wired=False, int_pin=True, poll_interval=0.05)
        rig.watch.start()
        sim.transactions.clear()
        line = mock_factory.pin(INT_PIN)
        line.drive_low()
        reports.wait(lambda r: len(r.errors) == 1)
        assert str(reports.errors[0]) == "mcp23017 0x20: INT stays low with no input change"
        assert sim.transactions[ADDRESS] >= rig.watch.max_reads
        reads = rig.watch.reads
        wait_until(lambda: rig.watch.reads > reads)  # the slow retry goes on while INT is low
        line.drive_high()
        sim.transactions.clear()
        threading.Event().wait(0.3)  # absence: at most the retry already due, then nothing
        assert (sim.transactions[ADDRESS] <= 1, len(reports.errors), reports.changes) == (True, 1, [])

    def test_idle_costs_nothing(self, make_rig: Callable[..., Rig], sim: SimulatedI2c) -> None:
        """With INT wired and nothing changing, the watcher makes no I2C transaction at all."""
        rig = make_rig("mcp23017")
        rig.watch.start()
        sim.transactions.clear()
        threading.Event().wait(0.3)  # asserting an absence: a short fixed window
        assert sim.transactions[ADDRESS] == 0

    def test_pcf_write_does_not_hide_an_input_change(
        self, make_rig: Callable[..., Rig], mock_factory: MockFactory, reports: Reports
    ) -> None:
        """A PCF857x write clears INT: the watcher reads after every write, so the input change is reported."""
        rig = make_rig("pcf8574", wired=False, int_pin=True)  # INT never reaches the Pi: only the write tells
        rig.watch.start()
        rig.chip.set_input("P0", False)
        relay = ExpanderOutput(rig.driver, "P3", active_high=False)
        relay.on()
        assert rig.chip.int_level is True
        assert reports.last("P0") is False

    def test_stop_detaches(self, make_rig: Callable[..., Rig], sim: SimulatedI2c, reports: Reports) -> None:
        """After stop() no read and no report happen; the worker thread is joined."""
        rig = make_rig("mcp23008")
        rig.watch.start()
        rig.watch.stop()
        sim.transactions.clear()
        rig.chip.set_input("0", False)
        threading.Event().wait(0.1)
        assert (sim.transactions[ADDRESS], reports.changes) == (0, [])
        assert not [t for t in threading.enumerate() if t.name == f"expander-{ADDRESS:02x}"]


class TestPoll:
    def test_default_period_is_slow(self, make_rig: Callable[..., Rig]) -> None:
        """Without INT the default poll period is 0.5 s."""
        rig = make_rig("pcf8574", wired=False)
        assert ExpanderWatch(rig.driver, ["P0"], lambda *_: None).poll_interval == 0.5

    def test_poll_finds_a_change(self, make_rig: Callable[..., Rig], reports: Reports) -> None:
        """With no INT pin a change is found by the poll thread."""
        rig = make_rig("pcf8575", wired=False, poll_interval=0.05)
        rig.watch.start()
        rig.chip.set_input("P17", False)
        reports.wait(lambda r: r.last("P17") is False)

    def test_poll_costs_one_transaction_per_period(self, make_rig: Callable[..., Rig], sim: SimulatedI2c) -> None:
        """Polling every 0.1 s makes at most window / period + 1 transactions: never a tight loop."""
        rig = make_rig("mcp23017", wired=False, poll_interval=0.1)
        rig.watch.start()
        sim.transactions.clear()
        threading.Event().wait(0.5)
        assert sim.transactions[ADDRESS] <= 0.5 / 0.1 + 1


class TestErrors:
    @pytest.mark.parametrize("wired", [True, False])
    def test_nack_is_reported_and_survived(
        self, make_rig: Callable[..., Rig], sim: SimulatedI2c, reports: Reports, wired: bool
    ) -> None:
        """A NACK during a read reaches on_error as a DeviceError; the watcher retries and reports the change."""
        rig = make_rig("mcp23017", wired=wired, poll_interval=0.05)
        rig.watch.start()
        sim.fail(ADDRESS)
        rig.chip.set_input("A0", False)
        reports.wait(lambda r: r.last("A0") is False)
        assert [str(e) for e in reports.errors] == ["i2c-1 0x20: EREMOTEIO (the device did not acknowledge (NACK): "
                                                    "check wiring, address and power)"]  # fmt: skip
        assert rig.watch.errors == 1
