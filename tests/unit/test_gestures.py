"""Press gestures from press/release changes on a fake clock: single, double, long."""

from __future__ import annotations

import pytest

from gateway.gestures import GestureRecognizer


def run(changes: list[tuple[float, bool]], until: float) -> list[tuple[float, str]]:
    """Feed (second, pressed) changes, firing the recogniser's deadlines on time; (second, gesture) out."""
    recognizer = GestureRecognizer(double_window=0.4, long_press=0.8)
    out: list[tuple[float, str]] = []

    def fire_until(t: float) -> None:
        while (deadline := recognizer.deadline()) is not None and deadline <= t:
            out.extend((deadline, g) for g in recognizer.due(deadline))

    for second, pressed in changes:
        fire_until(second)
        out.extend((second, g) for g in recognizer.feed(pressed, second))
    fire_until(until)
    return out


CASES: dict[str, tuple[list[tuple[float, bool]], list[tuple[float, str]]]] = {
    "single: a short press, then nothing within the double window": (
        [(0, True), (0.1, False)],
        [(0.5, "single")],
    ),
    "double: two short presses within the window": (
        [(0, True), (0.1, False), (0.3, True), (0.4, False)],
        [(0.4, "double")],
    ),
    "two singles: the second press comes too late": (
        [(0, True), (0.1, False), (1.0, True), (1.1, False)],
        [(0.5, "single"), (1.5, "single")],
    ),
    "long: fired while still held, the release adds nothing": (
        [(0, True), (2.0, False)],
        [(0.8, "long")],
    ),
    "a release at start-up (no press seen) is nothing": (
        [(0, False)],
        [],
    ),
    "repeated pressed states are one press": (
        [(0, True), (0.05, True), (0.1, False)],
        [(0.5, "single")],
    ),
    "a triple press is a double, then a single": (
        [(0, True), (0.1, False), (0.2, True), (0.3, False), (0.4, True), (0.5, False)],
        [(0.3, "double"), (0.9, "single")],
    ),
}


class TestGestures:
    @pytest.mark.parametrize("name", list(CASES))
    def test_table(self, name: str) -> None:
        """Each press pattern gives the gestures at the times shown."""
        changes, expected = CASES[name]
        got = run(changes, until=5)
        assert [g for _, g in got] == [g for _, g in expected]
        assert [t for t, _ in got] == pytest.approx([t for t, _ in expected])
