"""Press gestures on a button: `single`, `double` and `long`, from its press/release changes.

A pure state machine over (pressed, now) with a deadline, like the filters: `feed` takes each change,
`due` fires what a timer decides (a single press once no second press came, a long press while held).
"""

from __future__ import annotations

from typing import Literal

Gesture = Literal["single", "double", "long"]


class GestureRecognizer:
    """Recognises gestures with `double_window` and `long_press` in seconds."""

    def __init__(self, double_window: float, long_press: float) -> None:
        self._double_window = double_window
        self._long_press = long_press
        self._pressed_at: float | None = None  # while held
        self._clicks = 0  # completed short presses waiting for a possible second one
        self._released_at = 0.0
        self._long_fired = False

    def feed(self, pressed: bool, now: float) -> list[Gesture]:
        """One change of the button; returns the gestures it completes."""
        if pressed:
            if self._pressed_at is None:
                self._pressed_at, self._long_fired = now, False
            return []
        if self._pressed_at is None:
            return []  # a release without a press (the state at start-up)
        held, self._pressed_at = now - self._pressed_at, None
        if self._long_fired or held >= self._long_press:
            fired, self._long_fired, self._clicks = self._long_fired, False, 0
            return [] if fired else ["long"]
        self._clicks += 1
        self._released_at = now
        if self._clicks == 2:
            self._clicks = 0
            return ["double"]
        return []

    def due(self, now: float) -> list[Gesture]:
        """A `long` once held long enough; a `single` once the double window closed."""
        if self._pressed_at is not None and not self._long_fired and now >= self._pressed_at + self._long_press:
            self._long_fired, self._clicks = True, 0
            return ["long"]
        if self._pressed_at is None and self._clicks == 1 and now >= self._released_at + self._double_window:
            self._clicks = 0
            return ["single"]
        return []

    def deadline(self) -> float | None:
        """When `due` next has something to decide."""
        if self._pressed_at is not None:
            return None if self._long_fired else self._pressed_at + self._long_press
        if self._clicks == 1:
            return self._released_at + self._double_window
        return None
